/**
 * Issue 10, part 1, on real processes (sandbox: etcd×3, PostgreSQL×3 with passwords, ttl 10 /
 * loop_wait 2 / retry_timeout 3, no watchdog): a leader whose agent cannot fence — frozen with
 * SIGSTOP, or killed — while its PostgreSQL keeps running. keel-fence, the process the agent
 * feeds with its lease deadline, stops that PostgreSQL before a replica can be promoted, so no
 * two nodes ever acknowledge writes at once. A writer on every node records each acknowledgement.
 *
 *  1. agent frozen past ttl, then resumed: no overlap, the old leader rejoins;
 *  2. agent killed with kill -9: no overlap, restarted it rejoins;
 *  3. agent and keel-fence both killed, agent restarted at once (as systemd does): the leader
 *     goes on, guarded by a new keel-fence.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { eventually, leaderKeyHolder, postmasterPid, restartAgent, sql, startTestCluster, type TestCluster } from '../../support/sandbox.js';
import { AckWriter, singleWriterViolation, type Ack } from '../../support/ack-writer.js';
import { waitForCluster } from '../../../src/sandbox/sandbox.js';
import { keelFencePids } from '../../../src/engine/process-fence.js';
import { askKeelFence } from '../../support/keel-fence.js';

const TTL_MS = 10_000;
let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    for (const node of cluster?.record.nodes ?? []) {
      try {
        process.kill(node.pid, 'SIGCONT');
      } catch {
        // not running
      }
    }
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

function member(name: string): TestCluster['record']['nodes'][number] {
  const node = cluster.record.nodes.find((n) => n.name === name);
  if (node === undefined) throw new Error(`no node ${name}`);
  return node;
}

function writer(): AckWriter {
  return new AckWriter(
    cluster.record.nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.pgPort })),
    cluster.superuserPassword,
  );
}

async function startWriter(leader: string): Promise<AckWriter> {
  const w = writer();
  await w.prepare({ name: leader, host: '127.0.0.1', port: member(leader).pgPort });
  w.start();
  await eventually(`writes acknowledged by ${leader}`, 20_000, async () => (w.acks.some((a) => a.node === leader) ? true : undefined));
  return w;
}

async function newLeaderTakingWrites(oldLeader: string, w: AckWriter): Promise<string> {
  const leader = await eventually('a new leader', TTL_MS + 40_000, async () => {
    const holder = await leaderKeyHolder(cluster);
    return holder !== null && holder !== oldLeader ? holder : undefined;
  });
  await eventually(`writes acknowledged by ${leader}`, 30_000, async () => (w.acks.some((a) => a.node === leader) ? true : undefined));
  return leader;
}

async function streamsFrom(replica: string, leader: string): Promise<void> {
  await eventually(`${replica} streaming from ${leader}`, 120_000, async () => {
    const rows = await sql<{ application_name: string }>(cluster, leader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'").catch(
      () => [],
    );
    return rows.some((r) => r.application_name === replica) ? true : undefined;
  });
}

/** keel-fence's one-line status for a node's data directory ("armed <ms> <pid> <stops>", ...). */
function fenceStatus(name: string): Promise<string> {
  return askKeelFence(member(name).dataDir, 'status');
}

function lastAck(acks: Ack[], node: string): number {
  return Math.max(...acks.filter((a) => a.node === node).map((a) => a.atMs));
}

function firstAck(acks: Ack[], node: string): number {
  return Math.min(...acks.filter((a) => a.node === node).map((a) => a.atMs));
}

/** keel_fence_events_total of a member's /metrics, by who fenced. */
async function fenceMetric(name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${member(name).apiPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^keel_fence_events_total\{[^}]*by="([^"]+)"[^}]*\} (\d+)$/gm)) counts[m[1] as string] = Number(m[2]);
  return counts;
}

async function logTail(name: string): Promise<string> {
  return (await readFile(member(name).logFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
}

test('the leader agent frozen past ttl: keel-fence stops its PostgreSQL before a replica takes over; resumed, it rejoins', async () => {
  const oldLeader = await waitForCluster(cluster.record, 120_000);
  assert.match(await fenceStatus(oldLeader), /^armed \d+ \d+ \d+$/, 'the leader runs an armed keel-fence');
  const w = await startWriter(oldLeader);
  const agentPid = member(oldLeader).pid;
  process.kill(agentPid, 'SIGSTOP');
  let newLeader: string;
  try {
    newLeader = await newLeaderTakingWrites(oldLeader, w);
    assert.equal(await postmasterPid(cluster, oldLeader), null, `${oldLeader}'s PostgreSQL still runs while its agent is frozen`);
  } finally {
    process.kill(agentPid, 'SIGCONT');
  }
  await streamsFrom(oldLeader, newLeader);
  await w.stop();
  assert.equal(singleWriterViolation(w.acks), null);
  const overlapMs = lastAck(w.acks, oldLeader) - firstAck(w.acks, newLeader);
  assert.ok(overlapMs < 0, `${oldLeader} acknowledged ${overlapMs.toFixed(0)} ms after ${newLeader} started to`);
  const log = await readFile(member(oldLeader).logFile, 'utf8');
  assert.match(log, /keel-fence: .*stopping the postmaster/, await logTail(oldLeader));
  // The resumed agent heard of the stop and counts it as keel-fence's. (Its own lease guard may
  // fire too on resuming, its timer being overdue: that one is counted as the agent's.)
  const fences = await fenceMetric(oldLeader);
  assert.equal(fences['keel-fence'], 1, `${JSON.stringify(fences)}\n${await logTail(oldLeader)}`);
  assert.match(log, /keel-fence stopped PostgreSQL once while this agent could not/);
});

test('the leader agent killed (kill -9), PostgreSQL left running: keel-fence stops it before a replica takes over', async () => {
  const oldLeader = await waitForCluster(cluster.record, 120_000);
  const w = await startWriter(oldLeader);
  process.kill(member(oldLeader).pid, 'SIGKILL');
  const newLeader = await newLeaderTakingWrites(oldLeader, w);
  assert.equal(await postmasterPid(cluster, oldLeader), null, `${oldLeader}'s PostgreSQL still runs after its agent was killed`);
  await restartAgent(cluster, oldLeader);
  await streamsFrom(oldLeader, newLeader);
  await w.stop();
  assert.equal(singleWriterViolation(w.acks), null);
  assert.ok(lastAck(w.acks, oldLeader) < firstAck(w.acks, newLeader), 'the killed agent`s PostgreSQL acknowledged after the new leader');
});

test('agent and keel-fence both killed, the agent restarted at once: the leader goes on under a new keel-fence', async () => {
  const leader = await waitForCluster(cluster.record, 120_000);
  const [oldFence] = keelFencePids([member(leader).dataDir]);
  assert.ok(oldFence !== undefined, `no keel-fence guards ${leader}`);
  const w = await startWriter(leader);
  process.kill(member(leader).pid, 'SIGKILL');
  process.kill(oldFence, 'SIGKILL');
  await restartAgent(cluster, leader);
  try {
    const status = await eventually(`a new armed keel-fence on ${leader}`, 30_000, async () => {
      const pids = keelFencePids([member(leader).dataDir]);
      const answer = await fenceStatus(leader);
      return pids.length === 1 && pids[0] !== oldFence && answer.startsWith('armed') ? answer : undefined;
    });
    assert.match(status, /^armed \d+ \d+ \d+$/);
    await eventually('writes acknowledged again after the restart', 30_000, async () => {
      const restartedAt = w.acks.length;
      await new Promise((r) => setTimeout(r, 1000));
      return w.acks.slice(restartedAt).length > 0 ? true : undefined;
    });
    assert.equal(await leaderKeyHolder(cluster), leader, 'the leader changed although its agent came back within ttl');
  } finally {
    await w.stop();
  }
  assert.equal(singleWriterViolation(w.acks), null);
});
