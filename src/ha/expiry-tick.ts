/**
 * Where a leader's cycles fall against etcd's lease-expiry tick.
 *
 * etcd revokes expired leases on a tick: every 500 ms its leader looks for leases past their
 * expiry (the lessor's run loop, a Go ticker, so the tick keeps its phase while that etcd member
 * leads). A dead leader's key therefore goes ttl after its last keepalive plus the wait for the
 * next tick: up to 500 ms more, depending on where in the tick that keepalive fell.
 *
 * A new leader takes over on the watch event of its predecessor's key going, which arrives a few
 * milliseconds after a tick; its next cycles come every loop_wait (whole seconds, a multiple of
 * the tick) after that one, so every keepalive it sends falls just after a tick, the worst place:
 * should it die, its key would outlive ttl by almost a full tick. bench/failover measured it: in
 * the fast setting, kill -> lease expiry was 10.28-10.42 s for keel in every rep, against
 * 10.09-10.18 s for Patroni in 11 of 12, whose keepalive goes at the end of a longer cycle
 * (2026-12-06; 10.02-10.11 s for keel once its cycles moved).
 *
 * So a leader that saw its predecessor's key go moves its next cycle a little earlier (never
 * later, at most one tick), to start `KEEPALIVE_LEAD_MS` before a tick: its keepalive, sent a few
 * ms into the cycle, is renewed just before a tick, and its key, should it die, goes at the tick
 * after ttl. The lease itself is unchanged (ttl after the last keepalive, as configured); only the
 * wait for etcd's tick after it shrinks. When the reference is not a tick (a key deleted by a
 * switchover, an etcd leader that changed since), the cycle lands at a phase no worse than any.
 */

import type { WatchEvent } from '../dcs/types.js';

/** etcd's lease-expiry tick (server/lease/lessor.go, runLoop). */
export const ETCD_EXPIRY_TICK_MS = 500;
/**
 * How long before a tick the leader's cycle starts: its keepalive is the cycle's first request
 * (ClusterState.read; it came after a quorum read and the PostgreSQL probe, 3 to 10 ms in the
 * sandbox, until 2026-12-06), and must reach etcd before the tick however late the cycle's timer.
 */
export const KEEPALIVE_LEAD_MS = 100;

/**
 * The latest instant no later than `dueMs` that is `leadMs` before a tick of the grid through
 * `tickAtMs` (every `tickMs`); null when that instant is not after `nowMs` (no earlier cycle then).
 */
export function beforeExpiryTick(
  dueMs: number,
  tickAtMs: number,
  nowMs: number,
  tickMs: number = ETCD_EXPIRY_TICK_MS,
  leadMs: number = KEEPALIVE_LEAD_MS,
): number | null {
  const offset = (((dueMs - (tickAtMs - leadMs)) % tickMs) + tickMs) % tickMs;
  const aligned = dueMs - offset;
  return aligned > nowMs ? aligned : null;
}

/**
 * The agent's side: remembers when the watch last reported the leader key deleted (a lease that
 * expired goes at a tick), and gives a leader's next cycle start, moved before a tick.
 */
export class ExpiryTickAligner {
  private leaderKeyGoneAtMs: number | null = null;

  /** A watch event: a deleted leader key (not a member named "leader") is a tick reference. */
  watched(event: WatchEvent, nowMs: number): void {
    if (event.kind === 'changed' && event.deleted.some((key) => key.endsWith('/leader') && !key.endsWith('/members/leader'))) {
      this.leaderKeyGoneAtMs = nowMs;
    }
  }

  /** The next cycle's start for a leader whose cycle is due at `dueMs`, when moved; null otherwise. */
  nextCycleStart(leading: boolean, dueMs: number, nowMs: number): number | null {
    const goneAt = this.leaderKeyGoneAtMs;
    return leading && goneAt !== null ? beforeExpiryTick(dueMs, goneAt, nowMs) : null;
  }
}
