/**
 * The operator's requests to one node, as Patroni 3.0.2 answers them (api.py do_POST_restart,
 * do_DELETE_restart, do_POST_reinitialize; ha.py restart, schedule_future_restart,
 * evaluate_scheduled_restart, reinitialize): restart now or at a time, drop a scheduled restart,
 * rebuild a replica from the leader. Each runs as the agent's background task, so the HA loop
 * keeps running (and a leader keeps its key) meanwhile; the task runner refuses a second one.
 *
 * Differences from Patroni: a running task cannot be cancelled, so POST /reinitialize with force
 * waits (up to pg_ctl_timeout) for it to finish instead of cancelling it; a reinitialize always
 * clones from the leader (Patroni may pick a replica tagged clonefrom); a scheduled restart starts
 * at its time (the loop wakes for it) rather than within loop_wait before it.
 */
import { parseBoolLike } from '../config/values.js';
import { parseConnUrl } from './core/conn-url.js';
import { buildMemberData } from './member-data.js';
import { parseRestartRequest, restartMismatch, scheduledRestartTiming } from './restart-request.js';
import * as tasks from './tasks.js';
/**
 * keel refuses to restart a server it cannot see running: its role is unknown, and starting it
 * is the HA loop's decision (as a replica unless it holds the key), not the operator's.
 */
const NOT_RUNNING = 'postgres is not running, nothing to restart';
/** Patroni's names for what is in progress ("restart already in progress"). */
function actionName(kind) {
    return kind === 'reinit' ? 'reinitialize' : kind;
}
function restartTarget(a) {
    const probe = a.pg.probe;
    return {
        role: probe === null ? null : probe.inRecovery ? 'replica' : 'primary',
        serverVersion: probe?.serverVersion ?? null,
        pendingRestart: probe !== null && probe.pendingRestart.length > 0,
    };
}
/** Starts the restart task; resolves with its outcome, or says what runs instead. */
function startRestart(a, filters, role) {
    let settle = () => undefined;
    const outcome = new Promise((resolve) => {
        settle = resolve;
    });
    const body = async () => {
        try {
            await tasks.restartPostgres(a, role, filters.timeoutMs);
            settle(true);
        }
        catch (error) {
            settle(false);
            throw error;
        }
    };
    const result = a.tasks.start('restart', undefined, a.tasks.snapshot().generation, body);
    if (result === 'started') {
        a.wake();
        return { started: outcome };
    }
    return { busy: actionName(a.tasks.current()?.kind ?? 'restart') };
}
/** Publishes the member key now (a scheduled restart appears or goes at once, as Patroni's touch_member). */
async function touchMember(a) {
    try {
        await a.ports.dcs.touchMember(buildMemberData(a));
    }
    catch (error) {
        a.log.warning(`could not update the member key: ${error instanceof Error ? error.message : String(error)}`);
    }
}
/** POST /restart. An immediate restart answers once it finished. */
export async function postRestart(a, body) {
    const parsed = parseRestartRequest(body, a.ports.clock.wallMs(), a.cluster.dynamic.pause);
    if (!parsed.ok)
        return { code: parsed.code, text: parsed.text };
    if (parsed.kind === 'scheduled') {
        if (a.scheduledRestart !== null)
            return { code: 409, text: 'Another restart is already scheduled' };
        a.scheduledRestart = { ...parsed.scheduled, postmasterStartTime: a.pg.probe?.postmasterStartTime ?? null };
        a.log.info(`restart scheduled at ${parsed.scheduled.scheduleIso}`);
        await touchMember(a);
        a.wake();
        return { code: 202, text: 'Restart scheduled' };
    }
    const target = restartTarget(a);
    const mismatch = restartMismatch(parsed.filters, target);
    if (mismatch !== null) {
        a.log.info(`not proceeding with the restart: ${mismatch}`);
        return { code: 503, text: 'restart conditions are not satisfied' };
    }
    if (target.role === null)
        return { code: 503, text: NOT_RUNNING };
    const start = startRestart(a, parsed.filters, target.role);
    if ('busy' in start)
        return { code: 503, text: `${start.busy} already in progress` };
    return (await start.started) ? { code: 200, text: 'restarted successfully' } : { code: 503, text: 'restart failed' };
}
/** DELETE /restart. */
export async function deleteRestart(a) {
    if (a.scheduledRestart === null)
        return { code: 404, text: 'no restarts are scheduled' };
    a.scheduledRestart = null;
    a.log.info('scheduled restart deleted');
    await touchMember(a);
    return { code: 200, text: 'scheduled restart deleted' };
}
/**
 * When the loop must wake for the scheduled restart (monotonic), or null. The loop treats it
 * as a watchdog deadline (it wakes 500 ms before), which SCHEDULE_EARLY_MS covers.
 */
export function scheduledRestartDueMs(a) {
    const scheduled = a.scheduledRestart;
    if (scheduled === null)
        return null;
    return a.ports.clock.now() + Math.max(0, scheduled.atWallMs - a.ports.clock.wallMs());
}
/** Patroni's evaluate_scheduled_restart, once per cycle: starts the scheduled restart at its time. */
export function evaluateScheduledRestart(a) {
    const scheduled = a.scheduledRestart;
    if (scheduled === null || a.tasks.current() !== null || a.cluster.dynamic.pause)
        return;
    const started = a.pg.probe?.postmasterStartTime ?? null;
    if (started !== null && scheduled.postmasterStartTime !== null && started !== scheduled.postmasterStartTime) {
        a.log.info(`cancelling the scheduled restart: PostgreSQL restarted meanwhile (at ${started})`);
        a.scheduledRestart = null;
        return;
    }
    const timing = scheduledRestartTiming(scheduled.atWallMs, a.ports.clock.wallMs(), a.cluster.dynamic.loopWaitMs);
    if (timing === 'wait')
        return;
    a.scheduledRestart = null;
    if (timing === 'stale') {
        a.log.warning(`found a stale scheduled restart, cleaning up: ${scheduled.scheduleIso}`);
        return;
    }
    const target = restartTarget(a);
    const mismatch = restartMismatch(scheduled.filters, target);
    if (mismatch !== null || target.role === null) {
        a.log.warning(`scheduled restart: not proceeding with the restart: ${mismatch ?? NOT_RUNNING}`);
        return;
    }
    a.log.info(`manual scheduled restart at ${scheduled.scheduleIso}`);
    const start = startRestart(a, scheduled.filters, target.role);
    if ('busy' in start)
        a.log.warning(`scheduled restart: ${start.busy} already in progress`);
}
/** POST /reinitialize {force?}: re-clone this replica from the leader, in the background. */
export async function postReinitialize(a, body) {
    const force = parseBoolLike(body['force']) === true;
    const view = await a.ports.dcs.loadCluster().catch(() => a.cluster.view);
    const leader = view?.leader ?? null;
    if (view === null || leader === null)
        return { code: 503, text: 'Cluster has no leader, can not reinitialize' };
    const self = a.local().name;
    if (leader.name === self)
        return { code: 503, text: 'I am the leader, can not reinitialize' };
    const parsed = parseConnUrl(view.members.find((m) => m.name === leader.name)?.connUrl ?? null);
    if (parsed === null)
        return { code: 503, text: `the leader ${leader.name} publishes no usable conn_url, can not reinitialize` };
    const source = { name: leader.name, ...parsed };
    const running = a.tasks.current();
    if (running !== null) {
        if (!force)
            return { code: 503, text: `${actionName(running.kind)} already in progress` };
        a.log.info(`reinitialize: waiting for ${running.kind} to finish first`);
        await a.tasks.settle(a.local().postgresql.pgCtlTimeoutMs);
    }
    const result = a.tasks.start('reinit', source.name, a.tasks.snapshot().generation, () => tasks.recloneAndStart(a, source, source));
    if (result !== 'started')
        return { code: 503, text: `${actionName(a.tasks.current()?.kind ?? 'reinit')} already in progress` };
    a.log.info(`reinitialize requested: cloning again from the leader ${source.name}`);
    a.wake();
    return { code: 200, text: 'reinitialize started' };
}
//# sourceMappingURL=operations.js.map