/**
 * Issue 8: reinitialize and the real patronictl. `keel reinit CLUSTER MEMBER --force --wait`
 * rebuilds a replica from the leader (a file dropped in its data directory is gone afterwards
 * and it streams again); the leader refuses with Patroni's message; then the real patronictl
 * 3.0.2 drives keel's REST API: `restart`, `reinit` and `reload` succeed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestCluster, sql, eventually, runKeel } from '../../support/sandbox.js';
let cluster;
before(async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
}, { timeout: 300_000 });
after(async () => {
    await cluster?.stop();
}, { timeout: 120_000 });
async function exists(path) {
    return access(path).then(() => true, () => false);
}
/** The leader's pg_stat_replication shows `node` streaming. */
async function streams(node) {
    const rows = await sql(cluster, cluster.leader, 'SELECT state FROM pg_stat_replication WHERE application_name = $1', [node]);
    return rows.some((r) => r.state === 'streaming');
}
async function startTime(node) {
    const [row] = await sql(cluster, node, 'SELECT pg_postmaster_start_time() AS t');
    assert.ok(row !== undefined);
    return row.t;
}
/** patronictl is a test dependency (scripts/setup.sh --test): never skipped. */
async function patronictl(config, args) {
    const { stdout } = await promisify(execFile)('/usr/bin/patronictl', ['-c', config, ...args], { timeout: 180_000 });
    return stdout;
}
async function dropMarker(node) {
    const marker = join(node.dataDir, 'keel-reinit-marker');
    await writeFile(marker, 'this file must not survive a reinitialize\n');
    return marker;
}
test('keel reinit rebuilds a replica from the leader; the leader refuses', { timeout: 300_000 }, async () => {
    const leader = cluster.record.nodes.find((n) => n.name === cluster.leader);
    const replica = cluster.record.nodes.find((n) => n.name !== cluster.leader);
    assert.ok(leader !== undefined && replica !== undefined);
    const scope = cluster.record.scope;
    const refused = await fetch(`http://127.0.0.1:${leader.apiPort}/reinitialize`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    assert.deepEqual({ status: refused.status, text: await refused.text() }, { status: 503, text: 'I am the leader, can not reinitialize' });
    const cliRefused = await runKeel(['-c', leader.config, 'reinit', scope, leader.name, '--force']);
    assert.equal(cliRefused.code, 2);
    assert.match(cliRefused.stderr, /No replica among provided members/);
    const marker = await dropMarker(replica);
    await sql(cluster, leader.name, 'CREATE TABLE reinit_probe AS SELECT 42 AS answer');
    const result = await runKeel(['-c', replica.config, 'reinit', scope, replica.name, '--force', '--wait'], { timeoutMs: 240_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^Success: reinitialize for member ${replica.name}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^Waiting for reinitialize to complete on: ${replica.name}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^Reinitialize is completed on: ${replica.name}$`, 'm'));
    assert.equal(await exists(marker), false, 'the data directory was replaced');
    await eventually('the rebuilt replica streams from the leader', 60_000, async () => ((await streams(replica.name)) ? true : undefined));
    const [row] = await sql(cluster, replica.name, 'SELECT answer FROM reinit_probe');
    assert.equal(row?.answer, 42);
});
test('the real patronictl restarts, reinitializes and reloads keel members', { timeout: 300_000 }, async () => {
    const replica = cluster.record.nodes.filter((n) => n.name !== cluster.leader)[1];
    assert.ok(replica !== undefined);
    const scope = cluster.record.scope;
    const config = replica.config;
    const before = await startTime(replica.name);
    assert.match(await patronictl(config, ['restart', scope, replica.name, '--force']), new RegExp(`^Success: restart on member ${replica.name}$`, 'm'));
    assert.ok((await startTime(replica.name)) > before, 'PostgreSQL was restarted');
    const marker = await dropMarker(replica);
    assert.match(await patronictl(config, ['reinit', scope, replica.name, '--force']), new RegExp(`^Success: reinitialize for member ${replica.name}$`, 'm'));
    await eventually('the reinitialized replica streams again', 120_000, async () => ((await streams(replica.name)) && !(await exists(marker)) ? true : undefined), 500);
    const reloaded = await patronictl(config, ['reload', scope, '--force']);
    for (const node of cluster.record.nodes) {
        assert.match(reloaded, new RegExp(`^Reload request received for member ${node.name} and will be processed within 2 seconds$`, 'm'));
    }
});
//# sourceMappingURL=reinit.test.js.map