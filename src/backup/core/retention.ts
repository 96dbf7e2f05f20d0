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

export type ArchiveRetentionType = 'full' | 'diff' | 'incr';

export interface ArchivePolicy {
  retentionArchive: number | null;
  retentionArchiveType: ArchiveRetentionType;
  retentionFull: number | null;
  retentionDiff: number | null;
}

export interface ArchiveRetentionBackup {
  label: string;
  dbId: number;
  walStart: string;
  walStop: string;
}

/** What expire keeps of one database's WAL archive. */
export interface ArchiveKeep {
  dbId: number;
  /** Keep everything (the current database before any backup of it). */
  keepAll: boolean;
  /** Keep every segment from this one on (the continuous range PITR replays), or null for none. */
  from: string | null;
  /** Segments kept for consistency: each kept backup's start..stop (its WAL cannot go). */
  ranges: { start: string; stop: string }[];
}

export interface ArchivePlan {
  keeps: ArchiveKeep[];
  /** The backup continuous WAL is kept from (the oldest counted by repo1-retention-archive). */
  retentionStart: string | null;
  warning: string | null;
}

/**
 * Archive retention, pgBackRest's rule: continuous WAL is kept from the start of the newest
 * `retentionArchive` backups of `retentionArchiveType` (full: full backups; diff: full and diff;
 * incr: all), which defaults to retention-full (type full) or retention-diff (type diff); older
 * kept backups keep only the WAL from their start to their stop (what makes them consistent).
 * A database of the stanza's history with no kept backup loses its WAL, except the current one.
 * `kept` are the backups expire keeps, any order.
 */
export function planArchiveRetention(
  kept: readonly ArchiveRetentionBackup[],
  dbIds: readonly number[],
  currentDbId: number,
  policy: ArchivePolicy,
): ArchivePlan {
  const sorted = [...kept].sort((a, b) => compareLabels(a.label, b.label));
  const counts = (label: string): boolean => {
    const type = parseLabel(label)?.type;
    return policy.retentionArchiveType === 'incr' || type === 'full' || (policy.retentionArchiveType === 'diff' && type === 'diff');
  };
  const defaultCount = policy.retentionArchiveType === 'full' ? policy.retentionFull : policy.retentionArchiveType === 'diff' ? policy.retentionDiff : null;
  const count = policy.retentionArchive ?? defaultCount;
  let warning: string | null = null;
  if (policy.retentionArchive === null && policy.retentionArchiveType !== 'full' && count === null) {
    warning = `option 'repo1-retention-archive' is not set: with repo1-retention-archive-type=${policy.retentionArchiveType}, WAL is kept from the oldest backup`;
  }
  const counted = sorted.filter((b) => counts(b.label));
  const start = count !== null && counted.length >= count && count > 0 ? (counted[counted.length - count] ?? null) : null;
  // without a retention start (too few backups), continuous WAL is kept from the oldest kept backup
  const continuityStart = start ?? sorted[0] ?? null;
  const keeps = dbIds.map((dbId): ArchiveKeep => {
    const own = sorted.filter((b) => b.dbId === dbId);
    if (own.length === 0) return { dbId, keepAll: dbId === currentDbId, from: null, ranges: [] };
    const continuous = continuityStart !== null && continuityStart.dbId === dbId;
    const newerDb = continuityStart !== null && continuityStart.dbId > dbId;
    const firstContinuous = continuous ? sorted.indexOf(continuityStart) : -1;
    return {
      dbId,
      keepAll: false,
      // a database older than the one continuous WAL starts in keeps ranges only; a newer one (backups taken after) keeps from its oldest
      from: continuous ? continuityStart.walStart : newerDb ? null : (own[0]?.walStart ?? null),
      ranges: own.filter((b) => !continuous || sorted.indexOf(b) < firstContinuous).map((b) => ({ start: b.walStart, stop: b.walStop })),
    };
  });
  return { keeps, retentionStart: start?.label ?? null, warning };
}
