/**
 * Shared vocabulary of the HA rules: the facts derived once per cycle from an Observation
 * (do we hold the key, is PostgreSQL a primary, whom to follow) and small plan builders.
 * Pure: no node:* import, no clock, no randomness.
 */
import type { ClusterView, Member } from '../../../dcs/types.js';
import type { Action, LeaseGuard, MemberAddress, Observation, Plan, Why } from '../types.js';
import { parseConnUrl } from '../conn-url.js';

/** A cycle whose DCS read succeeded. */
export interface Ctx {
  obs: Observation;
  view: ClusterView;
  self: string;
  /** The leader key holds our name (whatever its lease). */
  keyNamesUs: boolean;
  /** The leader key holds our name and our current lease: updateLeaderKey can keep it. */
  hasLock: boolean;
  /** PostgreSQL runs and is not in recovery: it may be acknowledging commits. */
  isPrimary: boolean;
  leaderName: string | null;
}

export function makeCtx(obs: Observation, view: ClusterView): Ctx {
  const self = obs.self.name;
  const keyNamesUs = view.leader !== null && view.leader.name === self;
  const hasLock = keyNamesUs && view.leader !== null && (view.leader.leaseId === null || view.leader.leaseId === obs.lease.leaseId);
  const pg = obs.postgres;
  return {
    obs,
    view,
    self,
    keyNamesUs,
    hasLock,
    isPrimary: pg.running && !pg.starting && pg.role === 'primary',
    leaderName: view.leader === null ? failsafeLeaderName(obs) : view.leader.name,
  };
}

/**
 * failsafe_mode: a leader that reached us through POST /failsafe less than ttl ago still counts
 * as the leader when the key is gone (Patroni injects it into the cluster view): it keeps
 * acknowledging commits because we accepted, so we follow it and never race against it.
 */
export function failsafeLeaderName(obs: Observation): string | null {
  const heard = obs.failsafeLeader;
  if (!obs.config.failsafeMode || heard === null || heard.name === obs.self.name) return null;
  return obs.nowMs - heard.heardAtMs < obs.config.ttlMs ? heard.name : null;
}

export function plan(why: Why, ...actions: Action[]): Plan {
  return { actions, why };
}

/**
 * The fence margin: the lease guard fences at (keepalive send time) + ttl - margin. The margin is
 * retry_timeout (capped at ttl/2) because that is how long one keepalive attempt may take: with
 * loop_wait + 2*retry_timeout <= ttl, the guard fires only after the NEXT cycle's keepalive attempt
 * has had its full retry_timeout, and still leaves retry_timeout for the fence (a reload) to act
 * before the key can expire in etcd.
 */
export function fenceMarginMs(obs: Observation): number {
  return Math.max(1, Math.min(obs.config.retryTimeoutMs, Math.floor(obs.config.ttlMs / 2)));
}

export function leaseGuardOffsetMs(obs: Observation): number {
  return obs.config.ttlMs - fenceMarginMs(obs);
}

/**
 * When keel-fence, the process outside the agent, stops the postmaster: halfway between the
 * agent's own guard and the earliest instant the key can expire (ttl after the keepalive's send
 * time; etcd counts from its receipt, later still). An agent that runs fences first, gently
 * (commits block); one that is frozen or dead cannot, and this leaves fenceMargin/2 for the
 * immediate shutdown to finish before a replica can take the key (issue 10).
 */
export function processFenceOffsetMs(obs: Observation): number {
  return obs.config.ttlMs - Math.ceil(fenceMarginMs(obs) / 2);
}

/** The lease guard of a node that may be acknowledging commits. */
export function leaseGuardFor(obs: Observation): LeaseGuard {
  return { fenceAfterSentMs: leaseGuardOffsetMs(obs), stopAfterSentMs: processFenceOffsetMs(obs) };
}

/**
 * The send time our right to acknowledge commits counts from: the newest confirmed keepalive, or
 * the newest round of POST /failsafe every member accepted, whichever is later; null when neither.
 */
export function authoritySentMs(obs: Observation): number | null {
  const { lastConfirmedSentMs: lease, failsafeConfirmedSentMs: failsafe } = obs.lease;
  if (lease === null) return failsafe;
  return failsafe === null ? lease : Math.max(lease, failsafe);
}

/** The guard instant has passed (or the authority send time is unknown): fence before anything else. */
export function pastFencePoint(obs: Observation): boolean {
  const sent = authoritySentMs(obs);
  if (sent === null) return true;
  return obs.nowMs >= sent + leaseGuardOffsetMs(obs);
}

export function member(view: ClusterView, name: string): Member | undefined {
  return view.members.find((m) => m.name === name);
}

/**
 * Where `name`'s PostgreSQL is: its member key's conn_url, or — for a leader heard through POST
 * /failsafe whose key has expired — the conn_url it posted. Null when unknown.
 */
export function addressOf(ctx: Ctx, name: string): MemberAddress | null {
  const published = member(ctx.view, name)?.connUrl ?? null;
  const heard = ctx.obs.failsafeLeader;
  const connUrl = published ?? (heard !== null && heard.name === name ? heard.connUrl : null);
  const parsed = parseConnUrl(connUrl);
  return parsed === null ? null : { name, host: parsed.host, port: parsed.port };
}

/**
 * Whom PostgreSQL should stream from: the member named by our replicatefrom tag when it has a key,
 * else the leader; never ourselves (Patroni's _get_node_to_follow). `address` is null while that
 * member's conn_url is unknown.
 */
export function nodeToFollow(ctx: Ctx): { name: string; address: MemberAddress | null } | null {
  const from = ctx.obs.self.tags.replicatefrom;
  const name =
    from !== undefined && from !== ctx.self && member(ctx.view, from) !== undefined
      ? from
      : ctx.leaderName !== null && ctx.leaderName !== ctx.self
        ? ctx.leaderName
        : null;
  return name === null ? null : { name, address: addressOf(ctx, name) };
}

/** The address to follow, when known (for actions that start or rewind PostgreSQL). */
export function followAddress(ctx: Ctx): MemberAddress | null {
  return nodeToFollow(ctx)?.address ?? null;
}

/** Patroni's cluster.timeline: last history line's timeline + 1, or 1 with an empty history, 0 without. */
export function clusterTimeline(view: ClusterView): number {
  if (view.history === null) return 0;
  const lines = view.history.value;
  const last = lines[lines.length - 1];
  return last === undefined ? 1 : last.timeline + 1;
}

export function isValidSysid(value: string | null): value is string {
  return value !== null && value.length >= 10 && /^[0-9]+$/.test(value);
}

/** Tag rules: nofailover, or failover_priority 0, keeps a node out of every leader race. */
export function mayPromote(nofailover: boolean, failoverPriority: number | undefined): boolean {
  return !nofailover && failoverPriority !== 0;
}
