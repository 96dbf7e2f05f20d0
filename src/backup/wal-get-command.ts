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

/** Where keel-wal-get looks for server `name` when run by this user with this environment (its rule, in C). */
export function walGetSocketPath(name: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const tmp = env['TMPDIR']?.startsWith('/') === true ? env['TMPDIR'] : '/tmp';
  return join(tmp, `keel-wal-get-${process.geteuid?.() ?? 0}`, `${name}.sock`);
}
