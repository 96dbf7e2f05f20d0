/**
 * Which backup a restore starts from, pgBackRest's rule: `--set` names one; otherwise the newest
 * backup, or for a time target the newest whose stop time is before the target (recovery must
 * start from a consistent point before it). Pure.
 */
import { compareLabels } from './label.js';

export interface SelectableBackup {
  label: string;
  /** ISO timestamp of pg_backup_stop: the earliest point this backup can be restored to. */
  stopTime: string;
}

export type SelectResult = { ok: true; label: string } | { ok: false; reason: string };

export function selectBackup(backups: readonly SelectableBackup[], set: string | null, targetTime: Date | null): SelectResult {
  const sorted = [...backups].sort((a, b) => compareLabels(a.label, b.label));
  if (sorted.length === 0) return { ok: false, reason: 'no backup exists in the repository' };
  if (set !== null) {
    const chosen = sorted.find((b) => b.label === set);
    if (chosen === undefined) return { ok: false, reason: `backup set ${set} is not in the repository` };
    if (targetTime !== null && new Date(chosen.stopTime).getTime() > targetTime.getTime()) {
      return { ok: false, reason: `backup set ${set} ends at ${chosen.stopTime}, after the target time` };
    }
    return { ok: true, label: chosen.label };
  }
  if (targetTime === null) return { ok: true, label: sorted[sorted.length - 1]?.label ?? '' };
  const before = sorted.filter((b) => new Date(b.stopTime).getTime() <= targetTime.getTime());
  const chosen = before[before.length - 1];
  if (chosen === undefined) {
    return { ok: false, reason: `target time ${targetTime.toISOString()} is before the end of the oldest backup (${sorted[0]?.stopTime ?? ''})` };
  }
  return { ok: true, label: chosen.label };
}
