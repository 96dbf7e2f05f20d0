/**
 * Which backup a restore starts from, and whether its recovery target can be reached at all,
 * decided before anything is written. pgBackRest's rule for the choice: `--set` names one;
 * otherwise the newest backup, or for a time target the newest whose stop time is at or before
 * the target, for an LSN target the newest whose stop LSN is (recovery must become consistent
 * before its target). keel adds, for an xid target, the newest backup that started before the
 * transaction could have ended. Pure.
 */
import { compareLabels } from './label.js';

export interface SelectableBackup {
  label: string;
  /** ISO timestamp of pg_backup_stop: the earliest point this backup can be restored to. */
  stopTime: string;
  /** LSN of pg_backup_stop (`0/5000100`): the backup is consistent from there. */
  lsnStop: string;
  /** Oldest transaction running at the backup's start (32-bit xid), when recorded. */
  xidMin: string | null;
}

/** A recovery target as far as it can be checked: name targets and `immediate` are not. */
export type CheckableTarget = { kind: 'none' } | { kind: 'time'; at: Date } | { kind: 'lsn'; lsn: bigint } | { kind: 'xid'; xid: bigint };

export type SelectResult = { ok: true; label: string } | { ok: false; reason: string };

export function selectBackup(backups: readonly SelectableBackup[], set: string | null, target: CheckableTarget): SelectResult {
  const sorted = [...backups].sort((a, b) => compareLabels(a.label, b.label));
  if (sorted.length === 0) return { ok: false, reason: 'no backup exists in the repository' };
  if (set !== null) {
    const chosen = sorted.find((b) => b.label === set);
    if (chosen === undefined) return { ok: false, reason: `backup set ${set} is not in the repository` };
    const late = whyTooLate(chosen, target);
    return late === null ? { ok: true, label: chosen.label } : { ok: false, reason: `backup set ${set} ${late}` };
  }
  const usable = sorted.filter((b) => whyTooLate(b, target) === null);
  const chosen = usable[usable.length - 1];
  if (chosen !== undefined) return { ok: true, label: chosen.label };
  const oldest = sorted[0] as SelectableBackup;
  return { ok: false, reason: `${targetText(target)} is before the end of the oldest backup: backup set ${oldest.label} ${whyTooLate(oldest, target) ?? ''}` };
}

/** Why recovery from `backup` cannot stop at `target` (it is before the backup is consistent), or null. */
function whyTooLate(backup: SelectableBackup, target: CheckableTarget): string | null {
  switch (target.kind) {
    case 'time':
      return Date.parse(backup.stopTime) > target.at.getTime() ? `ends at ${backup.stopTime}, after the target time ${target.at.toISOString()}` : null;
    case 'lsn':
      return parseLsnText(backup.lsnStop) > target.lsn ? `ends at lsn ${backup.lsnStop}, after the target lsn ${formatLsnText(target.lsn)}` : null;
    case 'xid':
      if (backup.xidMin === null) return null;
      return xidPrecedes(target.xid, BigInt(backup.xidMin))
        ? `started after transaction ${target.xid} ended (its oldest running transaction was ${backup.xidMin})`
        : null;
    case 'none':
      return null;
  }
}

function targetText(target: CheckableTarget): string {
  switch (target.kind) {
    case 'time':
      return `target time ${target.at.toISOString()}`;
    case 'lsn':
      return `target lsn ${formatLsnText(target.lsn)}`;
    case 'xid':
      return `target xid ${target.xid}`;
    case 'none':
      return 'target';
  }
}

/** PostgreSQL's TransactionIdPrecedes for normal 32-bit xids: modulo-2^32 order. */
export function xidPrecedes(a: bigint, b: bigint): boolean {
  const diff = Number(BigInt.asIntN(32, (a & 0xffffffffn) - (b & 0xffffffffn)));
  return diff < 0;
}

function parseLsnText(text: string): bigint {
  const [high = '0', low = '0'] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

function formatLsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** What is known of the end of the WAL archive of the backup's database. */
export interface ArchiveEnd {
  /** The newest archived segment (highest position, then timeline), or null when none. */
  lastSegment: string | null;
  /** LSN just after that segment: no archived WAL reaches further. */
  endLsn: bigint | null;
  /** When that segment was stored: every record in the archive is older. */
  lastArchivedAt: Date | null;
}

/**
 * Why recovery cannot reach `target` with the WAL archived so far (it lies after the end of the
 * archive: PostgreSQL would replay all of it and stop with "recovery ended before configured
 * recovery target was reached"), or null. Only the knowable cases: time and LSN.
 */
export function whyBeyondArchive(target: CheckableTarget, end: ArchiveEnd): string | null {
  if (target.kind === 'time' && end.lastArchivedAt !== null && target.at.getTime() > end.lastArchivedAt.getTime()) {
    return `target time ${target.at.toISOString()} is after the end of the WAL archive (the last segment, ${end.lastSegment ?? '?'}, was archived at ${end.lastArchivedAt.toISOString()})`;
  }
  if (target.kind === 'lsn' && end.endLsn !== null && target.lsn >= end.endLsn) {
    return `target lsn ${formatLsnText(target.lsn)} is after the end of the WAL archive (the last segment, ${end.lastSegment ?? '?'}, ends at lsn ${formatLsnText(end.endLsn)})`;
  }
  return null;
}
