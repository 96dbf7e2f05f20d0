/**
 * TLS files named by a configuration (restapi certfile/keyfile/cafile, ctl cacert/certfile/keyfile,
 * etcd cacert/cert/key): read them, and check that node's TLS can use them together.
 *
 * One module for both moments: the loader calls `tlsFilesProblem` so that a missing, unreadable
 * or mismatched file is a one-line ConfigError naming its key before anything starts; the REST
 * server and the clients call `readTlsMaterial` when they start (a file may have changed since).
 * As in Patroni (Python's load_cert_chain, urllib3's cert_file), a certificate without a key file
 * must hold its private key itself.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** Paths of the files of one TLS endpoint (server or client); all optional. */
export interface TlsFiles {
  /** CA bundle that the peer's certificate is verified against (absent = the system's CAs). */
  ca?: string | undefined;
  /** Own certificate (chain); also the key when `key` is absent. */
  cert?: string | undefined;
  key?: string | undefined;
  /** Password of an encrypted key. */
  passphrase?: string | undefined;
}

/** The contents, ready for node:tls options (`ca`, `cert`, `key`, `passphrase`). */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
}

export type TlsFileRole = 'ca' | 'cert' | 'key';

/** A file that cannot be used; `role` says which of the TlsFiles is at fault. */
export class TlsFileError extends Error {
  constructor(
    readonly role: TlsFileRole,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'TlsFileError';
  }
}

function read(role: TlsFileRole, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? String(error));
    throw new TlsFileError(role, path, `cannot read ${path}: ${why}`);
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** OpenSSL's words for the usual mistakes, translated. */
function likelyCause(error: unknown): string {
  const text = firstLine(error);
  if (/bad decrypt|bad password/i.test(text)) return ' (wrong or missing key password)';
  if (/key values mismatch/i.test(text)) return ' (the key does not belong to the certificate)';
  if (/DECODER routines::unsupported|no start line/i.test(text)) return ' (no PEM private key found)';
  return '';
}

/** Reads the files and checks them with node's TLS; throws TlsFileError naming the file at fault. */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const material: TlsMaterial = {};
  if (files.ca !== undefined) {
    material.ca = read('ca', files.ca);
    try {
      createSecureContext({ ca: material.ca });
    } catch (error) {
      throw new TlsFileError('ca', files.ca, `${files.ca} is not a usable CA bundle: ${firstLine(error)}`);
    }
    if (!material.ca.includes('-----BEGIN CERTIFICATE-----')) throw new TlsFileError('ca', files.ca, `${files.ca} holds no PEM certificate`);
  }
  if (files.key !== undefined && files.cert === undefined) throw new TlsFileError('key', files.key, `a key (${files.key}) without a certificate`);
  if (files.cert !== undefined) {
    material.cert = read('cert', files.cert);
    material.key = files.key === undefined ? material.cert : read('key', files.key);
    if (files.passphrase !== undefined) material.passphrase = files.passphrase;
    try {
      createSecureContext({ cert: material.cert, key: material.key, ...(files.passphrase === undefined ? {} : { passphrase: files.passphrase }) });
    } catch (error) {
      const where = files.key === undefined ? `${files.cert} (no key file given, so it must also hold the private key)` : `${files.cert} with key ${files.key}`;
      throw new TlsFileError(
        files.key === undefined ? 'cert' : 'key',
        files.key ?? files.cert,
        `${where} cannot be used: ${firstLine(error)}${likelyCause(error)}`,
      );
    }
  }
  return material;
}

/** Why OpenSSL refuses a cipher list (restapi.ciphers), or null when it takes it. */
export function cipherListProblem(ciphers: string): string | null {
  try {
    createSecureContext({ ciphers });
    return null;
  } catch (error) {
    return `OpenSSL takes none of ${JSON.stringify(ciphers)}: ${firstLine(error)}`;
  }
}

/** The problem with `files` (see readTlsMaterial), or null when node's TLS can use them. */
export function tlsFilesProblem(files: TlsFiles): TlsFileError | null {
  try {
    readTlsMaterial(files);
    return null;
  } catch (error) {
    if (error instanceof TlsFileError) return error;
    throw error;
  }
}
