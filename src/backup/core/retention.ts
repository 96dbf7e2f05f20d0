/**
 * Retention (expire), pgBackRest's rules: keep the newest `retentionFull` full backups and every
 * diff/incr that depends on a kept full; of the diff backups, keep the newest `retentionDiff`
 * (and the incr backups taken after a kept diff or directly on a kept full). A dependent of an
 * expired backup goes with it. Pure: a list of backups in, the labels to remove out, with why.
 */
import { compareLabels, parseLabel } from './label.js';

export interface RetentionBackup {
  label: string;
  /** The backup it was taken against (null for a full backup). */
  prior: string | null;
}

export interface RetentionPolicy {
  retentionFull: number | null;
  retentionDiff: number | null;
}

export interface ExpirePlan {
  expire: { label: string; why: string }[];
  keep: string[];
}

export function planExpire(backups: readonly RetentionBackup[], policy: RetentionPolicy): ExpirePlan {
  const sorted = [...backups].sort((a, b) => compareLabels(a.label, b.label));
  const reasons = new Map<string, string>();
  const fulls = sorted.filter((b) => parseLabel(b.label)?.type === 'full');
  if (policy.retentionFull !== null && fulls.length > policy.retentionFull) {
    for (const full of fulls.slice(0, fulls.length - policy.retentionFull)) {
      reasons.set(full.label, `repo1-retention-full=${policy.retentionFull}`);
    }
  }
  expireDependents(sorted, reasons);
  const diffs = sorted.filter((b) => parseLabel(b.label)?.type === 'diff' && !reasons.has(b.label));
  // unset: diffs are kept until their full expires (pgBackRest)
  const retentionDiff = policy.retentionDiff;
  if (retentionDiff !== null && diffs.length > retentionDiff) {
    for (const diff of diffs.slice(0, diffs.length - retentionDiff)) reasons.set(diff.label, `repo1-retention-diff=${retentionDiff}`);
  }
  expireDependents(sorted, reasons);
  return {
    expire: sorted.filter((b) => reasons.has(b.label)).map((b) => ({ label: b.label, why: reasons.get(b.label) ?? '' })),
    keep: sorted.filter((b) => !reasons.has(b.label)).map((b) => b.label),
  };
}

/** A backup whose prior is expired goes with it (label order resolves a whole chain in one pass). */
function expireDependents(sorted: readonly RetentionBackup[], reasons: Map<string, string>): void {
  for (const backup of sorted) {
    if (reasons.has(backup.label) || backup.prior === null) continue;
    if (reasons.has(backup.prior)) reasons.set(backup.label, `depends on expired ${backup.prior}`);
  }
}
