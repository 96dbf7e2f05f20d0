/**
 * A synchronous standby that stopped confirming WAL (issue 10: "sync standby isolated: commits
 * blocked at most 2 s"). Pure.
 *
 * In synchronous mode every commit waits for the standbys synchronous_standby_names lists. One
 * that is cut off still shows as `streaming` in pg_stat_replication until wal_sender_timeout
 * (60 s by default) and its member key lives until its ttl, so without this rule commits stay
 * blocked for ~ttl (measured: 12.2 s; Patroni 3.0.2: 8.8–10.9 s).
 *
 * The sign used is the primary's own: WAL it has flushed (so sent, or sendable) that the standby
 * has not confirmed, with the standby's confirmed position not moving. A healthy standby flushes
 * what it receives within milliseconds and replies at once; a slow one still moves. The time is
 * counted on the agent's monotonic clock between samples of the same server, never from the
 * standby's reply_time (another host's clock).
 *
 * A stalled standby is only passed over in favour of one that is not (rules/sync.ts): a stall is
 * a reason to prefer another standby, never a reason to acknowledge commits with fewer copies than
 * synchronous mode asks for.
 */

/** A standby behind the primary's flushed WAL, its confirmed position unmoved this long, is stalled. */
export const SYNC_STALL_MS = 1000;

export interface StandbyProgressSample {
  name: string;
  /** WAL the standby has confirmed as flushed (bytes), null when it has not said. */
  flushLsnBytes: number | null;
}

export interface ReplicationSample {
  /** The primary's flushed WAL (bytes): pg_current_wal_flush_lsn(). */
  primaryFlushBytes: number;
  standbys: readonly StandbyProgressSample[];
}

/** Per standby: the position last seen and since when it has been behind without moving. */
export interface StandbyProgress {
  flushLsnBytes: number | null;
  /** Monotonic ms of the first sample that found it behind at this position; null when caught up. */
  behindSinceMs: number | null;
}

export type ReplicationProgress = ReadonlyMap<string, StandbyProgress>;

/** The progress after one more sample taken at `nowMs`. Standbys gone from the sample are forgotten. */
export function noteReplicationSample(previous: ReplicationProgress, sample: ReplicationSample, nowMs: number): ReplicationProgress {
  const next = new Map<string, StandbyProgress>();
  for (const standby of sample.standbys) {
    const before = previous.get(standby.name);
    const flush = standby.flushLsnBytes;
    const behind = flush === null || flush < sample.primaryFlushBytes;
    if (!behind) next.set(standby.name, { flushLsnBytes: flush, behindSinceMs: null });
    else if (before === undefined || before.flushLsnBytes !== flush || before.behindSinceMs === null)
      next.set(standby.name, { flushLsnBytes: flush, behindSinceMs: nowMs });
    else next.set(standby.name, before);
  }
  return next;
}

/** How long `name` has been stalled at `nowMs` (0: it is not, or was never sampled). */
export function stalledForMs(progress: ReplicationProgress, name: string, nowMs: number): number {
  const since = progress.get(name)?.behindSinceMs ?? null;
  return since === null ? 0 : Math.max(0, nowMs - since);
}
