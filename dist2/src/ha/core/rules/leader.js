import { watchdogBeforePromote, watchdogDisable, watchdogWhileLeader } from '../watchdog-logic.js';
import { pastFencePoint, plan } from './context.js';
import { fenceAndDemote } from './follow.js';
import { leaderDuties } from './leader-duties.js';
import { leaderSwitchover } from './switchover.js';
/** What a confirmed leader does this cycle: stay primary, or promote a replica we hold the key for. */
export function enforcePrimaryRole(ctx, alreadyPrimaryWhy, promoteWhy) {
    const { obs } = ctx;
    if (ctx.isPrimary) {
        // Unfence even when the observation saw no fence: the lease guard may have fired between the
        // observation and the gate that just confirmed our lease (the executor skips a no-op unfence).
        const actions = [{ kind: 'unfence' }];
        if (!obs.paused)
            actions.push(...watchdogWhileLeader(obs.self.watchdogMode, obs.watchdog));
        const switchover = leaderSwitchover(ctx);
        const steppingDown = switchover !== null && switchover.actions.some((a) => a.kind === 'stepDown');
        // The step-down runs its own CHECKPOINT: one background task per cycle.
        const duties = leaderDuties(ctx).filter((a) => !(steppingDown && a.kind === 'checkpoint'));
        actions.push(...duties, ...(switchover?.actions ?? []), { kind: 'touchMember' });
        const wake = switchover?.wakeInMs === undefined ? {} : { wakeInMs: switchover.wakeInMs };
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
    const cleanup = failover !== null ? [{ kind: 'deleteFailoverKey', modRevision: failover.modRevision }] : [];
    return plan(promoteWhy, ...armFirst, ...cleanup, { kind: 'promote' }, { kind: 'touchMember' });
}
/** We hold the key (name and lease) and PostgreSQL runs. */
export function keepLeadership(ctx) {
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
    let lost;
    if (ctx.isPrimary) {
        lost = obs.paused ? plan({ kind: 'pausedLeaderUpdateFailed' }, { kind: 'touchMember' }) : fenceAndDemote(ctx, { kind: 'leaderUpdateFailedDemoted' });
    }
    else {
        lost = plan({ kind: 'updateFailedNotPromoting' }, ...watchdogDisable(obs.watchdog), { kind: 'touchMember' });
    }
    const actions = preFence ? [{ kind: 'fence' }] : [];
    actions.push({ kind: 'updateLeaderKey', then: { actions: kept.actions, why: kept.why }, else: lost });
    return { actions, why: kept.why, preFence, ...(kept.wakeInMs === undefined ? {} : { wakeInMs: kept.wakeInMs }) };
}
//# sourceMappingURL=leader.js.map