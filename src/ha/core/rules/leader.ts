/**
 * Rules for the holder of the leader key (Patroni's process_healthy_cluster with the lock and
 * enforce_primary_role): keep the key every cycle through the updateLeaderKey gate, then
 * either stay primary (unfence, watchdog, the duties of leader-duties.ts) or promote; when the key
 * cannot be kept, fence and demote without touching the key.
 */
import type { Action, Plan } from '../types.js';
import { watchdogBeforePromote, watchdogDisable, watchdogWhileLeader } from '../watchdog-logic.js';
import { type Ctx, pastFencePoint, plan } from './context.js';
import { fenceAndDemote } from './follow.js';
import { leaderDuties } from './leader-duties.js';
import { leaderSwitchover } from './switchover.js';
import { leaderSyncStep, syncPromotionVerdict } from './sync.js';

/**
 * What a confirmed leader does this cycle: stay primary, or promote a replica we hold the key for.
 * `raced`: the key was just won in a race that checked our right to promote under the sync key
 * (with the quorum votes); otherwise it is checked here, without votes.
 */
export function enforcePrimaryRole(ctx: Ctx, alreadyPrimaryWhy: Plan['why'], promoteWhy: Plan['why'], raced = false): Plan & { wakeInMs?: number } {
  const { obs } = ctx;
  if (ctx.isPrimary) {
    // Patroni's required mode: a primary whose watchdog cannot be (re)activated steps down and
    // lets the key go (a device that failed is reported unavailable: watchdog-device.ts).
    if (!obs.paused && obs.self.watchdogMode === 'required' && !obs.watchdog.available && !obs.watchdog.armed) {
      return plan(
        { kind: 'watchdogActivationFailed', promoting: false },
        { kind: 'fence' },
        { kind: 'demote' },
        { kind: 'releaseLeaderKey' },
        { kind: 'touchMember' },
      );
    }
    // Unfence even when the observation saw no fence: the lease guard may have fired between the
    // observation and the gate that just confirmed our lease (the executor skips a no-op unfence).
    const actions: Action[] = [{ kind: 'unfence' }];
    if (!obs.paused) actions.push(...watchdogWhileLeader(obs.self.watchdogMode, obs.watchdog));
    const switchover = leaderSwitchover(ctx);
    const steppingDown = switchover !== null && switchover.actions.some((a) => a.kind === 'stepDown');
    // The step-down runs its own CHECKPOINT: one background task per cycle.
    const duties = leaderDuties(ctx).filter((a) => !(steppingDown && a.kind === 'checkpoint'));
    // Synchronous replication last: its key write is a gate (and not while stepping down: the
    // setting must keep its standbys until the clean stop has sent them the last commit).
    const sync = steppingDown ? { actions: [] } : leaderSyncStep(ctx);
    actions.push(...duties, ...(switchover?.actions ?? []), { kind: 'touchMember' }, ...sync.actions);
    const wakes = [switchover?.wakeInMs, sync.wakeInMs].filter((w): w is number => w !== undefined);
    const wake = wakes.length === 0 ? {} : { wakeInMs: Math.min(...wakes) };
    return { actions, why: switchover?.why ?? alreadyPrimaryWhy, ...wake };
  }
  if (obs.asyncTask.running !== null && obs.asyncTask.running.kind === 'promote') {
    return plan({ kind: 'taskInProgress', task: 'promote' }, { kind: 'touchMember' });
  }
  const armFirst = watchdogBeforePromote(obs.self.watchdogMode, obs.watchdog);
  if (armFirst === null) {
    return plan({ kind: 'watchdogActivationFailed', promoting: true }, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
  }
  const failover = ctx.view.failover;
  const cleanup: Action[] = failover !== null ? [{ kind: 'deleteFailoverKey', modRevision: failover.modRevision }] : [];
  if (obs.config.synchronousMode === 'off') return plan(promoteWhy, ...armFirst, ...cleanup, { kind: 'promote' }, { kind: 'touchMember' });
  if (!raced) {
    const verdict = syncPromotionVerdict(ctx, null);
    if (!verdict.ok) return plan({ kind: 'notSyncStandbyReleasing', self: ctx.self }, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
  }
  // Synchronous mode (Patroni's prepromote): the key names us alone BEFORE we promote, with a
  // compare-and-swap on what we judged our right by; if it changed, promotion waits a cycle.
  const promote = plan(promoteWhy, { kind: 'promote' }, { kind: 'touchMember' });
  const postponed = plan({ kind: 'syncKeyChangedPostponing' }, { kind: 'touchMember' });
  const sync = ctx.view.sync;
  return plan(promoteWhy, ...armFirst, ...cleanup, {
    kind: 'writeSyncKey',
    value: { leader: ctx.self, syncStandbys: [], quorum: 0 },
    modRevision: sync?.modRevision ?? null,
    then: promote,
    else: postponed,
  });
}

/**
 * failsafe_mode, a primary that every member of the `failsafe` topology just vouched for (the
 * confirmFailsafe gate): it keeps acknowledging, lifting a fence the lease guard may have set.
 */
export function failsafeContinue(ctx: Pick<Ctx, 'obs'>): Plan {
  const { obs } = ctx;
  return plan({ kind: 'failsafeContinue' }, { kind: 'unfence' }, ...watchdogWhileLeader(obs.self.watchdogMode, obs.watchdog));
}

/** We hold the key (name and lease) and PostgreSQL runs. */
export function keepLeadership(ctx: Ctx): Plan & { preFence: boolean; wakeInMs?: number } {
  const { obs } = ctx;
  // A resumed agent (or one whose guard timer already fired) fences before any DCS round trip.
  const preFence = ctx.isPrimary && pastFencePoint(obs) && !obs.postgres.fenced;
  if (obs.paused && !ctx.isPrimary) {
    if (ctx.view.failover !== null && ctx.view.failover.value.candidate === ctx.self) {
      return { ...plan({ kind: 'waitingToBecomePrimary' }, { kind: 'refreshLease' }, { kind: 'touchMember' }), preFence: false };
    }
    return { ...plan({ kind: 'removedLockNotPrimary' }, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' }), preFence: false };
  }
  const kept = enforcePrimaryRole(ctx, { kind: 'leaderNoAction', self: ctx.self }, { kind: 'promotedHadLock', self: ctx.self });
  let lost: Plan;
  if (ctx.isPrimary && obs.paused) lost = plan({ kind: 'pausedLeaderUpdateFailed' }, { kind: 'touchMember' });
  else if (ctx.isPrimary) {
    const demote = fenceAndDemote(ctx, { kind: 'leaderUpdateFailedDemoted' });
    // Patroni's update_lock raising DCSError goes to _handle_dcs_error: in failsafe_mode the
    // members are asked, as after a failed read. etcd lost between this cycle's read and its
    // keepalive would otherwise demote a leader every member can still vouch for (simulator,
    // test/sim/failsafe-outage.test.ts: an outage starting just after the read).
    lost = obs.config.failsafeMode ? plan(demote.why, { kind: 'confirmFailsafe', then: failsafeContinue(ctx), else: demote }) : demote;
  } else {
    lost = plan({ kind: 'updateFailedNotPromoting' }, ...watchdogDisable(obs.watchdog), { kind: 'touchMember' });
  }
  const actions: Action[] = preFence ? [{ kind: 'fence' }] : [];
  actions.push({ kind: 'updateLeaderKey', then: { actions: kept.actions, why: kept.why }, else: lost });
  return { actions, why: kept.why, preFence, ...(kept.wakeInMs === undefined ? {} : { wakeInMs: kept.wakeInMs }) };
}
