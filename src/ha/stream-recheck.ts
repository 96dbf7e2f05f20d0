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
/** Not before: the first connection attempt after a repoint takes a few ms; a reload must not interrupt one that succeeds. */
const NUDGE_AFTER_MS = 500;

/** When the cycle should look again at a replica that does not stream yet; null when not needed. */
export function streamRecheckAtMs(obs: Observation): number | null {
  const since = obs.postgres.notStreamingSinceMs;
  if (since === null || obs.nowMs - since > STREAM_RECHECK_FOR_MS) return null;
  return obs.nowMs + STREAM_RECHECK_MS;
}

/** Whether to reload PostgreSQL now so that its WAL receiver tries again (`lastNudgeMs`: the previous reload for this, or null). */
export function walReceiverNudgeDue(obs: Observation, lastNudgeMs: number | null): boolean {
  const since = obs.postgres.notStreamingSinceMs;
  if (since === null || obs.postgres.followTarget === null) return false;
  const notStreamingMs = obs.nowMs - since;
  if (notStreamingMs < NUDGE_AFTER_MS || notStreamingMs > STREAM_RECHECK_FOR_MS) return false;
  return lastNudgeMs === null || obs.nowMs - lastNudgeMs >= STREAM_RECHECK_MS;
}
