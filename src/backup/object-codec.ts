/**
 * The encoding of every object keel stores in a repository (a block, a WAL file, a manifest):
 *
 *   magic "KEL1" | compress (0 none, 1 gz, 2 zst) | cipher (0 none, 1 aes-256-cbc) | flags | 0
 *   [32 bytes SHA-256 of the plain bytes, when flags bit 0]  [16 bytes IV, when encrypted]  payload
 *
 * The payload is the plain bytes compressed, then encrypted (AES-256-CBC, a fresh random IV per
 * object, the key derived once per repository from repo1-cipher-pass with scrypt and the
 * stanza's salt). A block's checksum is its name (the manifest holds its SHA-256); other objects
 * carry theirs in the header. Decoding always checks the checksum: a flipped byte, a truncated
 * object or a wrong key is an error, never wrong data.
 */
import { createCipheriv, createDecipheriv, createHash, hash, randomBytes, scrypt, scryptSync } from 'node:crypto';
import * as zlib from 'node:zlib';
import { gzipSync, gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';

/** zstd-napi's low-level binding (decompression into a given buffer); CommonJS, so required. */
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');

export type CompressType = 'none' | 'gz' | 'zst';
export type CipherType = 'none' | 'aes-256-cbc';

const MAGIC = Buffer.from('KEL1');
const COMPRESS_CODES: Record<CompressType, number> = { none: 0, gz: 1, zst: 2 };
const COMPRESS_BY_CODE: CompressType[] = ['none', 'gz', 'zst'];
const FLAG_CHECKSUM = 1;
const HEADER_BYTES = 8;

export class CorruptObjectError extends Error {}

export interface CodecSettings {
  compressType: CompressType;
  /** null = the library's default level. */
  compressLevel: number | null;
  /** 32-byte AES key, or null for an unencrypted repository. */
  key: Buffer | null;
}

/** The repository key: scrypt of the passphrase with the stanza's salt (done once per command). */
const SCRYPT_OPTIONS = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function deriveKey(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase, salt, 32, SCRYPT_OPTIONS);
}

/** deriveKey on libuv's thread pool (100 ms here): the caller's thread goes on meanwhile. */
export function deriveKeyInBackground(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(passphrase, salt, 32, SCRYPT_OPTIONS, (error, key) => (error === null ? resolve(key) : reject(error))));
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * CRC-32 of a block's plain bytes (zlib's, built into Node since 20.15; null on an older Node, whose
 * backups then record none). Restore checks every block it writes against it: a third of the
 * SHA-256's cost, and what restore must catch is a stored byte gone bad or a reference to the
 * wrong bytes, not a forgery (verify checks the SHA-256).
 */
export const blockCrc: ((data: Uint8Array) => number) | null = (zlib as Partial<typeof zlib>).crc32 ?? null;

/** Base64url SHA-256, the name of a block. */
export function blockHash(data: Uint8Array): string {
  // one-shot hash: no Hash object per 8 KiB block (a backup or restore hashes every block once)
  return hash('sha256', data, 'base64url');
}

function compressBytes(plain: Uint8Array, settings: CodecSettings): Buffer {
  switch (settings.compressType) {
    case 'none':
      return Buffer.from(plain);
    case 'gz':
      return gzipSync(plain, settings.compressLevel === null ? {} : { level: Math.max(0, Math.min(9, settings.compressLevel)) });
    case 'zst':
      return zstdCompress(plain, settings.compressLevel === null ? {} : { compressionLevel: settings.compressLevel });
  }
}

function decompressBytes(payload: Buffer, type: CompressType): Buffer {
  switch (type) {
    case 'none':
      return payload;
    case 'gz':
      return gunzipSync(payload);
    case 'zst':
      return zstdDecompress(payload);
  }
}

export function encodeObject(plain: Uint8Array, settings: CodecSettings, withChecksum: boolean): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[4] = COMPRESS_CODES[settings.compressType];
  header[5] = settings.key === null ? 0 : 1;
  header[6] = withChecksum ? FLAG_CHECKSUM : 0;
  const parts: Buffer[] = [header];
  if (withChecksum) parts.push(sha256(plain));
  let payload = compressBytes(plain, settings);
  if (settings.key !== null) {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-cbc', settings.key, iv);
    payload = Buffer.concat([cipher.update(payload), cipher.final()]);
    parts.push(iv);
  }
  parts.push(payload);
  return Buffer.concat(parts);
}

/** An object's header read and its payload decrypted: what is left is to decompress and check. */
interface OpenedObject {
  compressType: CompressType;
  checksum: Buffer | null;
  payload: Buffer;
}

function openObject(stored: Buffer, key: Buffer | null): OpenedObject {
  if (stored.length < HEADER_BYTES || !stored.subarray(0, 4).equals(MAGIC)) throw new CorruptObjectError('not a keel repository object (bad header)');
  const compressType = COMPRESS_BY_CODE[stored[4] ?? 255];
  if (compressType === undefined) throw new CorruptObjectError(`unknown compression code ${String(stored[4])}`);
  const encrypted = stored[5] === 1;
  const withChecksum = ((stored[6] ?? 0) & FLAG_CHECKSUM) !== 0;
  let at = HEADER_BYTES;
  const checksum = withChecksum ? stored.subarray(at, (at += 32)) : null;
  let payload = stored.subarray(encrypted ? at + 16 : at);
  if (encrypted) {
    if (key === null) throw new CorruptObjectError('object is encrypted but no repo1-cipher-pass is set');
    const iv = stored.subarray(at, at + 16);
    try {
      const decipher = createDecipheriv('aes-256-cbc', key, iv);
      payload = Buffer.concat([decipher.update(payload), decipher.final()]);
    } catch {
      throw new CorruptObjectError('object does not decrypt (wrong key or corrupt data)');
    }
  }
  return { compressType, checksum, payload };
}

function checkHeaderChecksum(plain: Buffer, checksum: Buffer | null): void {
  if (checksum !== null && !sha256(plain).equals(checksum)) throw new CorruptObjectError('object checksum mismatch');
}

/**
 * Decodes an object and checks it: against `expectedHash` (base64url SHA-256, for blocks) or
 * the checksum in its header. Throws CorruptObjectError on any mismatch.
 */
export function decodeObject(stored: Buffer, key: Buffer | null, expectedHash?: string): Buffer {
  const { compressType, checksum, payload } = openObject(stored, key);
  let plain: Buffer;
  try {
    plain = decompressBytes(payload, compressType);
  } catch {
    throw new CorruptObjectError('object does not decompress (corrupt data)');
  }
  if (expectedHash !== undefined) {
    if (blockHash(plain) !== expectedHash) throw new CorruptObjectError('block checksum mismatch');
  } else checkHeaderChecksum(plain, checksum);
  return plain;
}

/**
 * decodeObject for restore's frames: a zstd payload is decompressed into `allocate(size)` (a
 * recycled buffer: restore decodes every frame of a backup, and fresh memory for each costs a
 * page fault per 4 KiB). The result may be a view of that buffer, never of `stored` (which the
 * caller may reuse). The caller checks the blocks' hashes (a frame carries none); a header
 * checksum, if any, is checked here.
 */
export function decodeFrame(stored: Buffer, key: Buffer | null, allocate: (bytes: number) => Buffer): Buffer {
  const { plain, checksum } = decodeUnchecked(stored, key, allocate);
  checkHeaderChecksum(plain, checksum);
  return plain;
}

/**
 * decodeFrame without the header checksum check, which is left to the caller with the checksum
 * (null: the object has none): archive-get hashes a WAL file while it is being written, and
 * renames it into place only if the hash matches.
 */
export function decodeUnchecked(stored: Buffer, key: Buffer | null, allocate: (bytes: number) => Buffer): { plain: Buffer; checksum: Buffer | null } {
  const { compressType, checksum, payload } = openObject(stored, key);
  let plain: Buffer;
  try {
    const size = compressType === 'zst' ? zstdBinding.getFrameContentSize(payload) : null;
    if (compressType === 'none') {
      // a copy: the payload is a view of the caller's read buffer, which it reuses
      plain = allocate(payload.length).subarray(0, payload.length);
      payload.copy(plain);
    } else if (size === null) {
      plain = decompressBytes(payload, compressType);
    } else {
      const output = allocate(size);
      const written = zstdContext().decompress(output.subarray(0, size), payload);
      if (written !== size) throw new CorruptObjectError('object does not decompress to its recorded size');
      plain = output.subarray(0, size);
    }
  } catch {
    throw new CorruptObjectError('object does not decompress (corrupt data)');
  }
  return { plain, checksum };
}

let decompressionContext: InstanceType<typeof zstdBinding.DCtx> | null = null;
/** One zstd decompression context per thread, made on first use. */
function zstdContext(): InstanceType<typeof zstdBinding.DCtx> {
  decompressionContext ??= new zstdBinding.DCtx();
  return decompressionContext;
}
