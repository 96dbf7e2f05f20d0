/**
 * How often a member that does not lead renews its etcd lease (pure; no I/O, no clock).
 *
 * A replica's lease carries only its member key, yet each keepalive is an etcd round trip, and on
 * an idle replica that exchange was the largest single cost of a cycle (leaving every other one
 * out cut an idle replica's CPU by 8 to 12%, side by side, issue 12). Patroni renews at most once
 * per loop_wait (its _do_refresh_lease), which in practice skips about every other cycle. keel
 * does the same on purpose, when the timings leave room for it. A replica leaves a cycle's
 * keepalive out when:
 *  - the last confirmed one is about one cycle old: at least half a loop_wait, younger than 1.5.
 *    So at most one regular cycle's keepalive is left out in a row, and a cycle the watch woke
 *    soon after a keepalive renews: something changed, and its keepalive proves the next
 *    cycle's view (simulator, switchover seed 7026 at loop_wait 11: the candidate, woken by the
 *    key's release, decided on a view proven before it, left its keepalive out, and so decided
 *    on that view again 11 s later, when another replica had already taken the key);
 *  - and the lease outlives the next cycle's keepalive attempt. The next cycle starts loop_wait
 *    after this one did, or when this one ends; it sends its keepalive after its observation,
 *    taken as long as this cycle's (a divergence check or a peer fetch can take seconds); and
 *    that keepalive may take retry_timeout to be confirmed, plus a second of slack. With
 *    Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10) a regular cycle has such room
 *    only when the last keepalive went more than a second into its cycle: a replica renews
 *    nearly every cycle.
 * decide checks both as of its observation (Decision.keepaliveMayWait); the executor checks the
 * timing again at the instant the keepalive would go. The next cycle's observation may still be
 * slower than this one's: while a replica's cycles may leave keepalives out, the lease keeper
 * sends one of its own at ttl - retry_timeout - 1 s after the last confirmed one, should no
 * cycle have done so (keepaliveBackstopAfterSentMs; a timer moved by every keepalive, which
 * never wakes the agent while cycles renew in time). A node that may lead, a cycle with a gate
 * (the key it may take is put on this lease), and a node without a lease or a confirmed
 * keepalive always renew.
 *
 * The keepalive is also the proof that the watch-fed copy of the cluster is current
 * (src/dcs/prefix-cache.ts), so a replica that renews every other cycle accepts a proof two cycles
 * old (replicaProofMaxAgeMs); an older one makes its cycle read the prefix from etcd instead.
 */
import type { DynamicConfig } from '../../config/types.js';
import { isGate } from './plan.js';
import type { Action, LeaseObservation } from './types.js';

/** The longest a cycle's own work may delay the next one (as the cached view's proof slack). */
export const CYCLE_SLACK_MS = 1000;

type Timings = Pick<DynamicConfig, 'loopWaitMs' | 'ttlMs' | 'retryTimeoutMs'>;

/** Whether the timings let a replica renew its lease every other cycle (see the module comment). */
export function replicaRenewsEveryOtherCycle(config: Timings): boolean {
  return keepaliveTimingAllowsWait(config, 0, config.loopWaitMs, config.loopWaitMs);
}

/**
 * How old the keepalive proving a replica's cached view may be: two cycles when it renews every
 * other cycle, else one (plus a cycle's own duration).
 */
export function replicaProofMaxAgeMs(config: Timings): number {
  return (replicaRenewsEveryOtherCycle(config) ? 2 : 1) * config.loopWaitMs + CYCLE_SLACK_MS;
}

/**
 * Whether a cycle of a member that does not lead may leave out its keepalive, as of its
 * observation at `obsNowMs`: `mayLead` as decide computes it, `actions` the decision's top-level
 * actions.
 */
export function replicaKeepaliveMayWait(config: Timings, lease: LeaseObservation, obsNowMs: number, mayLead: boolean, actions: readonly Action[]): boolean {
  if (mayLead || lease.leaseId === null || lease.lastConfirmedSentMs === null) return false;
  if (actions.some(isGate)) return false;
  return keepaliveTimingAllowsWait(config, lease.lastConfirmedSentMs, obsNowMs, obsNowMs);
}

/**
 * When the lease keeper sends a keepalive of its own after the last confirmed one, for a replica
 * whose cycles leave theirs out: in time for it to be confirmed within retry_timeout, a second
 * before the lease would expire (a slow observation can delay the next cycle's keepalive past
 * what keepaliveTimingAllowsWait foresaw).
 */
export function keepaliveBackstopAfterSentMs(config: Timings): number {
  return config.ttlMs - config.retryTimeoutMs - CYCLE_SLACK_MS;
}

/**
 * The timing rule alone: the keepalive confirmed after being sent at `lastConfirmedSentMs` is
 * young enough, and the lease it renewed outlives the next cycle's attempt, for a cycle whose
 * observation started at `observedAtMs` and whose keepalive would be sent at `sendAtMs`.
 */
export function keepaliveTimingAllowsWait(config: Timings, lastConfirmedSentMs: number, observedAtMs: number, sendAtMs: number): boolean {
  const ageMs = sendAtMs - lastConfirmedSentMs;
  const observeMs = sendAtMs - observedAtMs;
  if (ageMs < 0.5 * config.loopWaitMs || observeMs < 0 || ageMs >= 1.5 * config.loopWaitMs) return false;
  const nextSendMs = Math.max(observedAtMs + config.loopWaitMs, sendAtMs) + observeMs;
  return nextSendMs - lastConfirmedSentMs + CYCLE_SLACK_MS + config.retryTimeoutMs < config.ttlMs;
}
