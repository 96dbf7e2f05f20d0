/**
 * Issue 6, item 4: a replica that does not stream must be visible. On a sandbox where every
 * connection needs a password, one replica's replication password is made wrong (its file edited
 * and the agent reloaded with SIGHUP, its WAL sender on the leader cut so the receiver must log in
 * again). Its agent must then say why it does not stream — with PostgreSQL's own error — in its
 * log and keel.last_why, `keel list` must show it apart from the streaming replica, and
 * `/replica?lag=` must stop routing reads to it. Once the password is corrected and the agent
 * reloaded — this time by the real `patronictl reload` (POST /reload) — it streams again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startTestCluster, sql, eventually, runKeel, httpStatus } from '../../support/sandbox.js';
import { waitForCluster } from '../../../src/sandbox/sandbox.js';
let cluster;
before(async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
}, { timeout: 300_000 });
after(async () => {
    await cluster?.stop();
}, { timeout: 120_000 });
async function lastWhy(apiPort) {
    const { body } = await httpStatus(`http://127.0.0.1:${apiPort}/patroni`);
    return JSON.parse(body).keel.last_why;
}
async function listStates(config) {
    const result = await runKeel(['-c', config, 'list', '--format', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse(result.stdout);
    return Object.fromEntries(rows.map((r) => [r.Member, r.State]));
}
async function setReplicationPassword(config, password) {
    const text = await readFile(config, 'utf8');
    const next = text.replace(/(replication:\s*\n\s*username: replicator\s*\n\s*password: )\S+/, `$1${password}`);
    assert.notEqual(next, text, 'the replication password line was found');
    await writeFile(config, next);
}
test('a wrong replication password: the replica says why it does not stream, keel list and /replica?lag= show it; fixed and reloaded, it streams', { timeout: 300_000 }, async () => {
    const leader = await waitForCluster(cluster.record, 180_000);
    const [replica, other] = cluster.record.nodes.filter((n) => n.name !== leader);
    assert.ok(replica !== undefined && other !== undefined);
    const original = (await readFile(replica.config, 'utf8')).match(/replication:\s*\n\s*username: replicator\s*\n\s*password: (\S+)/)?.[1];
    assert.ok(original !== undefined);
    await setReplicationPassword(replica.config, 'not-the-password');
    process.kill(replica.pid, 'SIGHUP');
    await eventually('the agent reloaded its configuration', 20_000, async () => (await readFile(replica.logFile, 'utf8')).includes('configuration reloaded') ? true : undefined);
    await sql(cluster, leader, 'SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = $1', [replica.name]);
    const why = await eventually('the replica reports the authentication failure', 60_000, async () => {
        const sentence = await lastWhy(replica.apiPort);
        return /not streaming/.test(sentence) ? sentence : undefined;
    });
    assert.match(why, new RegExp(`I am \\(${replica.name}\\), a secondary, configured to follow \\(${leader}\\) but not streaming for \\d+ s: password authentication failed for user "replicator"`));
    assert.match(await readFile(replica.logFile, 'utf8'), /not streaming for \d+ s: password authentication failed/);
    const states = await listStates(replica.config);
    assert.equal(states[other.name], 'streaming');
    assert.equal(states[replica.name], 'running', 'shown apart from the streaming replica, as Patroni >= 3.1 shows it');
    assert.equal((await httpStatus(`http://127.0.0.1:${replica.apiPort}/replica?lag=16MB`)).status, 503, 'no reads routed to a stale replica');
    assert.equal((await httpStatus(`http://127.0.0.1:${other.apiPort}/replica?lag=16MB`)).status, 200);
    await setReplicationPassword(replica.config, original);
    const reloadsBefore = ((await readFile(replica.logFile, 'utf8')).match(/configuration reloaded/g) ?? []).length;
    // patronictl is a test dependency (scripts/setup.sh --test): never skipped.
    const scope = (await readFile(replica.config, 'utf8')).match(/^scope: (\S+)/m)?.[1] ?? '';
    const { stdout } = await promisify(execFile)('/usr/bin/patronictl', ['-c', replica.config, 'reload', scope, replica.name, '--force'], {
        timeout: 60_000,
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    assert.match(stdout, /Reload request received for member/);
    await eventually('the agent reloaded on POST /reload', 20_000, async () => ((await readFile(replica.logFile, 'utf8')).match(/configuration reloaded/g) ?? []).length > reloadsBefore ? true : undefined);
    await eventually(`${replica.name} streaming again`, 60_000, async () => {
        const rows = await sql(cluster, leader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
        return rows.some((r) => r.application_name === replica.name) ? true : undefined;
    });
    await eventually('the why sentence is back to following', 30_000, async () => /and following a leader/.test(await lastWhy(replica.apiPort)) ? true : undefined);
    assert.equal((await listStates(replica.config))[replica.name], 'streaming');
});
//# sourceMappingURL=replica-auth.test.js.map