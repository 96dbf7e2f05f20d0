/**
 * info: the stanza's backups and WAL archive range per database of its history, as pgBackRest
 * prints them (text) or as JSON shaped like `pgbackrest info --output=json` (an array of
 * stanzas). keel adds the gaps in the WAL archive (`archive[].gap`, "wal archive gap" lines):
 * segments missing where the archive must be continuous.
 */
import { Repository, archiveIdOf, type RepositoryOptions, type StanzaDb } from './repository.js';
import { listArchive } from './archive.js';
import { continuousFrom } from './expire.js';
import { isSegmentName, segmentPosition } from './core/wal.js';
import { archiveGaps, type ArchiveGap } from './core/archive-gaps.js';
import type { ManifestSummary } from './core/manifest.js';
import { pageRanges } from './core/page-checksum.js';

export interface StanzaReport {
  name: string;
  status: { code: number; message: string };
  cipher: string;
  db: { id: number; 'system-id': string; version: string; 'repo-key': number }[];
  archive: { id: string; database: { id: number; 'repo-key': number }; min: string | null; max: string | null; gap: ArchiveGap[] }[];
  backup: {
    label: string;
    database: { id: number; 'repo-key': number };
    type: string;
    prior: string | null;
    reference: string[] | null;
    timestamp: { start: number; stop: number };
    archive: { start: string; stop: string };
    lsn: { start: string; stop: string };
    info: { size: number; delta: number; repository: { size: number; delta: number } };
    /** Page checksum failures were found while this backup read the files (pgBackRest's backup-error). */
    error: boolean;
    /** The files with bad pages, and the pages (singles and [first, last] runs, as pgBackRest's checksum-page-error). */
    'error-list': { file: string; pages: (number | [number, number])[] }[];
  }[];
}

export async function stanzaReport(options: RepositoryOptions, set: string | null): Promise<StanzaReport> {
  const repository = await Repository.open(options);
  const all = await repository.readSummaries();
  const manifests = all.filter((m) => set === null || m.label === set);
  const archive: StanzaReport['archive'] = [];
  for (const db of repository.info.db) {
    const names = await listArchive(repository, db);
    const segments = names.filter(isSegmentName);
    archive.push({
      id: archiveIdOf(db),
      database: { id: db.id, 'repo-key': 1 },
      min: segments[0] ?? null,
      max: segments[segments.length - 1] ?? null,
      gap: archiveGaps(names, await archiveContinuityStart(repository, db, all)),
    });
  }
  return {
    name: options.stanza,
    status: manifests.length === 0 ? { code: 2, message: 'no valid backups' } : { code: 0, message: 'ok' },
    cipher: repository.info.cipherType,
    db: repository.info.db.map((db) => ({ id: db.id, 'system-id': db.systemId, version: db.pgVersion, 'repo-key': 1 })),
    archive,
    backup: manifests.map(backupEntry),
  };
}

/**
 * Where `db`'s archive must be continuous from: the oldest of its backups' start, or later where
 * expire's archive retention moved it (expire.json); null: from its first archived segment.
 */
export async function archiveContinuityStart(
  repository: Repository,
  db: StanzaDb,
  manifests: readonly Pick<ManifestSummary, 'dbId' | 'walStart'>[],
): Promise<string | null> {
  const recorded = (await continuousFrom(repository, db)) ?? undefined;
  const oldest = manifests.filter((m) => m.dbId === db.id).map((m) => m.walStart)[0] ?? null;
  if (recorded === undefined) return oldest;
  if (oldest === null) return recorded;
  return segmentPosition(recorded) > segmentPosition(oldest) ? recorded : oldest;
}

function backupEntry(manifest: ManifestSummary): StanzaReport['backup'][number] {
  return {
    label: manifest.label,
    database: { id: manifest.dbId, 'repo-key': 1 },
    type: manifest.type,
    prior: manifest.prior,
    reference: manifest.references.length === 0 ? null : manifest.references,
    timestamp: { start: Math.floor(Date.parse(manifest.startTime) / 1000), stop: Math.floor(Date.parse(manifest.stopTime) / 1000) },
    archive: { start: manifest.walStart, stop: manifest.walStop },
    lsn: { start: manifest.lsnStart, stop: manifest.lsnStop },
    info: {
      size: manifest.sizes.database,
      delta: manifest.sizes.newPlain,
      repository: { size: manifest.sizes.referencedStored, delta: manifest.sizes.newStored },
    },
    ...errorsOf(manifest),
  };
}

function errorsOf(manifest: ManifestSummary): { error: boolean; 'error-list': { file: string; pages: (number | [number, number])[] }[] } {
  const list = manifest.badPageFiles.map((f) => ({ file: f.path, pages: pageRanges(f.badPages) }));
  return { error: list.length > 0, 'error-list': list };
}

/** pgBackRest's size format: 22.2MB, 512KB, 10B. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit] ?? ''}`;
}

function formatTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function renderInfoText(report: StanzaReport): string {
  const lines = [
    `stanza: ${report.name}`,
    `    status: ${report.status.code === 0 ? 'ok' : `error (${report.status.message})`}`,
    `    cipher: ${report.cipher}`,
    '',
  ];
  // pgBackRest's layout: one block per database of the history, oldest first, the last one current
  for (const [index, db] of report.db.entries()) {
    const archive = report.archive.find((a) => a.database.id === db.id);
    const backups = report.backup.filter((b) => b.database.id === db.id);
    if (index > 0) lines.push('');
    lines.push(`    db (${index === report.db.length - 1 ? 'current' : 'prior'})`);
    lines.push(
      `        wal archive min/max (${db.version}): ${archive === undefined || archive.min === null ? 'none present' : `${archive.min}/${archive.max ?? ''}`}`,
    );
    for (const gap of archive?.gap ?? []) {
      lines.push(`        wal archive gap: ${gap.start} to ${gap.stop} (${gap.count} segment${gap.count === 1 ? '' : 's'} missing)`);
    }
    renderBackups(lines, backups);
  }
  return lines.join('\n') + '\n';
}

function renderBackups(lines: string[], backups: StanzaReport['backup']): void {
  for (const backup of backups) {
    lines.push('', `        ${backup.type} backup: ${backup.label}`);
    lines.push(`            timestamp start/stop: ${formatTime(backup.timestamp.start)} / ${formatTime(backup.timestamp.stop)}`);
    lines.push(`            wal start/stop: ${backup.archive.start} / ${backup.archive.stop}`);
    lines.push(`            lsn start/stop: ${backup.lsn.start} / ${backup.lsn.stop}`);
    lines.push(`            database size: ${formatSize(backup.info.size)}, database backup size: ${formatSize(backup.info.delta)}`);
    lines.push(`            repo1: backup set size: ${formatSize(backup.info.repository.size)}, backup size: ${formatSize(backup.info.repository.delta)}`);
    if (backup.reference !== null) lines.push(`            backup reference list: ${backup.reference.join(', ')}`);
    if (backup.error) {
      const files = backup['error-list'].map(
        ({ file, pages }) =>
          `${file} (page${pages.length === 1 && typeof pages[0] === 'number' ? '' : 's'} ${pages.map((p) => (typeof p === 'number' ? String(p) : `${p[0]}-${p[1]}`)).join(', ')})`,
      );
      lines.push(`            error list: invalid page checksums in ${files.join(', ')}`);
    }
  }
}
