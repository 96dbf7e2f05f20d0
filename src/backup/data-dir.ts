/**
 * What of a data directory a backup copies: pg_basebackup's exclusion rules (basebackup.c),
 * so a restored directory holds no stale pid, no WAL, no temporary or runtime-only state.
 * Tablespaces (links in pg_tblspc) are followed into their `PG_<version>_<catalog>` directory,
 * the one this cluster owns, and listed as links for restore to recreate.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';

/** Directories kept empty in the backup (PostgreSQL recreates or refills them). */
const EXCLUDED_DIR_CONTENTS = new Set(['pg_wal', 'pg_stat_tmp', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);
/** Files never copied (anywhere for pg_internal.init, at the top otherwise). */
const EXCLUDED_TOP_FILES = new Set([
  'postgresql.auto.conf.tmp',
  'current_logfiles',
  'current_logfiles.tmp',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'postmaster.pid',
  'postmaster.opts',
  'recovery.signal',
  'standby.signal',
]);

export interface DataFile {
  path: string;
  mode: number;
  size: number;
  mtimeMs: number;
}

export interface DataDirListing {
  dirs: { path: string; mode: number }[];
  files: DataFile[];
  /** pg_tblspc/<oid> links: the tablespace's oid and location. */
  tablespaceLinks: { oid: number; path: string }[];
}

/**
 * Lists what to back up, pg_control last (as pg_basebackup sends it, so it is read after every
 * data file). `pgVersion` (major) picks this cluster's directory in each tablespace.
 */
export async function listDataDir(root: string, pgVersion: string): Promise<DataDirListing> {
  const listing: DataDirListing = { dirs: [], files: [], tablespaceLinks: [] };
  await walk(root, '', listing, pgVersion);
  const control = listing.files.findIndex((f) => f.path === 'global/pg_control');
  if (control < 0) throw new KeelError('backup.not_data_dir', `${root} is not a PostgreSQL data directory (no global/pg_control)`);
  const [pgControl] = listing.files.splice(control, 1);
  if (pgControl !== undefined) listing.files.push(pgControl);
  return listing;
}

async function walk(root: string, relative: string, listing: DataDirListing, pgVersion: string): Promise<void> {
  const entries = await readdir(join(root, relative)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of entries.sort()) {
    const path = relative === '' ? name : `${relative}/${name}`;
    if (relative === '' && EXCLUDED_TOP_FILES.has(name)) continue;
    if (name === 'pg_internal.init' || name.startsWith('pgsql_tmp')) continue;
    const info = await lstat(join(root, path)).catch(() => null);
    if (info === null) continue; // dropped while we looked
    if (info.isSymbolicLink()) {
      if (relative === 'pg_tblspc') {
        if (!/^\d+$/.test(name)) throw new KeelError('backup.tablespaces', `${join(root, path)} is not a tablespace link (its name is not an oid)`);
        listing.tablespaceLinks.push({ oid: Number(name), path: await readlink(join(root, path)) });
        // only this cluster's directory: another major version may share the location (pg_upgrade)
        for (const own of (await readdir(join(root, path))).filter((entry) => entry.startsWith(`PG_${pgVersion}_`))) {
          listing.dirs.push({ path: `${path}/${own}`, mode: 0o700 });
          await walk(root, `${path}/${own}`, listing, pgVersion);
        }
        continue;
      }
      if (path === 'pg_wal') {
        listing.dirs.push({ path, mode: 0o700 });
        continue;
      }
      throw new KeelError('backup.symlink', `${join(root, path)} is a symbolic link; keel backup does not follow links in the data directory yet`);
    }
    if (info.isDirectory()) {
      listing.dirs.push({ path, mode: info.mode & 0o7777 });
      if (relative === '' && EXCLUDED_DIR_CONTENTS.has(name)) {
        if (name === 'pg_wal') listing.dirs.push({ path: 'pg_wal/archive_status', mode: 0o700 });
        continue;
      }
      await walk(root, path, listing, pgVersion);
    } else if (info.isFile()) {
      listing.files.push({ path, mode: info.mode & 0o7777, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
}
