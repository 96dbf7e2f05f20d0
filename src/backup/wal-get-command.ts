/**
 * restore_command through keel-wal-get (native/keel-wal-get.c), the fast path that asks a running
 * archive-get server (archive-get-server.ts) before starting Node.js: `keel-wal-get <name> %f "%p"`
 * followed by the plain archive-get command, which it runs itself when no server answers. The
 * command line itself is written by config/archiving.ts (withWalGetClient).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the build puts the client (dist/native/keel-wal-get, next to dist/src). */
export const KEEL_WAL_GET_BINARY = fileURLToPath(new URL('../../native/keel-wal-get', import.meta.url));

/** The client's path when it was built (the plain command is used otherwise). */
export function walGetClient(): string | undefined {
  return existsSync(KEEL_WAL_GET_BINARY) ? KEEL_WAL_GET_BINARY : undefined;
}

/**
 * Where keel-wal-get looks for server `name` when run by this user with environment `env` (its
 * rule, in C): `$TMPDIR|/tmp/keel-wal-get-<euid>/<name>-<environment hash>.sock`.
 */
export function walGetSocketPath(name: string, env: Readonly<Record<string, string | undefined>> = process.env, uid = process.geteuid?.() ?? 0): string {
  const tmp = env['TMPDIR']?.startsWith('/') === true ? env['TMPDIR'] : '/tmp';
  return join(tmp, `keel-wal-get-${uid}`, `${name}-${walGetEnvironmentHash(env)}.sock`);
}

/**
 * 64-bit FNV-1a of the PGBACKREST_* variables of `env`, sorted, each "NAME=VALUE" followed by a
 * NUL byte, in hex: what keel-wal-get puts in the socket name, so that callers whose variables
 * change what archive-get reads never share a server.
 */
export function walGetEnvironmentHash(env: Readonly<Record<string, string | undefined>>): string {
  const entries = Object.entries(env)
    .filter(([name, value]) => name.startsWith('PGBACKREST_') && value !== undefined)
    .map(([name, value]) => `${name}=${value ?? ''}`)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let hash = 0xcbf29ce484222325n;
  for (const entry of entries) {
    for (const byte of [...Buffer.from(entry), 0]) {
      hash ^= BigInt(byte);
      hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  }
  return hash.toString(16).padStart(16, '0');
}
