/**
 * The real patronictl 3.0.2 (/usr/bin/patronictl) operating a keel cluster as it would a Patroni
 * one — list, topology, pause --wait, resume --wait, edit-config, show-config, history — with the
 * REST API behind credentials (restapi.authentication from the environment, which patronictl
 * reads too); keel's own topology next to patronictl's; then `keel remove` with its confirmations
 * (a wrong or missing answer removes nothing; the right ones delete the cluster's etcd prefix).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestCluster, runKeel, killNode, KEEL_MAIN } from '../../support/sandbox.js';
import { sandboxDcs, waitForCluster } from '../../../src/sandbox/sandbox.js';
process.env['PATRONI_RESTAPI_USERNAME'] = 'ctl-admin';
process.env['PATRONI_RESTAPI_PASSWORD'] = 'ctl-secret-3';
const PATRONICTL = '/usr/bin/patronictl';
let cluster;
before(async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
}, { timeout: 300_000 });
after(async () => {
    await cluster?.stop();
}, { timeout: 120_000 });
const configFile = () => cluster.record.nodes[0]?.config ?? '';
async function patronictl(...args) {
    const { stdout } = await promisify(execFile)(PATRONICTL, ['-c', configFile(), ...args], {
        timeout: 90_000,
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    return stdout;
}
async function view() {
    const dcs = sandboxDcs(cluster.record, 'test-observer');
    try {
        return await dcs.loadCluster();
    }
    finally {
        await dcs.close();
    }
}
/** Runs keel with `input` on stdin (not a terminal). */
function keelWithInput(args, input) {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [KEEL_MAIN, '-c', configFile(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d.toString()));
        child.stderr.on('data', (d) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
        child.stdin.end(input);
    });
}
test('patronictl list and topology show the keel cluster; keel topology draws the same tree', async () => {
    const leader = await waitForCluster(cluster.record, 120_000);
    const list = await patronictl('list');
    for (const node of cluster.record.nodes)
        assert.match(list, new RegExp(`\\| ${node.name} +\\| 127\\.0\\.0\\.1:${node.pgPort} +\\| (Leader|Replica) `));
    const topology = await patronictl('topology');
    const rows = topology.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Member'));
    assert.equal(rows.length, 3);
    assert.match(rows[0] ?? '', new RegExp(`^\\| ${leader} +\\| .*\\| Leader `));
    for (const row of rows.slice(1))
        assert.match(row, /^\| \+ node\d +\| .*\| Replica /);
    const ours = await runKeel(['-c', configFile(), 'topology']);
    assert.equal(ours.code, 0, ours.stderr);
    const ourRows = ours.stdout.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Member'));
    assert.deepEqual(ourRows.map((r) => r.split('|')[1]?.trim()), rows.map((r) => r.split('|')[1]?.trim()));
    // list -w 1 prints the table again every second until interrupted
    const watched = await runKeel(['-c', configFile(), 'list', '-w', '1'], { timeoutMs: 4_500 });
    assert.equal(watched.code, null, 'still running when stopped');
    assert.ok(watched.stdout.split(' Cluster: keel-sandbox').length - 1 >= 2, `several refreshes: ${watched.stdout}`);
});
test('patronictl pause --wait / resume --wait: every keel member publishes the state', async () => {
    const paused = await patronictl('pause', '--wait');
    assert.match(paused, /Success: cluster management is paused/);
    const afterPause = await view();
    assert.equal(afterPause.config?.value['pause'], true);
    for (const member of afterPause.members)
        assert.equal(member.data['pause'], true, `${member.name} publishes pause: true`);
    assert.match(await patronictl('list'), /\n Maintenance mode: on\n/);
    const keelList = await runKeel(['-c', configFile(), 'list']);
    assert.match(keelList.stdout, /\n Maintenance mode: on\n$/);
    const resumed = await patronictl('resume', '--wait');
    assert.match(resumed, /Success: cluster management is resumed/);
    const afterResume = await view();
    assert.equal(afterResume.config?.value['pause'], undefined, 'resume deletes the key (PATCH {"pause": null})');
    for (const member of afterResume.members)
        assert.equal(member.data['pause'], undefined, `${member.name} no longer publishes pause`);
});
test('patronictl edit-config --force -s loop_wait=3 -p work_mem=8MB, seen by patronictl show-config, keel show-config and the agents', async () => {
    const out = await patronictl('edit-config', '--force', '-s', 'loop_wait=3', '-p', 'work_mem=8MB');
    assert.match(out, /Configuration changed/);
    const shown = await patronictl('show-config');
    assert.match(shown, /^loop_wait: 3$/m);
    assert.match(shown, /^ {4}work_mem: 8MB$/m);
    const ours = await runKeel(['-c', configFile(), 'show-config']);
    assert.equal(ours.stdout, shown, 'keel show-config prints what patronictl show-config prints');
    const stored = await view();
    assert.equal(stored.config?.value['loop_wait'], 3);
});
test('patronictl history and keel history agree', async () => {
    const theirs = await patronictl('history');
    assert.match(theirs, /\| TL \| LSN \| Reason \| Timestamp \| New Leader \|/);
    const ours = await runKeel(['-c', configFile(), 'history']);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, theirs);
});
test('keel dsn and keel query reach the leader by default, a replica with --role, a member by name', async () => {
    const leader = await waitForCluster(cluster.record, 120_000);
    const leaderNode = cluster.record.nodes.find((n) => n.name === leader);
    const replica = cluster.record.nodes.find((n) => n.name !== leader);
    assert.ok(leaderNode !== undefined && replica !== undefined);
    assert.equal((await runKeel(['-c', configFile(), 'dsn'])).stdout, `host=127.0.0.1 port=${leaderNode.pgPort}\n`);
    assert.equal((await runKeel(['-c', configFile(), 'dsn', '-m', replica.name])).stdout, `host=127.0.0.1 port=${replica.pgPort}\n`);
    const onLeader = await runKeel(['-c', configFile(), 'query', '-c', 'SELECT pg_is_in_recovery() AS r, 1 AS one']);
    assert.equal(onLeader.code, 0, onLeader.stderr);
    assert.equal(onLeader.stdout, 'r\tone\nFalse\t1\n');
    const onReplica = await runKeel(['-c', configFile(), 'query', '-r', 'replica', '-c', 'SELECT pg_is_in_recovery() AS r', '--format', 'json']);
    assert.equal(onReplica.code, 0, onReplica.stderr);
    assert.equal(onReplica.stdout, '[{"r": true}]\n');
    // -U without --password: no password is sent, and the scram pg_hba asks for one
    const noPassword = await runKeel(['-c', configFile(), 'query', '-U', 'postgres', '-c', 'SELECT 1']);
    assert.equal(noPassword.code, 1);
    assert.match(noPassword.stderr, /asks for a password for user postgres/);
    const asked = await keelWithInput(['query', '-U', 'postgres', '--password', '-m', replica.name, '-c', 'SELECT current_user'], `${cluster.superuserPassword}\n`);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(asked.stdout, 'Password: current_user\npostgres\n');
    const failing = await runKeel(['-c', configFile(), 'query', '-c', 'SELECT nonsense']);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /^keel: query on node\d \(127\.0\.0\.1:\d+\) failed: column "nonsense" does not exist \(SQLSTATE 42703\)$/m);
});
test('keel remove: a wrong or missing answer removes nothing; the right answers delete the cluster prefix', async () => {
    const before = await view();
    const leader = before.leader?.name ?? '';
    assert.notEqual(leader, '');
    const noAnswer = await keelWithInput(['remove', cluster.record.scope], '');
    assert.equal(noAnswer.code, 1);
    assert.match(noAnswer.stderr, /^keel: no answer to "the cluster name" \(stdin ended\)$/m);
    const wrong = await keelWithInput(['remove', cluster.record.scope], `${cluster.record.scope}\nyes\n`);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /You did not exactly type "Yes I am aware"; nothing removed/);
    assert.equal((await view()).members.length, 3, 'nothing was removed');
    // Agents stopped first (PostgreSQL left running: teardown stops it), or they would write their keys again.
    for (const node of cluster.record.nodes)
        await killNode(cluster, node.name, { agent: true, postgres: false });
    const current = (await view()).leader?.name;
    const answers = [cluster.record.scope, 'Yes I am aware', ...(current === undefined ? [] : [current])].join('\n') + '\n';
    const removed = await keelWithInput(['remove', cluster.record.scope], answers);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /Please confirm the cluster name to remove: /);
    assert.match(removed.stdout, /Removed cluster keel-sandbox from the DCS \(\d+ keys\)/);
    const after = await view();
    assert.equal(after.initialize, null);
    assert.equal(after.config, null);
    assert.equal(after.leader, null);
    assert.deepEqual(after.members, []);
});
//# sourceMappingURL=patronictl-ops.test.js.map