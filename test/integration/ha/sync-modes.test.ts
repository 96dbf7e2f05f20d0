/**
 * Synchronous replication on real processes (issue 9): a 3-node sandbox (ttl 7 / loop_wait 1 /
 * retry_timeout 3, each agent reaching etcd through its own cuttable proxy), synchronous_mode
 * switched on with PATCH /config as an operator would.
 *
 *  - the leader names a synchronous standby: synchronous_standby_names, the sync key, /sync and
 *    /async, `keel list`'s Sync Standby;
 *  - under writers (pinned to every node, plus a multi-host one), 10 consecutive kill -9 failovers
 *    of the leader (agent and postmaster) in synchronous_mode on, then 10 in quorum: the write-loss
 *    checker finds 0 acknowledged writes lost, and the cluster is back each time (a new leader
 *    acknowledging, the killed node rejoined, a standby in the key again);
 *  - a synchronous standby killed: the other replica is named within a few seconds;
 *  - switchover goes only to a synchronous standby (412 for an asynchronous candidate);
 *  - the fence stops commits in synchronous mode on and quorum (the leader cut off from etcd);
 *  - strict with both replicas stopped: a commit does not return until one is back;
 *    non-strict: commits go on and the sync key is emptied, and `keel list` says so.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import {
  startTestCluster,
  sql,
  eventually,
  killNode,
  restartAgent,
  currentPrimary,
  leaderKeyHolder,
  postmasterPid,
  runKeel,
  withAgentLogs,
  type TestCluster,
} from '../../support/sandbox.js';
import { proxiedEtcdHosts, type CuttableProxy } from '../../support/tcp-proxy.js';
import { WriteLossRun, formatReport, monoMs, type WriteTarget } from '../../support/write-loss.js';
import { sandboxDcs } from '../../../src/sandbox/sandbox.js';
import type { SyncState } from '../../../src/dcs/types.js';
import { ackRuleOf } from '../../../src/ha/core/sync-standby-names.js';

const TTL_MS = 7_000;
const LOOP_WAIT_MS = 1_000;
const FAILOVERS = 10;
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

function targets(): WriteTarget[] {
  return cluster.record.nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.pgPort }));
}

function apiOf(node: string): string {
  const n = cluster.record.nodes.find((m) => m.name === node);
  if (n === undefined) throw new Error(`no node ${node}`);
  return `http://127.0.0.1:${n.apiPort}`;
}

async function syncKey(): Promise<{ leader: string | null; sync: SyncState | null }> {
  const dcs = sandboxDcs(cluster.record, 'sync-test-observer');
  try {
    const view = await dcs.loadCluster();
    return { leader: view.leader?.name ?? null, sync: view.sync?.value ?? null };
  } finally {
    await dcs.close();
  }
}

async function patchConfig(body: Record<string, unknown>): Promise<void> {
  const leader = (await leaderKeyHolder(cluster)) ?? cluster.leader;
  const response = await fetch(`${apiOf(leader)}/config`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(response.status, 200, await response.text());
  // The leader acts on the new settings from its first cycle that began after the patch: wait for
  // a cycle that ended after it, then for the next one (which began after that). Without this a
  // test could stop both replicas while the leader still ran on the old settings (a non-strict
  // leader then acknowledges alone, which test 9 once saw as a commit returning under strict).
  const patchedAtMs = Date.now();
  const after = await eventually('a leader cycle after the patch', 30_000, async () => {
    const at = await lastCycleAtMs(leader);
    return at !== null && at > patchedAtMs ? at : undefined;
  });
  await eventually('the next leader cycle', 30_000, async () => {
    const at = await lastCycleAtMs(leader);
    return at !== null && at > after ? true : undefined;
  });
}

/** Wall-clock time (ms) of the last HA cycle of `member`, from its GET /decisions. */
async function lastCycleAtMs(member: string): Promise<number | null> {
  const response = await fetch(`${apiOf(member)}/decisions`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
  if (response === null || response.status !== 200) return null;
  const body = (await response.json()) as { decisions: Array<{ last_at: string }> };
  const newest = body.decisions[0];
  return newest === undefined ? null : Date.parse(newest.last_at);
}

/** The leader key holder once its sync key lists a standby that streams from it. */
/** The leader key's holder once it is another member than `oldLeader`; a timeout carries the agents' log tails. */
async function newLeaderAfter(oldLeader: string, what: string): Promise<string> {
  return withAgentLogs(
    cluster.record,
    eventually(what, TTL_MS + 10 * LOOP_WAIT_MS + 30_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && holder !== oldLeader ? holder : undefined;
    }),
  );
}

async function syncReady(what: string, timeoutMs = 60_000): Promise<{ leader: string; standbys: string[] }> {
  return withAgentLogs(
    cluster.record,
    eventually(what, timeoutMs, async () => {
      const { leader, sync } = await syncKey();
      if (leader === null || sync === null || sync.leader !== leader || sync.syncStandbys.length === 0) return undefined;
      const rows = await sql<{ application_name: string }>(cluster, leader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
      const streaming = rows.map((r) => r.application_name);
      if (!sync.syncStandbys.every((s) => streaming.includes(s))) return undefined;
      // Not while the setting changes: the key then bridges two settings, listing the standbys of both.
      const [setting] = await sql<{ s: string }>(cluster, leader, "SELECT current_setting('synchronous_standby_names') AS s");
      const rule = ackRuleOf(setting?.s ?? '');
      const named = rule.kind === 'standbys' ? [...rule.names].sort() : [];
      return named.join(',') === [...sync.syncStandbys].sort().join(',') ? { leader, standbys: sync.syncStandbys } : undefined;
    }),
  );
}

/**
 * Every other member streams from `leader`, and nothing else is connected: counting rows would
 * also count a clone's WAL stream (pg_basebackup -X stream), whose agent a later kill leaves
 * running.
 */
async function everyReplicaStreaming(leader: string): Promise<void> {
  const replicas = cluster.record.nodes
    .map((n) => n.name)
    .filter((n) => n !== leader)
    .sort();
  await eventually('every replica streaming', 90_000, async () => {
    const rows = await sql<{ application_name: string; state: string }>(cluster, leader, 'SELECT application_name, state FROM pg_stat_replication');
    const streaming = rows.filter((r) => r.state === 'streaming').map((r) => r.application_name);
    return rows.length === replicas.length && streaming.sort().join(',') === replicas.join(',') ? true : undefined;
  });
}

async function httpCode(url: string): Promise<number> {
  return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status;
}

test('synchronous_mode on: the leader names a synchronous standby in its setting and the sync key; /sync, /async and keel list agree', async () => {
  await patchConfig({ synchronous_mode: true });
  const { leader, standbys } = await syncReady('a synchronous standby in the sync key');
  assert.equal(standbys.length, 1);
  const standby = standbys[0] as string;
  const other = cluster.record.nodes.map((n) => n.name).find((n) => n !== leader && n !== standby) as string;
  const [setting] = await sql<{ s: string }>(cluster, leader, "SELECT current_setting('synchronous_standby_names') AS s");
  assert.equal(setting?.s, standby);
  const [row] = await sql<{ sync_state: string }>(cluster, leader, 'SELECT sync_state FROM pg_stat_replication WHERE application_name = $1', [standby]);
  assert.equal(row?.sync_state, 'sync');
  await eventually('the health endpoints to follow the key', 20_000, async () =>
    (await httpCode(`${apiOf(standby)}/sync`)) === 200 && (await httpCode(`${apiOf(other)}/async`)) === 200 ? true : undefined,
  );
  assert.equal(await httpCode(`${apiOf(other)}/sync`), 503);
  assert.equal(await httpCode(`${apiOf(standby)}/async`), 503);
  assert.equal(await httpCode(`${apiOf(leader)}/read-only-sync`), 200);
  const list = await runKeel(['-c', cluster.record.nodes[0]?.config ?? '', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`\\| ${standby} +\\| [^|]+\\| Sync Standby \\|`));
});

/** kill -9 of the leader (agent and postmaster) FAILOVERS times under writers; the report must show 0 lost. */
async function failoversUnderWriters(mode: 'on' | 'quorum', table: string): Promise<void> {
  const first = await syncReady(`a ${mode} standby in the sync key`);
  const run = new WriteLossRun({ password: cluster.superuserPassword, table, statementTimeoutMs: 20_000 });
  await run.prepare(targets().find((t) => t.name === first.leader) as WriteTarget);
  run.addPinned(targets()).addMultiHost(targets());
  run.start(20);
  const leaders: string[] = [first.leader];
  try {
    for (let i = 1; i <= FAILOVERS; i++) {
      const { leader } = await syncReady(`failover ${i}: a standby in the sync key`, 90_000);
      await eventually(`failover ${i}: ${leader} acknowledging`, 30_000, async () => (run.acks.some((a) => a.node === leader) ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      await killNode(cluster, leader, { agent: true, postgres: true });
      const next = await newLeaderAfter(leader, `failover ${i}: a new leader`);
      const acksBefore = run.acks.length;
      await eventually(`failover ${i}: ${next} acknowledging`, 30_000, async () =>
        run.acks.slice(acksBefore).some((a) => a.node === next) ? true : undefined,
      );
      await restartAgent(cluster, leader);
      leaders.push(next);
    }
    // the last killed node back as a replica too
    await syncReady('the cluster back after the last failover', 90_000);
  } finally {
    await run.stop();
  }
  const report = await run.verify(async () => {
    const primary = await currentPrimary(cluster);
    if (primary === null) throw new Error('no primary yet');
    return targets().find((t) => t.name === primary) as WriteTarget;
  });
  const text = formatReport(report);
  process.stderr.write(`synchronous_mode ${mode}, ${FAILOVERS} failovers (leaders ${leaders.join(' -> ')}):\n${text}\n`);
  assert.ok(report.acknowledged > 100, text);
  assert.deepEqual(report.lost, [], text);
  assert.deepEqual(report.doubleAcked, [], text);
  assert.deepEqual(report.overlappingPrimaries, [], text);
  assert.equal(new Set(leaders).size >= 2, true);
}

test(
  `synchronous_mode on: ${FAILOVERS} consecutive kill -9 failovers of the leader under writers, 0 acknowledged writes lost`,
  { timeout: 900_000 },
  async () => {
    await failoversUnderWriters('on', 'sync_on_failovers');
  },
);

test('a synchronous standby killed: the other replica is named within a few seconds, and rejoins the key when back', async () => {
  const { leader, standbys } = await syncReady('a synchronous standby');
  const killed = standbys[0] as string;
  const other = cluster.record.nodes.map((n) => n.name).find((n) => n !== leader && n !== killed) as string;
  await everyReplicaStreaming(leader);
  await killNode(cluster, killed, { agent: true, postgres: true });
  const startedMs = performance.now();
  try {
    await eventually(`${other} named instead of ${killed}`, 60_000, async () => {
      const { sync } = await syncKey();
      return sync !== null && sync.leader === leader && sync.syncStandbys.includes(other) && !sync.syncStandbys.includes(killed) ? true : undefined;
    }).catch(async (error: unknown) => {
      const node = cluster.record.nodes.find((n) => n.name === leader);
      const log = node === undefined ? '' : await readFile(node.logFile, 'utf8').catch(() => '');
      throw new Error(`${String(error)}\n--- ${leader} log (last 30 lines) ---\n${log.split('\n').slice(-30).join('\n')}`);
    });
    process.stderr.write(`sync standby replaced in ${((performance.now() - startedMs) / 1000).toFixed(1)} s\n`);
    const [setting] = await sql<{ s: string }>(cluster, leader, "SELECT current_setting('synchronous_standby_names') AS s");
    assert.equal(setting?.s, other);
  } finally {
    // back whatever happened, so the next tests start from three nodes
    await restartAgent(cluster, killed);
  }
  await eventually(`${killed} streaming again`, 90_000, async () => {
    const rows = await sql<{ n: string }>(
      cluster,
      leader,
      "SELECT count(*) AS n FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
      [killed],
    );
    return Number(rows[0]?.n) === 1 ? true : undefined;
  });
});

/** The WAL receiver of the PostgreSQL whose postmaster is `postmaster` (a child whose command line says so). */
async function walReceiverPid(postmaster: number): Promise<number | null> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== postmaster) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('walreceiver')) return Number(entry);
  }
  return null;
}

test('a synchronous standby that stops confirming (WAL receiver frozen): a commit waiting on it returns within seconds, though nothing else is written', async () => {
  const { leader, standbys } = await syncReady('a synchronous standby');
  const frozen = standbys[0] as string;
  const other = cluster.record.nodes.map((n) => n.name).find((n) => n !== leader && n !== frozen) as string;
  await everyReplicaStreaming(leader);
  // PostgreSQL releases a commit waiting on a replaced standby only when a standby of the new
  // setting replies; an idle one replies every wal_receiver_status_interval. Made 300 s here, so
  // that only the leader's own release commit can explain a prompt return.
  await sql(cluster, other, "ALTER SYSTEM SET wal_receiver_status_interval = '300s'");
  await sql(cluster, other, 'SELECT pg_reload_conf()');
  await sql(cluster, leader, 'CREATE TABLE IF NOT EXISTS sync_release (id int)');
  const postmaster = await postmasterPid(cluster, frozen);
  const receiver = postmaster === null ? null : await walReceiverPid(postmaster);
  assert.ok(receiver !== null, `${frozen}'s WAL receiver`);
  const node = cluster.record.nodes.find((n) => n.name === leader);
  const client = new pg.Client({ host: '127.0.0.1', port: node?.pgPort, user: 'postgres', password: cluster.superuserPassword, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  process.kill(receiver, 'SIGSTOP');
  try {
    const startedMs = performance.now();
    await client.query('INSERT INTO sync_release VALUES (1)');
    const returnedS = (performance.now() - startedMs) / 1000;
    process.stderr.write(`sync release: a commit waiting on a frozen standby returned after ${returnedS.toFixed(2)} s\n`);
    assert.ok(returnedS < 10, `the commit returned after ${returnedS.toFixed(1)} s (standby replies every 300 s)`);
    const [setting] = await sql<{ s: string }>(cluster, leader, "SELECT current_setting('synchronous_standby_names') AS s");
    assert.equal(setting?.s, other);
  } finally {
    process.kill(receiver, 'SIGCONT');
    await client.end().catch(() => undefined);
    await sql(cluster, other, 'ALTER SYSTEM RESET wal_receiver_status_interval');
    await sql(cluster, other, 'SELECT pg_reload_conf()');
  }
  await everyReplicaStreaming(leader);
});

test('switchover in synchronous mode goes only to a synchronous standby: 412 for an asynchronous candidate', async () => {
  const { leader, standbys } = await syncReady('a synchronous standby');
  const sync = standbys[0] as string;
  await everyReplicaStreaming(leader);
  const asyncNode = cluster.record.nodes.map((n) => n.name).find((n) => n !== leader && n !== sync) as string;
  const refused = await fetch(`${apiOf(leader)}/switchover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ leader, candidate: asyncNode }),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(refused.status, 412);
  assert.equal(await refused.text(), 'candidate name does not match with sync_standby');
  const done = await fetch(`${apiOf(leader)}/switchover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ leader }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await done.text();
  assert.equal(done.status, 200, text);
  assert.equal(text, `Successfully switched over to "${sync}"`);
});

/** The leader cut off from etcd (its proxy cut) under a pinned writer: its acknowledgements stop before its lease can expire. */
async function fenceStopsCommits(table: string): Promise<void> {
  const { leader } = await syncReady('a synchronous standby');
  const run = new WriteLossRun({ password: cluster.superuserPassword, table, statementTimeoutMs: 5000 });
  await run.prepare(targets().find((t) => t.name === leader) as WriteTarget);
  run.addPinned(targets().filter((t) => t.name === leader));
  run.start(20);
  let cutAtMs = 0;
  try {
    await eventually('acknowledgements from the leader', 20_000, async () => (run.acks.length > 10 ? true : undefined));
    proxies.get(leader)?.cut();
    cutAtMs = monoMs();
    await newLeaderAfter(leader, 'a new leader');
  } finally {
    await run.stop();
    proxies.get(leader)?.heal();
  }
  const lastAck = Math.max(...run.acks.map((a) => a.atMs));
  assert.ok(lastAck < cutAtMs + TTL_MS, `the cut-off leader acknowledged ${(lastAck - cutAtMs).toFixed(0)} ms after the cut, past the lease ttl`);
  await syncReady('the cluster back after the fence', 90_000);
}

test('the fence stops commits in synchronous mode on: the leader cut off from etcd stops acknowledging before its lease can expire', async () => {
  await fenceStopsCommits('sync_fence_on');
});

test(
  `synchronous_mode quorum: ${FAILOVERS} consecutive kill -9 failovers of the leader under writers, 0 acknowledged writes lost`,
  { timeout: 900_000 },
  async () => {
    await patchConfig({ synchronous_mode: 'quorum', synchronous_node_count: 1 });
    const { leader } = await eventually('ANY 1 (...) on the leader and a quorum key', 60_000, async () => {
      const ready = await syncReady('a quorum key');
      const [setting] = await sql<{ s: string }>(cluster, ready.leader, "SELECT current_setting('synchronous_standby_names') AS s");
      const { sync } = await syncKey();
      return setting?.s.startsWith('ANY 1 (') === true && sync !== null && sync.syncStandbys.length === 2 && sync.quorum === 1 ? ready : undefined;
    });
    const others = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
    await eventually('/quorum 200 on both standbys', 20_000, async () => {
      const codes = await Promise.all(others.map((node) => httpCode(`${apiOf(node)}/quorum`)));
      return codes.every((code) => code === 200) ? true : undefined;
    });
    await failoversUnderWriters('quorum', 'sync_quorum_failovers');
  },
);

test('the fence stops commits in quorum mode too', async () => {
  await fenceStopsCommits('sync_fence_quorum');
});

/** A commit in flight on `node`: `state.outcome` is 'waiting', then 'committed' or the error. */
async function commitWithin(node: string, waitMs: number): Promise<{ state: { outcome: string }; client: pg.Client; done: Promise<void> }> {
  const n = cluster.record.nodes.find((m) => m.name === node);
  if (n === undefined) throw new Error(`no node ${node}`);
  const client = new pg.Client({ host: '127.0.0.1', port: n.pgPort, user: 'postgres', password: cluster.superuserPassword, database: 'postgres' });
  await client.connect();
  const state = { outcome: 'waiting' };
  const done = client
    .query('INSERT INTO sync_strict VALUES (DEFAULT)')
    .then(() => {
      state.outcome = 'committed';
    })
    .catch((error: unknown) => {
      state.outcome = error instanceof Error ? error.message : String(error);
    });
  await Promise.race([done, new Promise((r) => setTimeout(r, waitMs))]);
  return { state, client, done };
}

test('strict: both replicas stopped, a commit does not return until one is back; non-strict: commits go on and the key is emptied', async () => {
  await patchConfig({ synchronous_mode: true, synchronous_mode_strict: true });
  const { leader } = await syncReady('a synchronous standby (strict)');
  await sql(cluster, leader, 'CREATE TABLE IF NOT EXISTS sync_strict (id bigserial PRIMARY KEY)');
  const replicas = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
  // Both replicas running before they are killed: one still starting (its postmaster.pid not yet
  // written) would survive killNode and stream again behind the test's back.
  await everyReplicaStreaming(leader);
  for (const r of replicas) await killNode(cluster, r, { agent: true, postgres: true });
  // kill -9 of a postmaster does not stop its WAL receiver at once: it exits when it next waits
  // and sees the postmaster gone, and until then it may still receive, flush and acknowledge WAL.
  // That is one way the commit below could return, as it did once in the full suite on 2 cores
  // (2026-12-06; the cause was not established). Stopped means gone from pg_stat_replication.
  let connected: Record<string, unknown>[] = [];
  await eventually('no standby connected to the leader', 30_000, async () => {
    connected = await sql(cluster, leader, 'SELECT pid, application_name, state, client_port, backend_start::text FROM pg_stat_replication');
    return connected.length === 0 ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; still connected: ${JSON.stringify(connected)}`);
  });
  const waiting = await commitWithin(leader, 5000);
  try {
    assert.equal(waiting.state.outcome, 'waiting', 'strict: a commit without a synchronous standby must not return');
    await new Promise((r) => setTimeout(r, 3 * LOOP_WAIT_MS));
    assert.equal(waiting.state.outcome, 'waiting', 'strict: still waiting after a few cycles');
    const { sync } = await syncKey();
    assert.ok(sync !== null && sync.leader === leader);
    for (const r of replicas) await restartAgent(cluster, r);
    await Promise.race([waiting.done, new Promise((r) => setTimeout(r, 90_000))]);
    assert.equal(waiting.state.outcome, 'committed', 'the commit returns once a synchronous standby is back');
  } finally {
    await waiting.client.end().catch(() => undefined);
  }
  await syncReady('standbys back (strict)', 90_000);

  await patchConfig({ synchronous_mode_strict: false });
  await everyReplicaStreaming(leader);
  for (const r of replicas) await killNode(cluster, r, { agent: true, postgres: true });
  await eventually('the sync key emptied', 30_000, async () => {
    const { sync } = await syncKey();
    return sync !== null && sync.leader === leader && sync.syncStandbys.length === 0 ? true : undefined;
  });
  const alone = await commitWithin(leader, 15_000);
  try {
    assert.equal(alone.state.outcome, 'committed', 'non-strict: the leader acknowledges alone');
  } finally {
    await alone.client.end().catch(() => undefined);
  }
  const list = await runKeel(['-c', cluster.record.nodes[0]?.config ?? '', 'list']);
  assert.match(list.stdout, /^ Synchronous replication: no synchronous standby, the leader acknowledges commits alone$/m);
  for (const r of replicas) await restartAgent(cluster, r);
  await syncReady('standbys back (non-strict)', 90_000);
});
