/**
 * Everything a restore decides before it writes anything: which backup (--set or the target),
 * whether the recovery target can be reached at all (not before the backup is consistent, not
 * after the end of the WAL archive), and where each tablespace goes (--tablespace-map,
 * --tablespace-map-all), with its destination free. A failure here is one line and leaves the
 * disk untouched.
 */
import { readdir, readlink, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { KeelError } from '../errors.js';
import { listArchiveObjects } from './archive.js';
import { selectBackup, whyBeyondArchive, type ArchiveEnd, type CheckableTarget } from './core/select.js';
import { isSegmentName, parseLsn, segmentEndLsn, segmentPosition } from './core/wal.js';
import type { Repository, StanzaDb } from './repository.js';
import type { Manifest, ManifestTablespace } from './core/manifest.js';
import type { RecoveryTarget } from './recovery-settings.js';

/** Where restore puts one tablespace. */
export interface TablespaceDestination extends ManifestTablespace {
  destination: string;
}

export interface TablespaceMapping {
  /** --tablespace-map name-or-oid=path. */
  map: ReadonlyMap<string, string>;
  /** --tablespace-map-all: every tablespace to <path>/<name>. */
  mapAll: string | null;
}

export interface RestorePlan {
  manifest: Manifest;
  tablespaces: TablespaceDestination[];
}

export async function planRestore(
  repository: Repository,
  request: { pgPath: string; set: string | null; target: RecoveryTarget; delta: boolean; force: boolean; tablespaceMapping: TablespaceMapping },
): Promise<RestorePlan> {
  // the choice needs each backup's summary; only the chosen one's manifest (every block location) is read
  const summaries = await repository.readSummaries();
  const target = checkableTarget(request.target);
  const chosen = selectBackup(summaries, request.set, target);
  if (!chosen.ok) throw new KeelError('backup.no_backup_for_target', `cannot restore: ${chosen.reason}`);
  if (!summaries.some((m) => m.label === chosen.label)) throw new KeelError('backup.no_backup_for_target', `backup ${chosen.label} vanished`);
  const manifest = await repository.readManifest(chosen.label);
  const db = repository.dbById(manifest.dbId);
  if (db !== undefined && target.kind !== 'none') {
    const beyond = whyBeyondArchive(target, await archiveEnd(repository, db));
    if (beyond !== null) {
      throw new KeelError('backup.target_beyond_archive', `cannot restore: ${beyond}`, {
        hint: 'recovery could not reach it; archive the WAL up to the target first (SELECT pg_switch_wal() on the primary) or choose an earlier target',
      });
    }
  }
  const tablespaces = tablespaceDestinations(manifest, request.tablespaceMapping, request.pgPath);
  for (const tablespace of tablespaces) await checkTablespaceFree(tablespace, request.pgPath, request.delta || request.force);
  return { manifest, tablespaces };
}

/** The target in the form the checks take; a malformed time or LSN is refused here. */
export function checkableTarget(target: RecoveryTarget): CheckableTarget {
  const text = target.target ?? '';
  switch (target.type) {
    case 'time':
      return { kind: 'time', at: parseTargetTime(text) };
    case 'lsn':
      try {
        return { kind: 'lsn', lsn: parseLsn(text) };
      } catch {
        throw new KeelError('backup.bad_target', `--target '${text}' is not an LSN (for example 0/5000028)`);
      }
    case 'xid':
      if (!/^\d+$/.test(text)) throw new KeelError('backup.bad_target', `--target '${text}' is not a transaction id (a positive integer)`);
      return { kind: 'xid', xid: BigInt(text) };
    default:
      return { kind: 'none' };
  }
}

export function parseTargetTime(text: string): Date {
  const time = Date.parse(text.replace(/([+-]\d\d)$/, '$1:00'));
  if (Number.isNaN(time)) throw new KeelError('backup.bad_target', `--target '${text}' is not a time (for example 2024-01-15 14:00:00+00)`);
  return new Date(time);
}

/** The newest archived segment of `db` (by position, then timeline) and when it was stored. */
async function archiveEnd(repository: Repository, db: StanzaDb): Promise<ArchiveEnd> {
  let last: { name: string; path: string } | null = null;
  for (const object of await listArchiveObjects(repository, db)) {
    if (!isSegmentName(object.name)) continue;
    if (
      last === null ||
      segmentPosition(object.name) > segmentPosition(last.name) ||
      (segmentPosition(object.name) === segmentPosition(last.name) && object.name > last.name)
    )
      last = object;
  }
  if (last === null) return { lastSegment: null, endLsn: null, lastArchivedAt: null };
  const stored = await stat(last.path);
  return { lastSegment: last.name, endLsn: segmentEndLsn(last.name), lastArchivedAt: stored.mtime };
}

/** pgBackRest's rule: --tablespace-map (by name or oid) first, then --tablespace-map-all/<name>, else where it was. */
export function tablespaceDestinations(manifest: Manifest, mapping: TablespaceMapping, pgPath: string): TablespaceDestination[] {
  for (const key of mapping.map.keys()) {
    if (!manifest.tablespaces.some((t) => t.name === key || String(t.oid) === key)) {
      throw new KeelError(
        'backup.bad_tablespace_map',
        `unable to remap invalid tablespace '${key}' (--tablespace-map): backup ${manifest.label} has ${tablespaceNames(manifest)}`,
      );
    }
  }
  return manifest.tablespaces.map((tablespace) => {
    const byName = mapping.map.get(tablespace.name);
    const byOid = mapping.map.get(String(tablespace.oid));
    if (byName !== undefined && byOid !== undefined && byName !== byOid) {
      throw new KeelError('backup.bad_tablespace_map', `tablespace remapped by name '${tablespace.name}' and id ${tablespace.oid} with different paths`);
    }
    const mapped = byName ?? byOid;
    const destination = mapped ?? (mapping.mapAll === null ? tablespace.path : join(mapping.mapAll, tablespace.name));
    if (!isAbsolute(destination))
      throw new KeelError('backup.bad_tablespace_map', `tablespace ${tablespace.name}: destination ${destination} is not an absolute path`);
    const inside = relative(pgPath, destination);
    if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
      throw new KeelError('backup.bad_tablespace_map', `tablespace ${tablespace.name}: destination ${destination} is inside pg1-path ${pgPath}`);
    }
    return { ...tablespace, destination };
  });
}

function tablespaceNames(manifest: Manifest): string {
  return manifest.tablespaces.length === 0 ? 'no tablespace' : `tablespaces ${manifest.tablespaces.map((t) => `${t.name} (oid ${t.oid})`).join(', ')}`;
}

/**
 * A tablespace's destination must be absent or empty, as pg1-path without --delta/--force; with
 * them, a non-empty one only when pg1-path's own pg_tblspc link already points there (never
 * write into another cluster's tablespace, such as the live source's when nothing is mapped).
 */
async function checkTablespaceFree(tablespace: TablespaceDestination, pgPath: string, overwrite: boolean): Promise<void> {
  const entries = await readdir(tablespace.destination).catch(() => [] as string[]);
  if (entries.length === 0) return;
  const hint = `use --tablespace-map=${tablespace.name}=<empty directory> or --tablespace-map-all=<directory>`;
  if (!overwrite) {
    throw new KeelError(
      'backup.dest_not_empty',
      `tablespace ${tablespace.name} destination ${tablespace.destination} is not empty; refusing to restore over it`,
      {
        hint: `${hint} (or --delta to restore over pg1-path's own tablespace)`,
      },
    );
  }
  const linked = await readlink(join(pgPath, 'pg_tblspc', String(tablespace.oid))).catch(() => null);
  if (linked !== tablespace.destination) {
    throw new KeelError(
      'backup.dest_not_empty',
      `tablespace ${tablespace.name} destination ${tablespace.destination} is not empty and is not the tablespace of pg1-path ${pgPath} (its pg_tblspc/${tablespace.oid} links to ${linked ?? 'nothing'}); refusing to restore over it`,
      { hint },
    );
  }
}
