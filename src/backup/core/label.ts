/**
 * Backup labels in pgBackRest's format: a full backup is `YYYYMMDD-HHMMSSF`; a differential or
 * incremental one carries the label of its full backup first, `20240115-140000F_20240116-020000D`
 * (or `...I`), so labels sort in the order backups were taken and name their full backup.
 * Pure: the time is an argument.
 */

export type BackupType = 'full' | 'diff' | 'incr';

const TYPE_LETTER: Record<BackupType, string> = { full: 'F', diff: 'D', incr: 'I' };
const LABEL_PATTERN = /^(\d{8}-\d{6}F)(?:_(\d{8}-\d{6})([DI]))?$/;

/** Local wall-clock stamp `YYYYMMDD-HHMMSS` (pgBackRest uses the local time zone). */
export function timeStamp(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}-${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`;
}

/**
 * The label of a new backup. `fullLabel` is the full backup a diff/incr depends on. A label
 * whose time is not after `latestLabel`'s (two backups in one second) is pushed one second on.
 */
export function makeLabel(type: BackupType, at: Date, fullLabel: string | null, latestLabel: string | null): string {
  for (let shift = 0; shift < 3600; shift++) {
    const stamp = timeStamp(new Date(at.getTime() + shift * 1000));
    const label = type === 'full' ? `${stamp}F` : `${fullLabel ?? ''}_${stamp}${TYPE_LETTER[type]}`;
    if (latestLabel === null || stamp > (parseLabel(latestLabel)?.stamp ?? '')) return label;
  }
  throw new Error(`cannot make a backup label after ${latestLabel ?? ''}`);
}

export interface ParsedLabel {
  type: BackupType;
  fullLabel: string;
  /** The stamp that orders backups: the full's own, or the diff/incr's. */
  stamp: string;
}

export function parseLabel(label: string): ParsedLabel | null {
  const match = LABEL_PATTERN.exec(label);
  if (match === null) return null;
  const full = match[1] ?? '';
  if (match[2] === undefined) return { type: 'full', fullLabel: full, stamp: full.slice(0, 15) };
  return { type: match[3] === 'D' ? 'diff' : 'incr', fullLabel: full, stamp: match[2] };
}

export function isLabel(text: string): boolean {
  return parseLabel(text) !== null;
}

/** Orders labels by the time of the backup they name (then by text, for a stable order). */
export function compareLabels(a: string, b: string): number {
  const pa = parseLabel(a);
  const pb = parseLabel(b);
  const sa = pa?.stamp ?? a;
  const sb = pb?.stamp ?? b;
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
