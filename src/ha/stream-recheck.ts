/**
 * A replica just pointed at a (new) leader that does not stream yet, in its first seconds:
 *  - its published status (GET /patroni, the member key) would say 'not streaming' until the
 *    next loop_wait, and a switchover's pre-check would refuse it as a candidate for that long
 *    (seed topology, loop_wait 10): so the cycle looks again every second;
 *  - PostgreSQL waits wal_retrieve_retry_interval (5 s by default) after a failed connection
 *    before it tries again, and a reload wakes it from that wait at once. The usual failure is
 *    momentary: a rejoining node connects with its slot name before the leader's cycle has
 *    created the slot ("replication slot does not exist", or "is active" while it is being
 *    created). Measured in bench/chaos agent-etcd-cut: streaming 5.4 s after the heal in 2 of 5
 *    runs instead of 0.4-0.8 s. So, once a second in that window, PostgreSQL is reloaded.
 */
import type { Observation } from './core/types.js';

/** How soon, and for how long, a replica that does not stream yet is looked at (and nudged) again. */
export const STREAM_RECHECK_MS = 1000;
export const STREAM_RECHECK_FOR_MS = 5000;
/**
 * Not before: the first connection attempt after a repoint takes a few ms, and the leader's
 * cycle creates a new member's slot within about 100 ms of its member key. The cycle looks again
 * this long after a repoint (then every STREAM_RECHECK_MS).
 */
export const NUDGE_AFTER_MS = 500;

/**
 * When the cycle should look again at a replica that does not stream yet, or was pointed at a
 * new source in the last seconds; null when not needed. A repoint counts even when the probe
 * says 'streaming': PostgreSQL shows a starting WAL receiver as streaming before it has
 * connected, and the connection may still fail.
 */
export function streamRecheckAtMs(obs: Observation, repointedAtMs: number | null): number | null {
  const since = obs.postgres.notStreamingSinceMs;
  const recentlyRepointed = repointedAtMs !== null && obs.nowMs - repointedAtMs <= STREAM_RECHECK_FOR_MS;
  if (!recentlyRepointed && (since === null || obs.nowMs - since > STREAM_RECHECK_FOR_MS)) return null;
  // the first look comes NUDGE_AFTER_MS after the repoint, then one every STREAM_RECHECK_MS
  if (repointedAtMs !== null && repointedAtMs + NUDGE_AFTER_MS > obs.nowMs) return repointedAtMs + NUDGE_AFTER_MS;
  return obs.nowMs + STREAM_RECHECK_MS;
}

/**
 * Whether to reload PostgreSQL now so that its WAL receiver tries again: it does not stream, it
 * has had NUDGE_AFTER_MS to connect (counted from the repoint when that came first), and it was
 * not nudged in the last second. `lastNudgeMs`: the previous such reload, or null.
 */
export function walReceiverNudgeDue(obs: Observation, lastNudgeMs: number | null, repointedAtMs: number | null): boolean {
  const since = obs.postgres.notStreamingSinceMs;
  if (since === null || obs.postgres.followTarget === null || obs.nowMs - since > STREAM_RECHECK_FOR_MS) return false;
  const triedSinceMs = repointedAtMs === null ? since : Math.min(since, repointedAtMs);
  if (obs.nowMs - triedSinceMs < NUDGE_AFTER_MS) return false;
  return lastNudgeMs === null || obs.nowMs - lastNudgeMs >= STREAM_RECHECK_MS;
}

/**
 * A WAL receiver that says 'streaming' but has heard nothing from its source for this long, while
 * the source's member key shows WAL it has not received, sits on a dead connection: after a
 * network cut heals, TCP resumes it only at its next retransmission, which backs off to many
 * seconds (bench/chaos replica-isolated: streaming again 13-14 s after the heal, Patroni alike).
 * A source that writes sends continuously; an idle one has published nothing new (its position
 * equals ours), so a live stream never qualifies.
 */
export const SILENT_RECEIVER_MS = 5000;
/** At most one restart per this long: a source still unreachable gets no restart storm. */
export const RECEIVER_RESTART_EVERY_MS = 30_000;

export interface ReceiverFacts {
  inRecovery: boolean;
  status: string | null;
  pid: number | null;
  silentMs: number | null;
  receiveLsn: number | null;
  /** The WAL position the source last published in its member key (a fresh view's), or null. */
  sourcePublishedLsn: number | null;
}

/**
 * Whether to end the WAL receiver so that a new one connects afresh: the startup process starts
 * it again at once, its last attempt being older than wal_retrieve_retry_interval.
 * `lastRestartMs`: the previous such restart, or null.
 */
export function silentReceiverRestartDue(facts: ReceiverFacts, lastRestartMs: number | null, nowMs: number): boolean {
  if (!facts.inRecovery || facts.status !== 'streaming' || facts.pid === null) return false;
  if (facts.silentMs === null || facts.silentMs < SILENT_RECEIVER_MS) return false;
  if (facts.sourcePublishedLsn === null || facts.receiveLsn === null || facts.sourcePublishedLsn <= facts.receiveLsn) return false;
  return lastRestartMs === null || nowMs - lastRestartMs >= RECEIVER_RESTART_EVERY_MS;
}
