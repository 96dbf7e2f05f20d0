/**
 * Routing through a real HAProxy (issue 11): `keel sandbox up --haproxy` on a real cluster
 * (etcd x3, PostgreSQL x3 with scram/md5 pg_hba, ttl 10, loop_wait 2), HAProxy with the seed's
 * check timings (inter 3s fall 3 rise 2) and the agents' runtime-API announcements.
 * node3 is tagged noloadbalance (and nofailover, so it stays a replica whatever happens).
 *
 * In order: the write port reaches the leader and the read port a replica; the stats page
 * answers; node3 never gets a read; after a kill -9 of the leader the write port reaches the new
 * leader (announced by its agent, not only found by the checks); with HAProxy killed the agents
 * carry on through a switchover and say that HAProxy does not answer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { startTestCluster, eventually, killNode, runKeel, leaderKeyHolder, type TestCluster } from '../../support/sandbox.js';
import { waitForCluster } from '../../../src/sandbox/sandbox.js';
import { routingNow, statsUrl, waitForRouting, SEED_CHECK_TIMINGS, type SandboxHaproxyRecord } from '../../../src/sandbox/haproxy.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ haproxy: { timings: SEED_CHECK_TIMINGS, runtimeApi: true }, nodeTags: { node3: ['noloadbalance', 'nofailover'] } });
});

after(async () => {
  await cluster?.stop();
});

function haproxy(): SandboxHaproxyRecord {
  const record = cluster.record.haproxy;
  assert.ok(record !== undefined, 'the sandbox started HAProxy');
  return record;
}

function nodeOf(name: string) {
  const node = cluster.record.nodes.find((n) => n.name === name);
  assert.ok(node !== undefined, `no node ${name}`);
  return node;
}

/** One fresh connection through an HAProxy port: is the server in recovery, and which one is it (its port). */
async function through(port: number): Promise<{ inRecovery: boolean; serverPort: number }> {
  const client = new pg.Client({
    host: cluster.record.host,
    port,
    user: 'postgres',
    password: cluster.superuserPassword,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
    query_timeout: 5000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const rows = (await client.query<{ r: boolean; p: number }>("SELECT pg_is_in_recovery() AS r, current_setting('port')::int AS p")).rows;
    return { inRecovery: rows[0]?.r ?? true, serverPort: rows[0]?.p ?? 0 };
  } finally {
    await client.end();
  }
}

const nodeByPort = (port: number) => cluster.record.nodes.find((n) => n.pgPort === port)?.name ?? `port ${port}`;

test('the write port reaches the leader, the read port a replica, never the noloadbalance one', { timeout: 120_000 }, async () => {
  const leader = cluster.leader;
  assert.notEqual(leader, 'node3', 'node3 is nofailover: it cannot lead');
  await waitForRouting(cluster.record.host, haproxy(), leader, 60_000);
  const write = await through(haproxy().writePort);
  assert.deepEqual(write, { inRecovery: false, serverPort: nodeOf(leader).pgPort });

  const otherReplica = leader === 'node1' ? 'node2' : 'node1';
  await eventually(`${otherReplica} up in the read backend`, 60_000, async () =>
    (await routingNow(cluster.record.host, haproxy()))?.read.includes(otherReplica) ? true : undefined,
  );
  const routing = await routingNow(cluster.record.host, haproxy());
  assert.deepEqual(routing?.read, [otherReplica], 'only the replica without noloadbalance takes reads');
  const seen = new Set<string>();
  for (let i = 0; i < 12; i += 1) {
    const read = await through(haproxy().readPort);
    assert.equal(read.inRecovery, true, 'a read connection reached a primary');
    seen.add(nodeByPort(read.serverPort));
  }
  assert.deepEqual([...seen], [otherReplica], 'node3 (noloadbalance) got reads');
});

test('the stats page answers (mode http)', async () => {
  const response = await fetch(statsUrl(cluster.record.host, haproxy()), { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  const body = await response.text();
  assert.match(body, /postgres_write/);
  assert.match(body, /postgres_read/);
});

test('after kill -9 of the leader the write port reaches the new leader, told by its agent', { timeout: 180_000 }, async () => {
  const oldLeader = cluster.leader;
  const newLeader = oldLeader === 'node1' ? 'node2' : 'node1';
  await killNode(cluster, oldLeader, { agent: true, postgres: true });
  await eventually(`${newLeader} holding the leader key`, 90_000, async () => ((await leaderKeyHolder(cluster)) === newLeader ? true : undefined));
  const write = await eventually('the write port reaching a primary', 60_000, async () => {
    const answer = await through(haproxy().writePort);
    return answer.inRecovery ? undefined : answer;
  });
  assert.equal(nodeByPort(write.serverPort), newLeader);
  const log = await readFile(nodeOf(newLeader).logFile, 'utf8');
  assert.match(log, new RegExp(`told HAProxy at \\S+: ${newLeader} promoted: writes here only`));
  // the dead leader was taken out of the write backend at the announcement, not inter x fall later
  assert.deepEqual((await routingNow(cluster.record.host, haproxy()))?.write, [newLeader]);

  // the old leader comes back as a replica (for the next test's switchover), started as the guide does it
  const started = await runKeel(['sandbox', 'start-agent', '--dir', cluster.dir, oldLeader]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, new RegExp(`started the agent of ${oldLeader}: pid \\d+`));
  const again = await runKeel(['sandbox', 'start-agent', '--dir', cluster.dir, oldLeader]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /is already running/);
  const pid = Number(/pid (\d+)/.exec(started.stdout)?.[1]);
  nodeOf(oldLeader).pid = pid; // the record on disk has it too, for the teardown
  await waitForCluster(cluster.record, 150_000);
});

test('with HAProxy killed the agents carry on (a switchover completes) and say HAProxy does not answer', { timeout: 240_000 }, async () => {
  const leader = await leaderKeyHolder(cluster);
  assert.ok(leader !== null);
  const candidate = leader === 'node1' ? 'node2' : 'node1';
  process.kill(haproxy().pid, 'SIGKILL');
  await eventually('HAProxy gone', 10_000, async () => ((await routingNow(cluster.record.host, haproxy())) === null ? true : undefined));
  const result = await runKeel(['-c', nodeOf(leader).config, 'switchover', '--force', '--candidate', candidate], { timeoutMs: 120_000 });
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  assert.equal(await leaderKeyHolder(cluster), candidate);
  await waitForCluster(cluster.record, 120_000);
  for (const name of [leader, candidate]) {
    const log = await readFile(nodeOf(name).logFile, 'utf8');
    assert.match(log, /HAProxy runtime API at \S+ not reachable .*the HA loop goes on/, `${name} did not say HAProxy is unreachable`);
  }
});
