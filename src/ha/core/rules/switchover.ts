/**
 * Switchover and manual failover: the `failover` key (Patroni's manual_failover), written by POST
 * /switchover or /failover, `keel switchover` or patronictl.
 *
 * The leader (Patroni's process_manual_failover_from_leader): waits for a scheduled time, clears a
 * request that names another leader, names itself, is stale or cannot be served, and otherwise
 * steps down — CHECKPOINT and a clean (fast) stop as a background task; the next cycle, with
 * PostgreSQL down, writes its final WAL position to `status`, releases the key and starts as a
 * replica of the candidate. Releasing only once PostgreSQL is down is what makes a switchover lose
 * no acknowledged commit: nothing can be acknowledged after the stop, and a clean stop sends the
 * last WAL to the replicas before the postmaster exits.
 *
 * The others, once the key is free (Patroni's manual_failover_process_no_leader): the candidate
 * takes the key; the rest stand aside while the candidate is alive; if it is not, everyone but the
 * former leader races; the former leader takes the key back only when no
 * other member could.
 */
import type { FailoverRequest, Versioned } from '../../../dcs/types.js';
import type { Action, PeerStatus, Plan, Why } from '../types.js';
import { type Ctx, addressOf, mayPromote, member, plan } from './context.js';
import { activeSyncKey } from './sync.js';

/** A request asks for something (Patroni: a non-empty failover key; `{}` is what clearing writes). */
export function isPending(request: FailoverRequest | undefined): boolean {
  return request !== undefined && (request.leader !== undefined || request.candidate !== undefined);
}

/** Milliseconds since the epoch of the observation's wall clock (what people schedule in). */
export function wallNowMs(wallTimeIso: string): number {
  return Date.parse(wallTimeIso);
}

/** The scheduled instant of a request, null when it has none, NaN when it cannot be parsed. */
export function scheduledAtMs(request: FailoverRequest): number | null {
  return request.scheduledAt === undefined ? null : Date.parse(request.scheduledAt);
}

/**
 * The request to act on now: pending and not scheduled later than `nowWallMs`. A request whose
 * time has not come yet is for the leader to wait on; everybody else ignores it until then.
 */
export function requestDueNow(failover: Versioned<FailoverRequest> | null, nowWallMs: number): Versioned<FailoverRequest> | null {
  if (failover === null || !isPending(failover.value)) return null;
  const at = scheduledAtMs(failover.value);
  return at !== null && !Number.isNaN(at) && at > nowWallMs ? null : failover;
}

/** What a peer's fitness to take over is judged against. */
export interface TakeOverLimits {
  /** The primary's WAL position (bytes) the lag is measured from; null: unknown (no lag check). */
  primaryWalBytes: number | null;
  maximumLagBytes: number;
  /** check_timeline: a peer behind this timeline cannot take over; null: no check. */
  minTimeline: number | null;
  /**
   * Before a switchover: it must be a running replica that streams. Not once the leader is gone:
   * the candidate's WAL receiver lost its source with the old leader, and a promoting candidate
   * already reports itself primary.
   */
  requireStreamingReplica: boolean;
}

/**
 * Why a peer cannot take over, or null when it can (Patroni's failover_limitation — reachable,
 * may promote, watchdog — plus keel's: running as a streaming replica, within the lag limit).
 * Shared by the leader's check before stepping down and the REST pre-check.
 */
export function takeOverLimitation(peer: PeerStatus, limits: TakeOverLimits): string | null {
  if (!peer.reachable) return 'not reachable';
  if (!peer.running) return 'not running';
  if (!mayPromote(peer.nofailover, peer.failoverPriority)) return 'not allowed to promote';
  if (peer.watchdogFailed) return 'not watchdog capable';
  if (limits.requireStreamingReplica) {
    if (peer.role !== 'replica') return `not a replica (${peer.role ?? 'unknown role'})`;
    if (peer.streaming === false) return 'not streaming';
  }
  if (limits.primaryWalBytes !== null) {
    const lag = limits.primaryWalBytes - (peer.walPositionBytes ?? 0);
    if (peer.walPositionBytes === null) return 'at an unknown WAL position';
    if (lag > limits.maximumLagBytes) return `lagging ${lag} bytes behind (maximum_lag_on_failover ${limits.maximumLagBytes})`;
  }
  if (limits.minTimeline !== null && (peer.timeline ?? 0) < limits.minTimeline) return `on timeline ${peer.timeline ?? 0}, behind ${limits.minTimeline}`;
  return null;
}

/**
 * `beforeStepDown`: the leader's check of its switchover targets (streaming, lag behind its own
 * WAL); else, with the key free, Patroni's failover_limitation and the lag behind `status.optime`
 * (which the stepping-down leader set to its last WAL position).
 */
function peerCannotTakeOver(ctx: Ctx, peer: PeerStatus, beforeStepDown: boolean): string | null {
  const { obs } = ctx;
  const optime = ctx.view.status?.optime ?? 0;
  return takeOverLimitation(peer, {
    primaryWalBytes: beforeStepDown ? (obs.postgres.walPositionBytes ?? optime) : optime,
    maximumLagBytes: obs.config.maximumLagOnFailoverBytes,
    minTimeline: beforeStepDown && obs.config.checkTimeline ? obs.postgres.timeline : null,
    requireStreamingReplica: beforeStepDown,
  });
}

/** The members a switchover may go to: the named candidate, or every other member with an API (Patroni's is_failover_possible). */
function switchoverTargets(ctx: Ctx, request: FailoverRequest): PeerStatus[] {
  const peers = ctx.obs.peers ?? [];
  // Synchronous mode: only a standby the sync key lists may take over without losing commits.
  const sync = activeSyncKey(ctx);
  return peers.filter(
    (p) =>
      p.name !== ctx.self &&
      (sync === null || sync.syncStandbys.includes(p.name)) &&
      (request.candidate === undefined ? member(ctx.view, p.name)?.apiUrl != null : p.name === request.candidate),
  );
}

/** Why no target can take over, or null when one can. */
function noTargetReason(ctx: Ctx, request: FailoverRequest): string | null {
  const targets = switchoverTargets(ctx, request);
  const sync = activeSyncKey(ctx);
  if (sync !== null && targets.length === 0) {
    return request.candidate !== undefined && !sync.syncStandbys.includes(request.candidate)
      ? `candidate ${request.candidate} is not a synchronous standby`
      : 'no synchronous standby to hand over to';
  }
  if (request.candidate !== undefined) {
    const candidate = targets[0];
    if (candidate === undefined) return `candidate ${request.candidate} does not exist`;
    const reason = peerCannotTakeOver(ctx, candidate, true);
    return reason === null ? null : `candidate ${request.candidate} is ${reason}`;
  }
  if (targets.length === 0) return 'the cluster has no members except the leader';
  return targets.some((p) => peerCannotTakeOver(ctx, p, true) === null) ? null : 'no good candidates have been found';
}

function clear(failover: Versioned<FailoverRequest>, reason: string): { actions: Action[]; why: Why } {
  return { actions: [{ kind: 'deleteFailoverKey', modRevision: failover.modRevision }], why: { kind: 'switchoverCleared', reason } };
}

/**
 * What the leader does about the failover key this cycle, after its key was confirmed: null when
 * there is nothing to do; otherwise actions to append (a key clean-up, or the step-down task), the
 * why to report, and possibly when to wake for a scheduled switchover.
 */
export function leaderSwitchover(ctx: Ctx): { actions: Action[]; why: Why; wakeInMs?: number } | null {
  const { obs, view } = ctx;
  const failover = view.failover;
  if (failover === null || !isPending(failover.value)) return null;
  const request = failover.value;
  const nowWall = wallNowMs(obs.wallTimeIso);
  const at = scheduledAtMs(request);
  if (at !== null) {
    if (Number.isNaN(at)) return clear(failover, `cannot parse scheduled_at ${JSON.stringify(request.scheduledAt)}`);
    if (at > nowWall) return { actions: [], why: { kind: 'switchoverScheduled', at: request.scheduledAt ?? '', inMs: at - nowWall }, wakeInMs: at - nowWall };
    // Patroni: a scheduled request more than 1.5 loop_wait late was missed (the leader was down): drop it.
    if (at < nowWall - 1.5 * obs.config.loopWaitMs) return clear(failover, `found a stale scheduled switchover (${request.scheduledAt ?? ''})`);
  }
  if (request.leader !== undefined && request.leader !== ctx.self) return clear(failover, `leader name does not match: ${request.leader} != ${ctx.self}`);
  if (request.candidate === ctx.self) return clear(failover, 'I am already the leader, no need to failover');
  if (obs.paused && request.candidate === undefined) return clear(failover, 'switchover is possible only to a specific candidate in a paused state');
  const last = obs.asyncTask.lastResult;
  if (last !== null && last.kind === 'stepdown' && !last.ok && last.target === String(failover.modRevision)) {
    return clear(failover, `stepping down failed: ${last.message}`);
  }
  // Without the members' status (not fetched this cycle) nothing can be judged yet: look again soon.
  if (obs.peers === null) return { actions: [], why: { kind: 'switchoverCheckingMembers' }, wakeInMs: 100 };
  const reason = noTargetReason(ctx, request);
  if (reason !== null) return clear(failover, `${reason}, failover is not possible`);
  return {
    actions: [{ kind: 'stepDown', failoverRevision: failover.modRevision }],
    why: { kind: 'switchoverSteppingDown', self: ctx.self, candidate: request.candidate ?? null },
  };
}

/**
 * The key holder after its step-down stopped PostgreSQL cleanly: record the final WAL position (the
 * candidate's lag is judged against it), release the key, and start as a replica of the candidate
 * (it keeps streaming across the candidate's promotion; no pg_rewind after a clean stop). Null
 * when this is not that moment — e.g. the request was cancelled meanwhile: then PostgreSQL is
 * started again with the key, as after any stop, and promoted.
 */
export function handOverAfterStepDown(ctx: Ctx): Plan | null {
  const { obs, view } = ctx;
  const last = obs.asyncTask.lastResult;
  if (!ctx.keyNamesUs || obs.postgres.running || last === null || last.kind !== 'stepdown' || !last.ok) return null;
  if (view.failover === null || !isPending(view.failover.value)) return null;
  const candidate = view.failover.value.candidate ?? null;
  const optime = obs.postgres.walPositionBytes;
  const status: Action[] = optime === null ? [] : [{ kind: 'writeStatus', optimeBytes: optime }];
  const follow = candidate === null ? null : addressOf(ctx, candidate);
  return plan(
    { kind: 'switchoverHandingOver', self: ctx.self, candidate },
    ...status,
    { kind: 'releaseLeaderKey' },
    { kind: 'startAsReplica', follow },
    { kind: 'touchMember' },
  );
}

/** How a member races while a manual failover is under way. */
export type ManualFailoverVerdict =
  | { kind: 'none' }
  /** We are the candidate: take the key (no priority or position comparison with the others, as Patroni). */
  | { kind: 'candidate' }
  | { kind: 'standAside'; reason: string }
  /** Race, comparing only with the peers not excluded (the lag limit still holds: keel, not Patroni). */
  | { kind: 'raceWithout'; excluded: string[] };

/** How a non-leader treats a pending failover request when the key is free. */
export function manualFailoverVerdict(ctx: Ctx): ManualFailoverVerdict {
  const failover = requestDueNow(ctx.view.failover, wallNowMs(ctx.obs.wallTimeIso));
  if (failover === null) return { kind: 'none' };
  const request = failover.value;
  // The lag limit is not judged here: isHealthiest applies it to every member, the candidate too.
  if (request.candidate === ctx.self) return { kind: 'candidate' };
  const peers = ctx.obs.peers ?? [];
  const excluded: string[] = [];
  if (request.candidate !== undefined) {
    const candidate = peers.find((p) => p.name === request.candidate);
    if (candidate !== undefined && peerCannotTakeOver(ctx, candidate, false) === null)
      return { kind: 'standAside', reason: `manual failover to ${request.candidate}` };
    excluded.push(request.candidate);
  }
  if (request.leader === ctx.self) {
    // The former leader takes the key back only when nobody else can (Patroni).
    const other = peers.find((p) => !excluded.includes(p.name) && peerCannotTakeOver(ctx, p, false) === null);
    if (other !== undefined) return { kind: 'standAside', reason: `switched over from me; ${other.name} can take over` };
    return { kind: 'raceWithout', excluded };
  }
  if (request.leader !== undefined) excluded.push(request.leader);
  return { kind: 'raceWithout', excluded };
}
