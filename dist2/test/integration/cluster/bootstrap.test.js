/**
 * Issue 2 acceptance on real processes: `keel sandbox up` starts etcd x3 and three agents that
 * bootstrap one PostgreSQL primary and two streaming replicas, publish Patroni's key layout in
 * etcd, serve Patroni's health endpoints, and `keel list` (and the real patronictl) show it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestCluster, sql, runKeel, eventually, httpStatus } from '../../support/sandbox.js';
import { lookupUser } from '../../../src/postgres/os-user.js';
const exec = promisify(execFile);
let cluster;
before(async () => {
    cluster = await startTestCluster({ nodes: 3 });
}, { timeout: 300_000 });
after(async () => {
    await cluster?.stop();
}, { timeout: 120_000 });
async function etcdKeys() {
    const { stdout } = await exec('etcdctl', ['--endpoints', cluster.record.etcd.endpoints.join(','), 'get', '--prefix', `/service/${cluster.record.scope}/`, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
    const body = JSON.parse(stdout);
    const map = new Map();
    for (const kv of body.kvs ?? []) {
        map.set(Buffer.from(kv.key, 'base64').toString(), { value: Buffer.from(kv.value, 'base64').toString(), lease: String(kv.lease ?? '0') });
    }
    return map;
}
test('one leader and two streaming replicas, each following the leader with its own slot', async () => {
    const leader = cluster.leader;
    const replication = await sql(cluster, leader, 'SELECT application_name, state FROM pg_stat_replication ORDER BY 1');
    const replicas = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
    assert.deepEqual(replication.map((r) => r.application_name), replicas);
    assert.ok(replication.every((r) => r.state === 'streaming'));
    for (const replica of replicas) {
        const [row] = await sql(cluster, replica, 'SELECT pg_is_in_recovery() AS in_recovery');
        assert.equal(row?.in_recovery, true, `${replica} must be a standby`);
    }
    const slots = await eventually('a replication slot per replica', 30_000, async () => {
        const rows = await sql(cluster, leader, "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1");
        return rows.length === replicas.length && rows.every((r) => r.active) ? rows : undefined;
    });
    assert.deepEqual(slots.map((s) => s.slot_name), replicas);
});
test('a write on the leader reaches every replica', async () => {
    await sql(cluster, cluster.leader, 'CREATE TABLE IF NOT EXISTS bootstrap_check (id int PRIMARY KEY)');
    await sql(cluster, cluster.leader, 'INSERT INTO bootstrap_check VALUES (42) ON CONFLICT DO NOTHING');
    for (const node of cluster.record.nodes.filter((n) => n.name !== cluster.leader)) {
        await eventually(`row replicated to ${node.name}`, 30_000, async () => {
            const rows = await sql(cluster, node.name, 'SELECT id FROM bootstrap_check');
            return rows.length === 1 ? true : undefined;
        });
    }
});
test("etcd holds Patroni's key layout with Patroni's value formats", async () => {
    const keys = await etcdKeys();
    const prefix = `/service/${cluster.record.scope}/`;
    const leaderNode = cluster.record.nodes.find((n) => n.name === cluster.leader);
    assert.ok(leaderNode);
    const [sysid] = await sql(cluster, cluster.leader, 'SELECT system_identifier::text FROM pg_control_system()');
    assert.equal(keys.get(prefix + 'initialize')?.value, sysid?.system_identifier);
    assert.equal(keys.get(prefix + 'leader')?.value, cluster.leader);
    assert.notEqual(keys.get(prefix + 'leader')?.lease, '0', 'the leader key must be attached to a lease');
    const config = JSON.parse(keys.get(prefix + 'config')?.value ?? '{}');
    assert.equal(config['ttl'], 10);
    assert.equal(config['loop_wait'], 2);
    assert.equal(config['retry_timeout'], 3);
    for (const node of cluster.record.nodes) {
        const entry = keys.get(prefix + 'members/' + node.name);
        assert.ok(entry, `member key of ${node.name}`);
        assert.notEqual(entry.lease, '0', 'member keys are attached to the agent lease');
        const member = JSON.parse(entry.value);
        assert.equal(member['conn_url'], `postgres://127.0.0.1:${node.pgPort}/postgres`);
        assert.equal(member['api_url'], `http://127.0.0.1:${node.apiPort}/patroni`);
        assert.equal(member['state'], 'running');
        assert.equal(member['role'], node.name === cluster.leader ? 'master' : 'replica');
        assert.equal(member['timeline'], 1);
        assert.equal(typeof member['xlog_location'], 'number');
        assert.equal(typeof member['version'], 'string');
    }
});
test('health endpoints answer as Patroni does, for GET, HEAD and OPTIONS', async () => {
    for (const node of cluster.record.nodes) {
        const base = `http://127.0.0.1:${node.apiPort}`;
        const isLeader = node.name === cluster.leader;
        for (const method of ['GET', 'HEAD', 'OPTIONS']) {
            assert.equal((await httpStatus(`${base}/primary`, method)).status, isLeader ? 200 : 503, `${method} /primary on ${node.name}`);
            assert.equal((await httpStatus(`${base}/replica`, method)).status, isLeader ? 503 : 200, `${method} /replica on ${node.name}`);
            assert.equal((await httpStatus(`${base}/health`, method)).status, 200);
        }
        assert.equal((await httpStatus(`${base}/leader`, 'HEAD')).body, '', 'HEAD answers with the status line only');
        const status = JSON.parse((await httpStatus(`${base}/patroni`)).body);
        assert.equal(status['state'], 'running');
        assert.equal(status['role'], isLeader ? 'master' : 'replica');
        assert.equal(status['patroni']['scope'], cluster.record.scope);
    }
});
test('keel list prints the table and JSON; the real patronictl reads the same cluster', async () => {
    const config = cluster.record.nodes[0]?.config ?? '';
    const pretty = await runKeel(['-c', config, 'list']);
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.match(pretty.stdout, new RegExp(`Cluster: ${cluster.record.scope} \\(\\d+\\)`));
    assert.match(pretty.stdout, /\| Member +\| Host +\| Role +\| State +\| TL \| Lag in MB \|/);
    const json = await runKeel(['-c', config, 'list', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.filter((r) => r['Role'] === 'Leader').map((r) => r['Member']), [cluster.leader]);
    const replicas = rows.filter((r) => r['Role'] === 'Replica');
    assert.equal(replicas.length, 2);
    assert.ok(replicas.every((r) => r['State'] === 'running' || r['State'] === 'streaming'), JSON.stringify(replicas));
    assert.ok(existsSync('/usr/bin/patronictl'), 'patronictl (a test dependency, installed by npm test) is missing');
    const patroniConfig = join(cluster.dir, 'patronictl.yml');
    await writeFile(patroniConfig, `scope: ${cluster.record.scope}\nnamespace: /service/\netcd3:\n  hosts: ${cluster.record.etcd.endpoints.join(',')}\n`);
    const { stdout } = await exec('patronictl', ['-c', patroniConfig, 'list', '--format', 'json']);
    const patroniRows = JSON.parse(stdout);
    assert.deepEqual(patroniRows.map((r) => r['Member']).sort(), cluster.record.nodes.map((n) => n.name).sort());
    assert.deepEqual(patroniRows.filter((r) => r['Role'] === 'Leader').map((r) => r['Member']), [cluster.leader]);
});
test('data directories are 0700 and owned by the postgres OS user', async () => {
    const postgres = lookupUser('postgres');
    for (const node of cluster.record.nodes) {
        const info = await stat(node.dataDir);
        assert.equal(info.mode & 0o777, 0o700, `${node.dataDir} mode`);
        if (process.getuid?.() === 0 && postgres !== null)
            assert.equal(info.uid, postgres.uid);
    }
});
//# sourceMappingURL=bootstrap.test.js.map