/**
 * decide(): one HA cycle as a pure function — Observation in, Decision (ordered actions + typed
 * reason + lease guard) out. No I/O, no clock (obs.nowMs is now), no randomness, no node:* import.
 *
 * The order of the checks follows Patroni's _run_cycle (DCS error, task in progress, end of
 * bootstrap, empty data directory, system identifier, PostgreSQL down, leader race, leader, follower);
 * each branch lives in src/ha/rules/*. Safety rules every branch keeps:
 *  - a node that may be acknowledging commits and cannot prove its lease fences BEFORE anything else;
 *  - promotion only ever follows a successful acquireLeaderKey/updateLeaderKey gate in the same cycle;
 *  - PostgreSQL is (re)started in recovery only; a primary without the key is fenced then demoted.
 */
import type { Action, Decision, LeaseGuard, Observation, Plan, Why } from './types.js';
import { assertWellFormed, planMayPromote } from './plan.js';
import { replicaKeepaliveMayWait } from './lease-renewal.js';
import { watchdogDisable, watchdogWhileLeader } from './watchdog-logic.js';
import { type Ctx, isValidSysid, leaseGuardFor, leaseGuardOffsetMs, makeCtx, pastFencePoint, plan } from './rules/context.js';
import { bootstrapEmpty, checkSystemId, finishBootstrap } from './rules/bootstrap.js';
import { fenceAndDemote, follow } from './rules/follow.js';
import { failsafeContinue, keepLeadership } from './rules/leader.js';
import { raceOrFollow } from './rules/race.js';
import { handOverAfterStepDown } from './rules/switchover.js';
import { recoverStopped } from './rules/recover.js';

export { fenceMarginMs, leaseGuardOffsetMs, processFenceOffsetMs } from './rules/context.js';
export { isGate, resolvePlan } from './plan.js';

export function decide(obs: Observation): Decision {
  const decision = decideUnchecked(obs);
  assertWellFormed(decision);
  return decision;
}

function decideUnchecked(obs: Observation): Decision {
  const gateValidForMs = leaseGuardOffsetMs(obs);
  if (!obs.dcs.ok) return { ...dcsUnreachable(obs, obs.dcs.sinceMs), gateValidForMs };
  const ctx = makeCtx(obs, obs.dcs.view);
  const chosen = decideWithView(ctx);
  // A promotion still running counts too: the cycle right after the take may not see the key yet
  // (the watch-fed view lags our own write), and a null guard would stand keel-fence down while
  // the server becomes a primary (simulator, frozen-unguarded seed 110: the agent frozen right
  // after the take, its promoted server acknowledged on, unguarded, after the key expired).
  const promoting = planMayPromote(chosen) || obs.asyncTask.running?.kind === 'promote';
  const mayLead = ctx.isPrimary || ctx.keyNamesUs || promoting;
  const wake = chosen.wakeInMs === undefined ? {} : { wakeInMs: chosen.wakeInMs };
  const leaseGuard = guardFor(obs, ctx.isPrimary || promoting, mayLead);
  // A replica renews its lease every other cycle when the timings allow it (lease-renewal.ts).
  const wait = replicaKeepaliveMayWait(obs.config, obs.lease, obs.nowMs, mayLead, chosen.actions) ? { keepaliveMayWait: true as const } : {};
  return { actions: chosen.actions, why: chosen.why, leaseGuard, gateValidForMs, ...wake, ...wait };
}

/**
 * The lease guard is armed whenever we may be acknowledging commits while our key can expire.
 * In pause too, for a running primary (keel, not Patroni): the key still expires when it cannot
 * be refreshed, and replicas race for it as soon as the pause ends — a paused leader cut off from
 * the DCS would otherwise keep acknowledging next to the new one (simulator, seed 1517). The
 * guard only fences, which the next confirmed keepalive lifts; pause still means no demote, no
 * promotion, no restart.
 */
function guardFor(obs: Observation, primaryOrPromoting: boolean, mayLead: boolean): LeaseGuard | null {
  if (!mayLead) return null;
  return obs.paused && !primaryOrPromoting ? null : leaseGuardFor(obs);
}

/**
 * Patroni's _handle_dcs_error, with the lease guard: a primary that cannot reach the DCS fences and
 * demotes once retry_timeout has passed (or at once past the fence point). In failsafe_mode it
 * first asks every member (confirmFailsafe): when all accept, it keeps acknowledging — lifting a
 * fence the guard may have set meanwhile — since none of them will race for the key before the
 * POSTs' send time + ttl, and the guard now counts from that send time.
 */
function dcsUnreachable(obs: Observation, sinceMs: number): Omit<Decision, 'gateValidForMs'> {
  const pg = obs.postgres;
  const isPrimary = pg.running && !pg.starting && pg.role === 'primary';
  const guard = leaseGuardFor(obs);
  // A promotion in flight may finish at any moment: its guard stays armed through the outage.
  const promoting = obs.asyncTask.running?.kind === 'promote';
  if (!isPrimary) return { actions: [], why: { kind: 'dcsUnreachable' }, leaseGuard: promoting && !obs.paused ? guard : null };
  // Paused: no demote, but the guard stays armed (see guardFor).
  if (obs.paused) return { actions: [], why: { kind: 'dcsUnreachable' }, leaseGuard: guard };
  const fence: Action[] = pg.fenced ? [] : [{ kind: 'fence' }];
  const giveUp = obs.nowMs - sinceMs >= obs.config.retryTimeoutMs || pastFencePoint(obs);
  const alone: Plan = giveUp
    ? plan({ kind: 'dcsUnreachableDemoted' }, ...fence, { kind: 'demote' }, ...watchdogDisable(obs.watchdog))
    : plan({ kind: 'dcsUnreachable' });
  if (!obs.config.failsafeMode) return { ...alone, leaseGuard: guard };
  const keep = failsafeContinue({ obs });
  return { actions: [{ kind: 'confirmFailsafe', then: keep, else: alone }], why: keep.why, leaseGuard: guard };
}

function decideWithView(ctx: Ctx): Plan & { wakeInMs?: number } {
  const { obs, view } = ctx;
  const pg = obs.postgres;
  if (obs.asyncTask.running !== null) return taskInProgress(ctx);
  const finished = finishBootstrap(ctx);
  if (finished !== null) return finished;
  if (pg.dataDir !== 'initialized') return bootstrapEmpty(ctx);
  const refused = checkSystemId(ctx);
  if (refused !== null) return refused;
  const adopt: Action[] =
    view.initialize === null && ctx.leaderName === null && !obs.paused && isValidSysid(pg.systemIdentifier)
      ? [{ kind: 'writeInitialize', systemIdentifier: pg.systemIdentifier, create: true }]
      : [];
  const rest = decideInitialized(ctx);
  return { ...rest, actions: [...adopt, ...rest.actions] };
}

function decideInitialized(ctx: Ctx): Plan & { wakeInMs?: number } {
  const pg = ctx.obs.postgres;
  if (!pg.running) return handOverAfterStepDown(ctx) ?? recoverStopped(ctx);
  if (pg.starting) return startingUp(ctx);
  if (ctx.leaderName === null) return raceOrFollow(ctx);
  if (ctx.keyNamesUs) {
    const kept = keepLeadership(ctx);
    // Our name on another lease (a previous agent process): its expiry is unknown, fence first.
    if (!ctx.hasLock && ctx.isPrimary && !kept.preFence && !pg.fenced) return { ...kept, actions: [{ kind: 'fence' }, ...kept.actions] };
    return kept;
  }
  // No key but a leader heard through POST /failsafe (see failsafeLeaderName): follow it.
  const followWhy: Why =
    ctx.view.leader === null
      ? { kind: 'failsafeFollowing', self: ctx.self, leader: ctx.leaderName }
      : { kind: 'followingNoAction', self: ctx.self, leader: ctx.leaderName };
  return follow(ctx, { kind: 'demotingNoLock' }, followWhy);
}

/** PostgreSQL accepts no connections yet (after a start task finished). */
function startingUp(ctx: Ctx): Plan {
  if (!ctx.keyNamesUs) return plan({ kind: 'postgresStartingUp', msLeft: null }, { kind: 'refreshLease' }, { kind: 'touchMember' });
  const kept = plan({ kind: 'postgresStartingUp', msLeft: null }, { kind: 'touchMember' });
  const lost = plan({ kind: 'startingAsSecondary' }, { kind: 'touchMember' });
  return plan(kept.why, { kind: 'updateLeaderKey', then: kept, else: lost });
}

/** Patroni's handle_long_action_in_progress: keep the key during the task, or stop being primary. */
function taskInProgress(ctx: Ctx): Plan {
  const { obs } = ctx;
  const task = obs.asyncTask.running;
  if (task === null) throw new Error('taskInProgress without a task');
  if (ctx.keyNamesUs && !obs.paused) {
    const preFence: Action[] = ctx.isPrimary && !obs.postgres.fenced && (pastFencePoint(obs) || !ctx.hasLock) ? [{ kind: 'fence' }] : [];
    const unfence: Action[] = ctx.isPrimary && (obs.postgres.fenced || preFence.length > 0) ? [{ kind: 'unfence' }] : [];
    // The watchdog armed before promoting is kept alive while the promotion runs, too.
    const wd: Action[] = ctx.isPrimary || task.kind === 'promote' ? watchdogWhileLeader(obs.self.watchdogMode, obs.watchdog) : [];
    const kept = plan({ kind: 'leaderKeyKeptDuringTask', task: task.kind }, ...unfence, ...wd, { kind: 'touchMember' });
    const lost: Plan =
      ctx.isPrimary || task.kind === 'promote'
        ? fenceAndDemote(ctx, { kind: 'lostLockDuringTask', task: task.kind })
        : plan({ kind: 'lostLockDuringTask', task: task.kind }, { kind: 'touchMember' });
    return plan(kept.why, ...preFence, { kind: 'updateLeaderKey', then: kept, else: lost });
  }
  if (ctx.isPrimary && !obs.paused && task.kind !== 'bootstrap') {
    return fenceAndDemote(ctx, ctx.keyNamesUs ? { kind: 'lostLockDuringTask', task: task.kind } : { kind: 'demotingNoLock' });
  }
  return plan({ kind: 'taskInProgress', task: task.kind }, { kind: 'refreshLease' }, { kind: 'touchMember' });
}
