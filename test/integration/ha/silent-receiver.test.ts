/**
 * A replica's WAL receiver left on a connection that carries nothing (stream-recheck.ts
 * silentReceiverRestartDue, the agent's restartSilentWalReceiver) is ended by the agent, and a new
 * one streams. On a real sandbox: the leader's walsender for the replica is stopped (SIGSTOP), so
 * the replica's receiver still says 'streaming' but hears nothing, while the leader writes on and
 * publishes its WAL position; the replica's agent must say so and end that receiver (its pid
 * gone) well before wal_receiver_timeout (60 s) would. Once the stopped walsender is let go it
 * exits on the closed connection, freeing the slot, and the new receiver streams the rows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { eventually, sql, startTestCluster, type TestCluster } from '../../support/sandbox.js';
import { isAlive } from '../../../src/sandbox/etcd-cluster.js';

let cluster: TestCluster;
let stoppedWalsender = 0;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 2, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
  },
  { timeout: 180_000 },
);

after(
  async () => {
    if (stoppedWalsender > 0 && isAlive(stoppedWalsender)) process.kill(stoppedWalsender, 'SIGCONT');
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

test('a receiver that hears nothing while the leader writes is ended by its agent, and a new one streams', { timeout: 180_000 }, async () => {
  const leader = cluster.leader;
  const replica = cluster.record.nodes.find((n) => n.name !== leader);
  assert.ok(replica !== undefined);
  await sql(cluster, leader, 'CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
  const receiver = await eventually(`${replica.name} streaming`, 60_000, async () => {
    const [row] = await sql<{ pid: number; status: string }>(cluster, replica.name, 'SELECT pid, status FROM pg_stat_wal_receiver');
    return row?.status === 'streaming' ? row.pid : undefined;
  });
  const [sender] = await sql<{ pid: number }>(cluster, leader, 'SELECT pid FROM pg_stat_replication WHERE application_name = $1', [replica.name]);
  assert.ok(sender !== undefined, `a walsender for ${replica.name}`);
  stoppedWalsender = sender.pid;
  process.kill(stoppedWalsender, 'SIGSTOP');

  // the leader writes on (asynchronous replication: nothing waits for the replica)
  let written = 0;
  const logFile = replica.logFile;
  const restarted = await eventually(
    `${replica.name}'s agent ending its silent receiver`,
    50_000,
    async () => {
      await sql(cluster, leader, 'INSERT INTO ticks DEFAULT VALUES');
      written++;
      const log = await readFile(logFile, 'utf8');
      return /the WAL receiver has heard nothing from \S+ for \d+ s while it published WAL this node lacks: restarting it/.test(log) ? true : undefined;
    },
    500,
  );
  assert.equal(restarted, true);
  await eventually(`receiver ${receiver} gone`, 10_000, async () => (isAlive(receiver) ? undefined : true));

  process.kill(stoppedWalsender, 'SIGCONT');
  stoppedWalsender = 0;
  await eventually(`${replica.name} streaming every row again`, 60_000, async () => {
    const [row] = await sql<{ n: number }>(cluster, replica.name, 'SELECT count(*)::int AS n FROM ticks');
    const [state] = await sql<{ pid: number; status: string }>(cluster, replica.name, 'SELECT pid, status FROM pg_stat_wal_receiver');
    return row?.n === written && state?.status === 'streaming' && state.pid !== receiver ? true : undefined;
  });
});
