/**
 * Issue 8, dynamic configuration and pending restart: a parameter that only a restart applies
 * (shared_buffers), changed in the DCS `config` key, is written by every agent and marks its
 * member pending_restart with Patroni's pending_restart_reason; a parameter PostgreSQL reloads
 * (work_mem) is applied at once. `keel restart --pending --force` then restarts the replicas
 * before the leader, the leader keeps its key (no new timeline, same holder throughout), and the
 * pending restart is gone everywhere with the new value in effect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, sql, eventually, runKeel, type TestCluster } from '../../support/sandbox.js';
import { sandboxDcs } from '../../../src/sandbox/sandbox.js';
import type { ClusterView } from '../../../src/dcs/types.js';

let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

async function view(): Promise<ClusterView> {
  const dcs = sandboxDcs(cluster.record, 'test-observer');
  try {
    return await dcs.loadCluster();
  } finally {
    await dcs.close();
  }
}

async function setParameters(change: Record<string, unknown>): Promise<void> {
  const dcs = sandboxDcs(cluster.record, 'test-writer');
  try {
    const current = (await dcs.loadCluster()).config;
    assert.ok(current !== null, 'the cluster has a config key');
    const pgSection = (current.value['postgresql'] ?? {}) as Record<string, unknown>;
    const parameters = { ...((pgSection['parameters'] ?? {}) as Record<string, unknown>), ...change };
    await dcs.setConfig({ ...current.value, postgresql: { ...pgSection, parameters } }, current.modRevision);
  } finally {
    await dcs.close();
  }
}

async function show(node: string, name: string): Promise<string> {
  const [row] = await sql<{ value: string }>(cluster, node, `SELECT current_setting($1) AS value`, [name]);
  return row?.value ?? '';
}

test(
  'a restart-only parameter changed in the config key: pending restart on every member, cleared by keel restart --pending (replicas first, leader keeps its key)',
  { timeout: 300_000 },
  async () => {
    const names = cluster.record.nodes.map((n) => n.name);
    const leader = cluster.leader;
    const timelineBefore = (await view()).members.find((m) => m.name === leader)?.timeline;
    for (const node of names) assert.equal(await show(node, 'shared_buffers'), '32MB');

    await setParameters({ shared_buffers: '48MB', work_mem: '5MB' });

    // The reloadable one is applied at once, the restart-only one waits and is reported.
    await eventually('work_mem applied on every member', 60_000, async () =>
      (await Promise.all(names.map((n) => show(n, 'work_mem')))).every((v) => v === '5MB') ? true : undefined,
    );
    const pending = await eventually('every member key says pending_restart', 60_000, async () => {
      const members = (await view()).members;
      return members.length === 3 && members.every((m) => m.data['pending_restart'] === true) ? members : undefined;
    });
    for (const member of pending)
      assert.deepEqual(member.data['pending_restart_reason'], { shared_buffers: { old_value: '32MB', new_value: '48MB' } }, member.name);
    for (const node of names) assert.equal(await show(node, 'shared_buffers'), '32MB', `${node} still runs with the old value`);

    const listed = await runKeel(['-c', cluster.record.nodes[0]?.config ?? '', 'list', '--format', 'json']);
    assert.equal(listed.code, 0, listed.stderr);
    for (const row of JSON.parse(listed.stdout) as Array<Record<string, unknown>>)
      assert.equal(row['Pending restart'], '*', `keel list shows ${String(row['Member'])} pending`);

    const startTimes = Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, (await sql<{ t: string }>(cluster, n, 'SELECT pg_postmaster_start_time()::text AS t'))[0]?.t])),
    );
    const restart = await runKeel(['-c', cluster.record.nodes[0]?.config ?? '', 'restart', cluster.record.scope, '--pending', '--force'], {
      timeoutMs: 240_000,
    });
    assert.equal(restart.code, 0, `${restart.stdout}\n${restart.stderr}`);
    const order = [...restart.stdout.matchAll(/^Success: restart on member (\S+)$/gm)].map((m) => m[1]);
    assert.equal(order.length, 3, restart.stdout);
    assert.equal(order[2], leader, `the leader is restarted last: ${order.join(', ')}`);

    for (const node of names) {
      // a replica restarted last but one may still be reaching consistency and refuse connections for a moment
      const { value, startedAt } = await eventually(`${node} accepts connections after its restart`, 60_000, async () => {
        const [row] = await sql<{ t: string }>(cluster, node, 'SELECT pg_postmaster_start_time()::text AS t');
        return { value: await show(node, 'shared_buffers'), startedAt: row?.t };
      });
      assert.equal(value, '48MB', `${node} runs with the new value`);
      assert.notEqual(startedAt, startTimes[node], `${node} was restarted`);
    }
    const after = await eventually('no member key says pending_restart', 60_000, async () => {
      const v = await view();
      return v.members.length === 3 && v.members.every((m) => m.data['pending_restart'] === undefined && m.data['pending_restart_reason'] === undefined)
        ? v
        : undefined;
    });
    assert.equal(after.leader?.name, leader, 'the leader kept its key through its restart');
    assert.equal(after.members.find((m) => m.name === leader)?.timeline, timelineBefore, 'no failover happened (same timeline)');
    assert.equal(after.history, null, 'no history entry: nobody was promoted');
  },
);
