/**
 * Restore's side of tablespaces: pg_tblspc/<oid> becomes a link to the tablespace's destination
 * (created empty, mode 0700, as CREATE TABLESPACE wants it) before any of its files is written
 * through the link. No tablespace_map is written: PostgreSQL starts on the links as they are
 * (as after pg_basebackup -Fp -T), so a relocated tablespace stays where restore put it.
 */
import { lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TablespaceDestination } from './restore-plan.js';

export async function linkTablespaces(pgPath: string, tablespaces: readonly TablespaceDestination[]): Promise<void> {
  if (tablespaces.length === 0) return;
  await mkdir(join(pgPath, 'pg_tblspc'), { recursive: true, mode: 0o700 });
  for (const tablespace of tablespaces) {
    await mkdir(tablespace.destination, { recursive: true, mode: 0o700 });
    const link = join(pgPath, 'pg_tblspc', String(tablespace.oid));
    const existing = await lstat(link).catch(() => null);
    if (existing !== null) {
      if (existing.isSymbolicLink() && (await readlink(link)) === tablespace.destination) continue;
      await rm(link, { recursive: true, force: true });
    }
    await symlink(tablespace.destination, link);
  }
}

/** pg_tblspc/<oid> -> destination, for --delta to keep a link that already points right. */
export function tablespaceLinkTargets(tablespaces: readonly TablespaceDestination[]): Map<string, string> {
  return new Map(tablespaces.map((t) => [`pg_tblspc/${t.oid}`, t.destination]));
}
