/**
 * How often a member that does not lead renews its etcd lease (pure; no I/O, no clock).
 *
 * A replica's lease carries only its member key, yet each keepalive is an etcd round trip, and on
 * an idle replica that exchange was the largest single cost of a cycle (about 12% of its CPU,
 * side by side, issue 12). Patroni renews at most once per loop_wait (its _do_refresh_lease), which
 * in practice skips about every other cycle. keel does the same on purpose, when the timings leave
 * room for it:
 *  - a replica skips a cycle's keepalive when the last confirmed one is younger than 1.5 loop_wait
 *    (so at most every other cycle is skipped, whatever the cycles' jitter);
 *  - and only if the lease outlives the next cycle's keepalive attempt: the next cycle starts at
 *    most loop_wait (plus this cycle's own duration) later, and its keepalive may take
 *    retry_timeout to be confirmed. With Patroni's defaults (ttl 30, loop_wait 10,
 *    retry_timeout 10) there is no such room, and a replica keeps renewing every cycle.
 * A node that may lead (any lease guard), a cycle with a gate (the key it may take is put on this
 * lease), and a node without a lease or a confirmed keepalive always renew.
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
  return leaseOutlivesNextAttempt(config.loopWaitMs, config);
}

/**
 * How old the keepalive proving a replica's cached view may be: two cycles when it renews every
 * other cycle, else one (plus a cycle's own duration).
 */
export function replicaProofMaxAgeMs(config: Timings): number {
  return (replicaRenewsEveryOtherCycle(config) ? 2 : 1) * config.loopWaitMs + CYCLE_SLACK_MS;
}

/**
 * Whether a cycle of a member that does not lead may leave out its keepalive: `mayLead` is true
 * when the decision arms a lease guard, `actions` are the decision's top-level actions.
 */
export function replicaKeepaliveMayWait(config: Timings, lease: LeaseObservation, nowMs: number, mayLead: boolean, actions: readonly Action[]): boolean {
  if (mayLead || lease.leaseId === null || lease.lastConfirmedSentMs === null) return false;
  if (actions.some(isGate)) return false;
  const ageMs = nowMs - lease.lastConfirmedSentMs;
  return ageMs >= 0 && ageMs < 1.5 * config.loopWaitMs && leaseOutlivesNextAttempt(ageMs, config);
}

/** A keepalive confirmed `ageMs` ago keeps the lease alive through the next cycle's attempt. */
function leaseOutlivesNextAttempt(ageMs: number, config: Timings): boolean {
  return ageMs + config.loopWaitMs + CYCLE_SLACK_MS + config.retryTimeoutMs < config.ttlMs;
}
