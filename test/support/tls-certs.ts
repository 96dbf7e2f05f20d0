/**
 * Test certificates made with the real openssl, as an operator would: a CA, a server
 * certificate for 127.0.0.1 / localhost (SAN), a client certificate, a second unrelated CA (to
 * test verification failures) and the server key encrypted with a password. Written once into a
 * fresh temporary directory; `removeTestCertificates` deletes it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caCert: string;
  /** A CA that signed nothing here: verifying against it must fail. */
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  /** serverKey encrypted with `serverKeyPassword`. */
  serverKeyEncrypted: string;
  serverKeyPassword: string;
  clientCert: string;
  clientKey: string;
  /** clientCert and clientKey in one file (what etcd's `cert` alone may name). */
  clientCombined: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

function makeSigned(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'keel-tls-'));
  try {
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    makeSigned(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    makeSigned(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
    const password = 'key-secret';
    openssl(dir, ['pkey', '-in', 'server.key', '-aes256', '-passout', `pass:${password}`, '-out', 'server-encrypted.key']);
    execFileSync('sh', ['-c', 'cat client.crt client.key > client-combined.pem'], { cwd: dir, timeout: 10_000 });
    return {
      dir,
      caCert: join(dir, 'ca.crt'),
      otherCaCert: join(dir, 'other-ca.crt'),
      serverCert: join(dir, 'server.crt'),
      serverKey: join(dir, 'server.key'),
      serverKeyEncrypted: join(dir, 'server-encrypted.key'),
      serverKeyPassword: password,
      clientCert: join(dir, 'client.crt'),
      clientKey: join(dir, 'client.key'),
      clientCombined: join(dir, 'client-combined.pem'),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export function removeTestCertificates(certs: TestCertificates | undefined): void {
  if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
}
