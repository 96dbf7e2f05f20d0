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
  /** Keep everything (archive retention not set, no backup yet, or the current database without backups). */
  keepAll: boolean;
  /** Keep every segment from this one on (the continuous range PITR replays), or null for none. */
  from: string | null;
  /** Segments kept for consistency: each older kept backup's start..stop (its WAL cannot go). */
  ranges: { start: string; stop: string }[];
}

export interface ArchivePlan {
  keeps: ArchiveKeep[];
  /** Why nothing is expired, or a caution (pgBackRest's INFO/WARN lines). */
  notice: string | null;
}

/**
 * Archive retention, pgBackRest's rule (expire's removeExpiredArchive). The retention count is
 * repo1-retention-archive, or by default retention-full (type full) or retention-diff (type diff);
 * unset, no WAL is expired. The newest `count` kept backups of the counted types (full: full;
 * diff: full and diff; incr: all) are retained; in each database of the stanza's history the
 * oldest retained backup of that database (when there are fewer than `count` fulls: its oldest
 * full; when none is retained: its newest backup) keeps continuous WAL from its start, and every
 * older backup of that database keeps its start..stop (what makes it consistent). A database
 * without counted backups loses its WAL, unless it is the current one. `kept`: any order.
 */
export function planArchiveRetention(
  kept: readonly ArchiveRetentionBackup[],
  dbIds: readonly number[],
  currentDbId: number,
  policy: ArchivePolicy,
): ArchivePlan {
  const keepAll = (notice: string): ArchivePlan => ({ keeps: dbIds.map((dbId) => ({ dbId, keepAll: true, from: null, ranges: [] })), notice });
  const defaultCount = policy.retentionArchiveType === 'full' ? policy.retentionFull : policy.retentionArchiveType === 'diff' ? policy.retentionDiff : null;
  const count = policy.retentionArchive ?? defaultCount;
  if (count === null) return keepAll("option 'repo1-retention-archive' is not set - archive logs will not be expired");
  const sorted = [...kept].sort((a, b) => compareLabels(a.label, b.label));
  const counted = (label: string): boolean => {
    const type = parseLabel(label)?.type;
    return policy.retentionArchiveType === 'incr' || type === 'full' || (policy.retentionArchiveType === 'diff' && type === 'diff');
  };
  const global = sorted.filter((b) => counted(b.label)).reverse(); // newest first
  if (global.length === 0) return keepAll('no backup to base archive retention on yet - archive logs will not be expired');
  const retained = new Set(global.slice(0, count).map((b) => b.label));
  const keeps = dbIds.map((dbId): ArchiveKeep => {
    const local = global.filter((b) => b.dbId === dbId).reverse(); // oldest first
    if (local.length === 0) return { dbId, keepAll: dbId === currentDbId, from: null, ranges: [] };
    let retention = count <= global.length ? local.find((b) => retained.has(b.label)) : policy.retentionArchiveType === 'full' ? local[0] : undefined;
    retention ??= local[local.length - 1] as ArchiveRetentionBackup;
    const older = sorted.filter((b) => b.dbId === dbId && compareLabels(b.label, retention.label) < 0);
    return { dbId, keepAll: false, from: retention.walStart, ranges: older.map((b) => ({ start: b.walStart, stop: b.walStop })) };
  });
  return { keeps, notice: null };
}
