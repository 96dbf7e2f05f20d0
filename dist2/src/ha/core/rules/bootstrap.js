import { watchdogBeforePromote, watchdogDisable, watchdogWhileLeader } from '../watchdog-logic.js';
import { addressOf, followAddress, isValidSysid, mayPromote, plan } from './context.js';
/** Data directory missing or empty. */
export function bootstrapEmpty(ctx) {
    const { obs, view } = ctx;
    const off = watchdogDisable(obs.watchdog);
    if (ctx.keyNamesUs)
        return plan({ kind: 'releasedKeyEmptyDataDir' }, ...off, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
    if (obs.paused)
        return plan({ kind: 'dataDirEmptyPaused' }, { kind: 'refreshLease' }, { kind: 'touchMember' });
    if (ctx.leaderName !== null) {
        const cloneSource = view.members.find((m) => m.name !== ctx.self && m.name !== ctx.leaderName && m.tags['clonefrom'] === true && m.state === 'running');
        const from = cloneSource?.name ?? ctx.leaderName;
        const source = addressOf(ctx, from);
        if (source === null)
            return plan({ kind: 'memberAddressUnknown', member: from, purpose: 'clone' }, { kind: 'refreshLease' }, { kind: 'touchMember' });
        return plan({ kind: 'cloning', from, fromRole: cloneSource === undefined ? 'leader' : 'replica' }, { kind: 'refreshLease' }, { kind: 'cloneFrom', source, follow: followAddress(ctx) }, { kind: 'touchMember' });
    }
    const tags = obs.self.tags;
    if (view.initialize === null && obs.self.canBootstrap && mayPromote(tags.nofailover, tags.failoverPriority)) {
        if (watchdogBeforePromote(obs.self.watchdogMode, obs.watchdog) === null) {
            return plan({ kind: 'watchdogActivationFailed', promoting: true }, { kind: 'refreshLease' }, { kind: 'touchMember' });
        }
        const won = plan({ kind: 'bootstrapStarting' }, { kind: 'runBootstrap' }, { kind: 'touchMember' });
        const lost = plan({ kind: 'initializeLockLost' }, { kind: 'touchMember' });
        return plan(won.why, { kind: 'refreshLease' }, { kind: 'claimInitialize', then: won, else: lost });
    }
    return plan({ kind: 'waitingForLeaderToBootstrap' }, { kind: 'refreshLease' }, { kind: 'touchMember' });
}
/**
 * The bootstrap we ran has finished: publish the cluster (initialize = sysid, config, leader key)
 * or give the initialize key back. Null when this cycle is not the end of our bootstrap.
 */
export function finishBootstrap(ctx) {
    const { obs, view } = ctx;
    const last = obs.asyncTask.lastResult;
    if (last === null || last.kind !== 'bootstrap' || view.initialize !== '' || ctx.leaderName !== null)
        return null;
    if (!last.ok || obs.postgres.dataDir !== 'initialized') {
        return plan({ kind: 'bootstrapFailed', message: last.message }, { kind: 'cancelInitialization' }, { kind: 'exit', code: 1 });
    }
    if (!obs.postgres.running)
        return plan({ kind: 'bootstrapFailed', message: 'PostgreSQL is not running after bootstrap' }, { kind: 'cancelInitialization' }, { kind: 'exit', code: 1 });
    if (!ctx.isPrimary)
        return plan({ kind: 'waitingForBootstrapRecovery' }, { kind: 'refreshLease' }, { kind: 'touchMember' });
    const sysid = obs.postgres.systemIdentifier ?? '';
    const won = plan({ kind: 'initializedNewCluster' }, ...watchdogWhileLeader(obs.self.watchdogMode, obs.watchdog), { kind: 'touchMember' });
    const lost = plan({ kind: 'lostRace', demoted: true }, { kind: 'fence' }, { kind: 'demote' }, { kind: 'touchMember' });
    return plan(won.why, { kind: 'refreshLease' }, { kind: 'writeInitialize', systemIdentifier: sysid, create: false }, { kind: 'writeBootstrapConfig' }, { kind: 'acquireLeaderKey', then: won, else: lost });
}
/** An initialized data directory: may it join this cluster? Null = yes. */
export function checkSystemId(ctx) {
    const { obs, view } = ctx;
    const sysid = obs.postgres.systemIdentifier;
    if (isValidSysid(view.initialize) && sysid !== null && sysid !== view.initialize) {
        if (obs.paused && ctx.keyNamesUs)
            return plan({ kind: 'systemIdMismatch', dataSysid: sysid, clusterSysid: view.initialize }, { kind: 'releaseLeaderKey' }, { kind: 'touchMember' });
        if (obs.paused)
            return plan({ kind: 'systemIdMismatch', dataSysid: sysid, clusterSysid: view.initialize }, { kind: 'refreshLease' }, { kind: 'touchMember' });
        return plan({ kind: 'systemIdMismatch', dataSysid: sysid, clusterSysid: view.initialize }, ...watchdogDisable(obs.watchdog), { kind: 'exit', code: 1 });
    }
    if (view.initialize === null && ctx.leaderName === null && !obs.paused && obs.postgres.running && !ctx.isPrimary) {
        return plan({ kind: 'foreignRunningReplica' }, { kind: 'exit', code: 1 });
    }
    return null;
}
//# sourceMappingURL=bootstrap.js.map