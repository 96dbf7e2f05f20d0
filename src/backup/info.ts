/**
 * info: the stanza's backups and WAL archive range, as pgBackRest prints them (text) or as JSON
 * shaped like `pgbackrest info --output=json` (an array of stanzas).
 */
import { Repository, type RepositoryOptions } from './repository.js';
import { listArchive } from './archive.js';
import { isSegmentName } from './core/wal.js';
import type { Manifest } from './core/manifest.js';

export interface StanzaReport {
  name: string;
  status: { code: number; message: string };
  cipher: string;
  db: { 'system-id': string; version: string }[];
  archive: { min: string | null; max: string | null }[];
  backup: {
    label: string;
    type: string;
    prior: string | null;
    reference: string[] | null;
    timestamp: { start: number; stop: number };
    archive: { start: string; stop: string };
    lsn: { start: string; stop: string };
    info: { size: number; delta: number; repository: { size: number; delta: number } };
  }[];
}

export async function stanzaReport(options: RepositoryOptions, set: string | null): Promise<StanzaReport> {
  const repository = await Repository.open(options);
  const manifests = (await repository.readManifests()).filter((m) => set === null || m.label === set);
  const segments = (await listArchive(repository)).filter(isSegmentName);
  return {
    name: options.stanza,
    status: manifests.length === 0 ? { code: 2, message: 'no valid backups' } : { code: 0, message: 'ok' },
    cipher: repository.info.cipherType,
    db: [{ 'system-id': repository.info.systemId, version: repository.info.pgVersion }],
    archive: [{ min: segments[0] ?? null, max: segments[segments.length - 1] ?? null }],
    backup: manifests.map(backupEntry),
  };
}

function backupEntry(manifest: Manifest): StanzaReport['backup'][number] {
  return {
    label: manifest.label,
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
  };
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
  const db = report.db[0];
  const archive = report.archive[0];
  lines.push(`    db (current)`);
  lines.push(
    `        wal archive min/max (${db?.version ?? '?'}): ${archive?.min === null || archive === undefined ? 'none present' : `${archive.min}/${archive.max ?? ''}`}`,
  );
  for (const backup of report.backup) {
    lines.push('', `        ${backup.type} backup: ${backup.label}`);
    lines.push(`            timestamp start/stop: ${formatTime(backup.timestamp.start)} / ${formatTime(backup.timestamp.stop)}`);
    lines.push(`            wal start/stop: ${backup.archive.start} / ${backup.archive.stop}`);
    lines.push(`            lsn start/stop: ${backup.lsn.start} / ${backup.lsn.stop}`);
    lines.push(`            database size: ${formatSize(backup.info.size)}, database backup size: ${formatSize(backup.info.delta)}`);
    lines.push(`            repo1: backup set size: ${formatSize(backup.info.repository.size)}, backup size: ${formatSize(backup.info.repository.delta)}`);
    if (backup.reference !== null) lines.push(`            backup reference list: ${backup.reference.join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
