/**
 * Issue 8: POST /restart and DELETE /restart with Patroni's codes and messages, behind
 * restapi.authentication; a scheduled restart that happens at its time (not before) and one that
 * DELETE /restart (and `keel flush ... restart`) cancels; `keel restart` / `keel reload` output
 * and refusals (unknown member, wrong password, no terminal without --force) that change
 * nothing; and postgresql.callbacks run with Patroni's arguments on start, restart, reload and
 * role change (a script appends its argv to a file).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startTestCluster, sql, eventually, runKeel, restartAgent, leaderKeyHolder } from '../../support/sandbox.js';
import { isAlive, sandboxDcs } from '../../../src/sandbox/sandbox.js';
let cluster;
const PASSWORD = 'restart-api-secret';
before(async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
}, { timeout: 300_000 });
after(async () => {
    await cluster?.stop();
}, { timeout: 120_000 });
async function member(name) {
    const dcs = sandboxDcs(cluster.record, 'test-observer');
    try {
        return (await dcs.loadCluster()).members.find((m) => m.name === name);
    }
    finally {
        await dcs.close();
    }
}
async function editConfig(node, edit) {
    const doc = parse(await readFile(node.config, 'utf8'));
    edit(doc);
    await writeFile(node.config, stringify(doc), { mode: 0o600 });
}
async function stopAgent(node) {
    process.kill(node.pid, 'SIGTERM');
    await eventually(`${node.name}'s agent exited`, 60_000, async () => (isAlive(node.pid) ? undefined : true));
}
function basic(password) {
    return `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
}
async function call(node, method, path, body, password = PASSWORD) {
    const headers = {};
    if (password !== null)
        headers['authorization'] = basic(password);
    if (body !== undefined)
        headers['content-type'] = 'application/json';
    const response = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(90_000),
    });
    return { status: response.status, text: await response.text() };
}
async function startTime(node) {
    const [row] = await sql(cluster, node, 'SELECT pg_postmaster_start_time() AS t');
    assert.ok(row !== undefined);
    return row.t;
}
test('restart and reload operations, scheduled restarts, callbacks', { timeout: 600_000 }, async () => {
    const leader = cluster.record.nodes.find((n) => n.name === cluster.leader);
    const [replica, other] = cluster.record.nodes.filter((n) => n.name !== cluster.leader);
    assert.ok(leader !== undefined && replica !== undefined && other !== undefined);
    const scope = cluster.record.scope;
    const callbackLog = join(cluster.dir, 'callbacks.log');
    const script = join(cluster.dir, 'callback.sh');
    await writeFile(script, `#!/bin/sh\necho "$@" >> '${callbackLog}'\n`);
    await chmod(script, 0o755);
    // The replica gets REST credentials and callbacks; its agent restarts to take them.
    await editConfig(replica, (doc) => {
        doc['restapi'] = { ...doc['restapi'], authentication: { username: 'admin', password: PASSWORD } };
        const command = `${script} --from-keel`;
        doc['postgresql'] = {
            ...doc['postgresql'],
            callbacks: { on_start: command, on_stop: command, on_restart: command, on_reload: command, on_role_change: command },
        };
    });
    await stopAgent(replica);
    await restartAgent(cluster, replica.name);
    const callbacks = async () => (await readFile(callbackLog, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
    await eventually('on_start ran with Patroni arguments', 90_000, async () => (await callbacks()).includes(`--from-keel on_start replica ${scope}`) ? true : undefined);
    await eventually('the replica streams again', 60_000, async () => ((await member(replica.name))?.replicationState === 'streaming' ? true : undefined));
    // Credentials are required; bad requests are refused with Patroni's codes and messages.
    assert.equal((await call(replica, 'POST', '/restart', {}, null)).status, 401);
    assert.equal((await call(replica, 'POST', '/restart', {}, 'wrong')).status, 401);
    assert.equal((await call(replica, 'DELETE', '/restart', undefined, null)).status, 401);
    const refusals = [
        [{ role: 'primary' }, 503, 'restart conditions are not satisfied'],
        [{ restart_pending: true }, 503, 'restart conditions are not satisfied'],
        [{ role: 'bogus' }, 400, 'PostgreSQL role should be either primary or replica'],
        [{ postgres_version: '10' }, 400, 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 10'],
        [{ timeout: -1 }, 400, 'Timeout should be a positive number of seconds'],
        [{ foo: 1 }, 400, 'Unknown filter for the scheduled restart: foo'],
        [{ schedule: '2030-01-01T00:00:00' }, 400, 'Timezone information is mandatory for the scheduled restart'],
        [{ schedule: '2020-01-01T00:00:00+00:00' }, 422, 'Cannot schedule restart in the past'],
    ];
    const before = await startTime(replica.name);
    for (const [body, status, text] of refusals)
        assert.deepEqual(await call(replica, 'POST', '/restart', body), { status, text }, JSON.stringify(body));
    assert.deepEqual(await startTime(replica.name), before, 'nothing restarted');
    // An immediate restart answers once it is done.
    assert.deepEqual(await call(replica, 'POST', '/restart', { role: 'replica', postgres_version: '99.0' }), { status: 200, text: 'restarted successfully' });
    assert.ok((await startTime(replica.name)) > before, 'PostgreSQL was restarted');
    await eventually('on_restart ran', 30_000, async () => ((await callbacks()).includes(`--from-keel on_restart replica ${scope}`) ? true : undefined));
    // A scheduled restart: 202, one at a time, shown in the member key, deleted by DELETE /restart.
    const inOneHour = new Date(Date.now() + 3600_000).toISOString().replace('Z', '+00:00');
    assert.deepEqual(await call(replica, 'POST', '/restart', { schedule: inOneHour }), { status: 202, text: 'Restart scheduled' });
    assert.deepEqual(await call(replica, 'POST', '/restart', { schedule: inOneHour }), { status: 409, text: 'Another restart is already scheduled' });
    const scheduled = (await member(replica.name))?.data['scheduled_restart'];
    assert.ok(scheduled !== undefined && typeof scheduled['schedule'] === 'string', 'the member key shows the scheduled restart');
    assert.equal(Date.parse(String(scheduled['schedule'])), Date.parse(inOneHour));
    const status = JSON.parse((await call(replica, 'GET', '/patroni')).text);
    assert.equal(Date.parse(status['scheduled_restart']['schedule']), Date.parse(inOneHour));
    assert.deepEqual(await call(replica, 'DELETE', '/restart'), { status: 200, text: 'scheduled restart deleted' });
    assert.deepEqual(await call(replica, 'DELETE', '/restart'), { status: 404, text: 'no restarts are scheduled' });
    assert.equal((await member(replica.name))?.data['scheduled_restart'], undefined);
    // keel restart --scheduled: it happens at its time, not before.
    const config = replica.config;
    const at = new Date(Date.now() + 12_000);
    const beforeScheduled = await startTime(replica.name);
    const scheduledRun = await runKeel(['-c', config, 'restart', scope, replica.name, '--scheduled', at.toISOString(), '--force']);
    assert.equal(scheduledRun.code, 0, scheduledRun.stderr);
    assert.match(scheduledRun.stdout, new RegExp(`^Success: restart scheduled on member ${replica.name}$`, 'm'));
    await eventually('the scheduled restart happened', 60_000, async () => ((await startTime(replica.name).catch(() => beforeScheduled)) > beforeScheduled ? true : undefined), 500);
    const restartedAt = await startTime(replica.name);
    assert.ok(restartedAt.getTime() >= at.getTime() - 1500, `restarted at ${restartedAt.toISOString()}, scheduled for ${at.toISOString()}`);
    await eventually('the schedule is gone from the member key', 30_000, async () => (await member(replica.name))?.data['scheduled_restart'] === undefined ? true : undefined);
    // keel flush ... restart cancels a scheduled restart.
    const later = new Date(Date.now() + 3600_000).toISOString();
    assert.equal((await runKeel(['-c', config, 'restart', scope, replica.name, '--scheduled', later, '--force'])).code, 0);
    await eventually('the member key shows it', 30_000, async () => ((await member(replica.name))?.data['scheduled_restart'] !== undefined ? true : undefined));
    const flushed = await runKeel(['-c', config, 'flush', scope, replica.name, 'restart', '--force']);
    assert.equal(flushed.code, 0, flushed.stderr);
    assert.match(flushed.stdout, new RegExp(`^Success: flush scheduled restart for member ${replica.name}$`, 'm'));
    assert.equal((await member(replica.name))?.data['scheduled_restart'], undefined);
    const again = await runKeel(['-c', config, 'flush', scope, replica.name, 'restart', '--force']);
    assert.match(again.stdout, new RegExp(`^No scheduled restart for member ${replica.name}$`, 'm'));
    // Refusals change nothing: wrong password, unknown member, no terminal without --force.
    const unchanged = await startTime(replica.name);
    const badConfig = join(cluster.dir, 'wrong-password.yml');
    await writeFile(badConfig, (await readFile(config, 'utf8')).replace(PASSWORD, 'not-the-password'), { mode: 0o600 });
    const wrong = await runKeel(['-c', badConfig, 'restart', scope, replica.name, '--force']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, new RegExp(`^Failed: restart for member ${replica.name}, status code=401, \\(not authenticated\\)$`, 'm'));
    const unknown = await runKeel(['-c', config, 'restart', scope, 'no-such-member', '--force']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    assert.match(unknown.stderr, /no-such-member is not a member of cluster/);
    const noTty = await runKeel(['-c', config, 'restart', scope, replica.name]);
    assert.notEqual(noTty.code, 0);
    assert.match(noTty.stderr, /needs a confirmation and there is no terminal/);
    assert.deepEqual(await startTime(replica.name), unchanged, 'nothing restarted');
    // keel reload: POST /reload, and the on_reload callback.
    const reloaded = await runKeel(['-c', config, 'reload', scope, replica.name, '--force']);
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.match(reloaded.stdout, new RegExp(`^Reload request received for member ${replica.name} and will be processed within 2 seconds$`, 'm'));
    await eventually('on_reload ran', 30_000, async () => ((await callbacks()).includes(`--from-keel on_reload replica ${scope}`) ? true : undefined));
    // Role change: the other replica may not be promoted, the leader stops, our replica takes over.
    await editConfig(other, (doc) => {
        doc['tags'] = { ...doc['tags'], nofailover: true };
    });
    process.kill(other.pid, 'SIGHUP');
    await eventually('the other replica publishes nofailover', 30_000, async () => ((await member(other.name))?.tags['nofailover'] === true ? true : undefined));
    await stopAgent(leader);
    await eventually('the replica holds the leader key', 90_000, async () => ((await leaderKeyHolder(cluster)) === replica.name ? true : undefined));
    await eventually('on_role_change ran as master', 60_000, async () => (await callbacks()).includes(`--from-keel on_role_change master ${scope}`) ? true : undefined);
    await restartAgent(cluster, leader.name);
});
//# sourceMappingURL=restart-api.test.js.map