/**
 * Issue 3 acceptance on real processes (sandbox, ttl 10 / loop_wait 2 / retry_timeout 3):
 * failover after kill -9 of the leader, rejoin through pg_rewind, in-place restart of a crashed
 * PostgreSQL, a leader cut off from etcd fencing itself before its lease can expire, and a
 * lagging replica that must not be promoted — with a writer on every node checking that no two
 * primaries ever acknowledge at once.
 *
 * Each agent reaches etcd through its own cuttable TCP proxy: "etcd unreachable for it only".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  startTestCluster,
  sql,
  eventually,
  killNode,
  restartAgent,
  currentPrimary,
  leaderKeyHolder,
  postmasterPid,
  type TestCluster,
} from '../../support/sandbox.js';
import { proxiedEtcdHosts, type CuttableProxy } from '../../support/tcp-proxy.js';
import { AckWriter, singleWriterViolation } from '../../support/ack-writer.js';
import { waitForCluster, sandboxDcs } from '../../../src/sandbox/sandbox.js';
import type { FailoverRecord } from '../../../src/ha/core/failover-record.js';

const TTL_MS = 10_000;
const LOOP_WAIT_MS = 2_000;
let cluster: TestCluster;
const proxies = new Map<string, CuttableProxy>();

before(
  async () => {
    cluster = await startTestCluster({
      nodes: 3,
      ttlS: TTL_MS / 1000,
      loopWaitS: LOOP_WAIT_MS / 1000,
      retryTimeoutS: 3,
      nodeEtcdHosts: proxiedEtcdHosts(proxies),
    });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
    for (const proxy of proxies.values()) await proxy.close();
  },
  { timeout: 120_000 },
);

function writerFor(c: TestCluster): AckWriter {
  return new AckWriter(
    c.record.nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.pgPort })),
    c.superuserPassword,
  );
}

async function healthy(): Promise<string> {
  return waitForCluster(cluster.record, 180_000);
}

test('kill -9 of the leader (agent and postmaster): a replica takes over; the old leader rejoins through pg_rewind', async () => {
  const oldLeader = await healthy();
  const writer = writerFor(cluster);
  await writer.prepare({ name: oldLeader, host: '127.0.0.1', port: cluster.record.nodes.find((n) => n.name === oldLeader)?.pgPort ?? 0 });
  writer.start();
  try {
    await eventually('acknowledged writes on the leader', 20_000, async () => (writer.acks.some((a) => a.node === oldLeader) ? true : undefined));
    await killNode(cluster, oldLeader, { agent: true, postgres: true });
    const newLeader = await eventually('a new leader', TTL_MS + 8 * LOOP_WAIT_MS + 30_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && holder !== oldLeader ? holder : undefined;
    });
    await eventually('writes acknowledged by the new leader', 30_000, async () => (writer.acks.some((a) => a.node === newLeader) ? true : undefined));
    await restartAgent(cluster, oldLeader);
    await eventually(`${oldLeader} streaming from ${newLeader}`, 120_000, async () => {
      const rows = await sql<{ application_name: string }>(cluster, newLeader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
      return rows.some((r) => r.application_name === oldLeader) ? true : undefined;
    });
    const [row] = await sql<{ in_recovery: boolean }>(cluster, oldLeader, 'SELECT pg_is_in_recovery() AS in_recovery');
    assert.equal(row?.in_recovery, true);
    const log = await readFile(cluster.record.nodes.find((n) => n.name === oldLeader)?.logFile ?? '', 'utf8');
    assert.match(log, /pg_rewind/, 'the former leader must go through pg_rewind');
    // The failover record (GET /history?details): what happened, who was weighed, the rejoin.
    const apiPort = cluster.record.nodes.find((n) => n.name === newLeader)?.apiPort ?? 0;
    const record = await eventually('a failover record with the rejoin', 30_000, async () => {
      const records = (await (await fetch(`http://127.0.0.1:${apiPort}/history?details`)).json()) as FailoverRecord[];
      const last = records.at(-1);
      return last !== undefined && last.newLeader === newLeader && last.rejoin !== null ? last : undefined;
    });
    assert.equal(record.kind, 'failover');
    assert.equal(record.oldLeader, oldLeader);
    // The killed leader's member key expired with its lease, as its leader key did: it is either
    // absent or listed as not answering; the other replica is weighed with a reason.
    const others = cluster.record.nodes.map((n) => n.name).filter((n) => n !== oldLeader && n !== newLeader);
    assert.deepEqual(
      record.considered.filter((m) => m.chosen).map((m) => m.name),
      [newLeader],
    );
    for (const name of others)
      assert.ok(
        record.considered.some((m) => m.name === name && !m.chosen && m.reason !== ''),
        JSON.stringify(record.considered),
      );
    const dead = record.considered.find((m) => m.name === oldLeader);
    if (dead !== undefined) assert.match(dead.reason, /did not answer|not running/);
    assert.ok(record.timeline !== null && record.timeline >= 2 && record.timelineStartLsn !== null, JSON.stringify(record));
    assert.ok(record.bytesPossiblyLost !== null && record.bytesPossiblyLost >= 0);
    for (const at of [record.oldLeaderLastSeenAt, record.leaderKeyGoneSeenAt, record.keyTakenAt, record.promotedAt])
      assert.ok(at !== null && !Number.isNaN(Date.parse(at)));
    assert.ok(
      Date.parse(record.oldLeaderLastSeenAt ?? '') <= Date.parse(record.keyTakenAt) && Date.parse(record.keyTakenAt) <= Date.parse(record.promotedAt ?? ''),
    );
    assert.equal(record.rejoin?.method, 'rewind');
  } finally {
    await writer.stop();
  }
  assert.equal(singleWriterViolation(writer.acks), null);
});

test('PostgreSQL alone killed on the leader: restarted in place, no failover', async () => {
  const leader = await healthy();
  const pid = await postmasterPid(cluster, leader);
  assert.ok(pid !== null);
  process.kill(pid, 'SIGKILL');
  const seen = new Set<string>();
  await eventually(
    'the leader accepting writes again',
    60_000,
    async () => {
      const primary = await currentPrimary(cluster);
      if (primary !== null) seen.add(primary);
      if (primary !== leader) return undefined;
      await sql(cluster, leader, 'CREATE TABLE IF NOT EXISTS restart_check (id int)');
      await sql(cluster, leader, 'INSERT INTO restart_check VALUES (1)');
      return true;
    },
    500,
  );
  assert.deepEqual([...seen], [leader], 'no other node may have become primary');
  assert.equal(await leaderKeyHolder(cluster), leader);
  assert.notEqual(await postmasterPid(cluster, leader), pid, 'PostgreSQL was restarted');
});

test('the leader cut off from etcd stops acknowledging and demotes before its lease can expire; a replica takes over', async () => {
  const oldLeader = await healthy();
  const writer = writerFor(cluster);
  writer.start();
  let cutAtMs = 0;
  try {
    await eventually('acknowledged writes on the leader', 20_000, async () => (writer.acks.some((a) => a.node === oldLeader) ? true : undefined));
    proxies.get(oldLeader)?.cut();
    cutAtMs = performance.now();
    const newLeader = await eventually('a new leader', TTL_MS + 8 * LOOP_WAIT_MS + 30_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && holder !== oldLeader ? holder : undefined;
    });
    await eventually('writes acknowledged by the new leader', 30_000, async () => (writer.acks.some((a) => a.node === newLeader) ? true : undefined));
    await eventually(`${oldLeader} demoted`, 30_000, async () => {
      const [row] = await sql<{ in_recovery: boolean }>(cluster, oldLeader, 'SELECT pg_is_in_recovery() AS in_recovery');
      return row?.in_recovery === true ? true : undefined;
    });
  } finally {
    await writer.stop();
    proxies.get(oldLeader)?.heal();
  }
  const lastOldAck = Math.max(...writer.acks.filter((a) => a.node === oldLeader).map((a) => a.atMs));
  assert.ok(lastOldAck < cutAtMs + TTL_MS, `the cut-off leader acknowledged ${(lastOldAck - cutAtMs).toFixed(0)} ms after the cut, past the lease TTL`);
  assert.equal(singleWriterViolation(writer.acks), null);
  await healthy();
});

test('a replica lagging beyond maximum_lag_on_failover is not promoted', async () => {
  const leader = await healthy();
  const replicas = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
  const [lagging, healthyReplica] = replicas as [string, string];
  // Stop the lagging replica's WAL receiver (SIGSTOP) and replay, then write well over 1 MB.
  const [receiver] = await sql<{ pid: number }>(cluster, lagging, 'SELECT pid FROM pg_stat_wal_receiver');
  assert.ok(receiver !== undefined);
  await sql(cluster, lagging, 'SELECT pg_wal_replay_pause()');
  process.kill(receiver.pid, 'SIGSTOP');
  try {
    await sql(cluster, leader, 'CREATE TABLE IF NOT EXISTS lag_filler (payload text)');
    await sql(cluster, leader, "INSERT INTO lag_filler SELECT repeat('x', 1000) FROM generate_series(1, 8000)");
    await sql(cluster, leader, 'SELECT pg_switch_wal()');
    await new Promise((r) => setTimeout(r, 3 * LOOP_WAIT_MS)); // the leader publishes its optime
    await killNode(cluster, leader, { agent: true, postgres: true });
    await killNode(cluster, healthyReplica, { agent: true, postgres: true });
    const observeUntil = performance.now() + TTL_MS + 6 * LOOP_WAIT_MS;
    while (performance.now() < observeUntil) {
      assert.notEqual(await leaderKeyHolder(cluster), lagging, `${lagging} took the leader key although it lags`);
      assert.equal(await currentPrimary(cluster), null);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    try {
      process.kill(receiver.pid, 'SIGCONT');
    } catch {
      // the receiver may have exited
    }
    await sql(cluster, lagging, 'SELECT pg_wal_replay_resume()').catch(() => undefined);
  }
  await restartAgent(cluster, healthyReplica);
  await restartAgent(cluster, leader);
  const newLeader = await healthy();
  assert.notEqual(newLeader, lagging);
});

async function setDynamicConfig(patch: Record<string, unknown>): Promise<void> {
  const dcs = sandboxDcs(cluster.record, 'test-editor');
  try {
    const view = await dcs.loadCluster();
    assert.ok(view.config !== null);
    assert.equal(await dcs.setConfig({ ...view.config.value, ...patch }, view.config.modRevision), true);
  } finally {
    await dcs.close();
  }
}

test('failsafe_mode: with etcd gone for everyone, the leader keeps running while every member accepts POST /failsafe, and demotes when one does not', async () => {
  const leader = await healthy();
  await setDynamicConfig({ failsafe_mode: true });
  // The leader writes the failsafe key on its next cycles.
  await new Promise((r) => setTimeout(r, 3 * LOOP_WAIT_MS));
  for (const proxy of proxies.values()) proxy.cut();
  try {
    // Well past the lease: still the primary, still accepting writes.
    await new Promise((r) => setTimeout(r, TTL_MS + 3 * LOOP_WAIT_MS));
    const [row] = await sql<{ in_recovery: boolean }>(cluster, leader, 'SELECT pg_is_in_recovery() AS in_recovery');
    assert.equal(row?.in_recovery, false, 'the leader must keep running in failsafe mode');
    await sql(cluster, leader, 'CREATE TABLE IF NOT EXISTS failsafe_check (id int)');
    await sql(cluster, leader, 'INSERT INTO failsafe_check VALUES (1)');
    // One member stops answering: the leader can no longer prove nobody races, so it demotes.
    const replica = cluster.record.nodes.find((n) => n.name !== leader);
    assert.ok(replica);
    await killNode(cluster, replica.name, { agent: true, postgres: false });
    await eventually(`${leader} demoted once a member stopped answering`, 30_000, async () => {
      const [state] = await sql<{ in_recovery: boolean }>(cluster, leader, 'SELECT pg_is_in_recovery() AS in_recovery');
      return state?.in_recovery === true ? true : undefined;
    });
    await restartAgent(cluster, replica.name);
  } finally {
    for (const proxy of proxies.values()) proxy.heal();
  }
  await setDynamicConfig({ failsafe_mode: false });
  await healthy();
});

test('SIGTERM on the leader: PostgreSQL shut down cleanly, leader and member keys removed at once, a replica takes over', async () => {
  const leader = await healthy();
  const node = cluster.record.nodes.find((n) => n.name === leader);
  assert.ok(node);
  const stoppedAt = performance.now();
  process.kill(node.pid, 'SIGTERM');
  await eventually('the agent to exit', 60_000, async () => {
    try {
      process.kill(node.pid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
  const exitedAfterMs = performance.now() - stoppedAt;
  // Released, not left to expire: when the agent is gone the key no longer names it (expiry would
  // take until the last keepalive + ttl).
  const holderAtExit = await leaderKeyHolder(cluster);
  if (exitedAfterMs < TTL_MS - LOOP_WAIT_MS) assert.notEqual(holderAtExit, leader, 'the leader key must be released on SIGTERM');
  assert.equal(await postmasterPid(cluster, leader), null, 'PostgreSQL must be stopped');
  const { execFileSync } = await import('node:child_process');
  const control = execFileSync('/usr/lib/postgresql/15/bin/pg_controldata', ['-D', node.dataDir], { env: { LC_ALL: 'C' } }).toString();
  assert.match(control, /Database cluster state:\s+shut down\n/, 'a clean shutdown');
  const newLeader = await eventually('a new leader', TTL_MS + 30_000, async () => {
    const holder = await leaderKeyHolder(cluster);
    return holder !== null && holder !== leader ? holder : undefined;
  });
  const observer = sandboxDcs(cluster.record, 'test-observer');
  const members = await observer
    .loadCluster()
    .then((view) => view.members.map((m) => m.name))
    .finally(() => observer.close());
  assert.ok(!members.includes(leader), 'the stopped agent removed its member key');
  assert.notEqual(newLeader, leader);
  await restartAgent(cluster, leader);
  await healthy();
});
