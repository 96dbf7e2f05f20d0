import { watchdogDisable } from '../watchdog-logic.js';
import { clusterTimeline, followAddress, mayPromote, plan } from './context.js';
import { rewindOrReinitialize } from './follow.js';
/** A replica the key could go to, judged from member keys (peers are not fetched while a key exists). */
export function failoverPossible(ctx) {
    const { obs, view } = ctx;
    const optime = view.status?.optime ?? 0;
    const clusterTl = clusterTimeline(view);
    return view.members.some((m) => {
        if (m.name === ctx.self || m.state !== 'running')
            return false;
        const nofailover = m.tags['nofailover'] === true;
        const priority = typeof m.tags['failover_priority'] === 'number' ? m.tags['failover_priority'] : undefined;
        if (!mayPromote(nofailover, priority))
            return false;
        const wal = m.xlogLocation ?? m.receiveLsn ?? m.replayLsn;
        if (wal === null || optime - wal > obs.config.maximumLagOnFailoverBytes)
            return false;
        return !obs.config.checkTimeline || (m.timeline ?? 0) >= clusterTl;
    });
}
function lastStartFailed(ctx) {
    const last = ctx.obs.asyncTask.lastResult;
    return last !== null && last.kind === 'start' && !last.ok && ctx.obs.postgres.crashedSinceMs === null;
}
export function recoverStopped(ctx) {
    const { obs } = ctx;
    const off = watchdogDisable(obs.watchdog);
    if (obs.paused) {
        if (ctx.keyNamesUs)
            return plan({ kind: 'pausedRemovedLockNotRunning' }, ...off, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
        return plan({ kind: 'pausedPostgresNotRunning' }, { kind: 'refreshLease' }, { kind: 'touchMember' });
    }
    if (ctx.hasLock) {
        if (lastStartFailed(ctx)) {
            return plan({ kind: 'removedKeyFailedStart' }, ...off, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
        }
        const timeoutMs = obs.config.primaryStartTimeoutMs;
        const crashedFor = obs.postgres.crashedSinceMs === null ? 0 : obs.nowMs - obs.postgres.crashedSinceMs;
        const giveUp = (timeoutMs === 0 || crashedFor >= timeoutMs) && failoverPossible(ctx);
        const kept = giveUp
            ? plan({ kind: 'crashFailover' }, ...off, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' })
            : obs.postgres.crashedSinceMs !== null
                ? plan({ kind: 'crashRestartInPlace', msLeft: failoverPossible(ctx) ? Math.max(0, timeoutMs - crashedFor) : null }, ...off, { kind: 'restartCrashed' }, { kind: 'touchMember' })
                : plan({ kind: 'startingAsReadonlyWithLock' }, ...off, { kind: 'startAsReplica', follow: null }, { kind: 'touchMember' });
        const lost = plan({ kind: 'startingAsSecondary' }, ...off, { kind: 'startAsReplica', follow: null }, { kind: 'touchMember' });
        return plan(kept.why, { kind: 'updateLeaderKey', then: kept, else: lost });
    }
    const rejoin = rewindOrReinitialize(ctx);
    if (rejoin !== null)
        return rejoin;
    // A leader key naming us on a stale lease: do not release it (it expires by itself), just start.
    return plan({ kind: 'startingAsSecondary' }, { kind: 'refreshLease' }, ...off, { kind: 'startAsReplica', follow: followAddress(ctx) }, { kind: 'touchMember' });
}
//# sourceMappingURL=recover.js.map