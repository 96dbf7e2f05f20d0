/**
 * The write-loss checker against a real 3-node sandbox (asynchronous replication): pinned writers
 * on every node plus a multi-host writer, kill -9 of the leader (agent and postmaster), then the
 * report read back from the new leader. Asynchronous mode may lose a few acknowledged writes on
 * kill -9, so the test does not ask for zero lost: it checks that every id the report calls lost
 * really is absent on the new leader and was acknowledged by the old one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, sql, eventually, killNode, currentPrimary, leaderKeyHolder, type TestCluster } from '../../support/sandbox.js';
import { WriteLossRun, formatReport, monoMs, type WriteTarget } from '../../support/write-loss.js';

const TTL_MS = 10_000;
const LOOP_WAIT_MS = 2_000;
const WINDOW_THRESHOLD_MS = 1000;
let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: TTL_MS / 1000, loopWaitS: LOOP_WAIT_MS / 1000, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

function targets(): WriteTarget[] {
  return cluster.record.nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.pgPort }));
}

function target(node: string): WriteTarget {
  const found = targets().find((t) => t.name === node);
  if (found === undefined) throw new Error(`no node ${node}`);
  return found;
}

test('kill -9 of the leader under writes: acknowledgements move to the new leader, the failover is one unavailability window, no two primaries, every lost id really absent', async () => {
  const oldLeader = cluster.leader;
  const run = new WriteLossRun({ password: cluster.superuserPassword, table: 'write_loss_failover' });
  await run.prepare(target(oldLeader));
  run.addPinned(targets()).addMultiHost(targets());
  run.start(20);
  let killAtMs = 0;
  let newLeader = '';
  try {
    await eventually('acknowledgements from the leader through both kinds of writer', 20_000, async () =>
      run.acks.some((a) => a.writer === 'multi' && a.node === oldLeader) && run.acks.some((a) => a.writer === `pinned:${oldLeader}`) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2000));
    killAtMs = monoMs();
    await killNode(cluster, oldLeader, { agent: true, postgres: true });
    newLeader = await eventually('a new leader', TTL_MS + 8 * LOOP_WAIT_MS + 30_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && holder !== oldLeader ? holder : undefined;
    });
    await eventually('the new leader acknowledging through both kinds of writer', 30_000, async () =>
      run.acks.some((a) => a.writer === 'multi' && a.node === newLeader) && run.acks.some((a) => a.writer === `pinned:${newLeader}`) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await run.stop();
  }
  assert.equal(run.openClients, 0, 'every client closed on stop');

  const report = await run.verify(
    async () => {
      const primary = await currentPrimary(cluster);
      if (primary === null) throw new Error('no primary yet');
      return target(primary);
    },
    { windowThresholdMs: WINDOW_THRESHOLD_MS, tenureGapMs: 1000 },
  );
  const text = formatReport(report);
  process.stderr.write(`${text}\n`);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');
  assert.equal(report.readFrom, `127.0.0.1:${target(newLeader).port}`);

  // every acknowledgement came from the node the writer was connected to
  for (const ack of run.acks) assert.equal(ack.serverPort, target(ack.node).port, `ack ${ack.id} through ${ack.address}`);
  // acknowledgements move from the old leader to the new one, and only those two acknowledged
  assert.deepEqual(Object.keys(report.ackedByNode).sort(), [oldLeader, newLeader].sort(), text);
  const lastOld = Math.max(...run.acks.filter((a) => a.node === oldLeader).map((a) => a.atMs));
  const firstNew = Math.min(...run.acks.filter((a) => a.node === newLeader).map((a) => a.atMs));
  assert.ok(lastOld < killAtMs + 1000, `the old leader acknowledged ${(lastOld - killAtMs).toFixed(0)} ms after its kill`);
  assert.ok(firstNew > killAtMs, 'the new leader acknowledged only after the kill');
  assert.ok(run.acks.some((a) => a.writer === 'multi' && a.node === newLeader));

  // no two primaries at once; the old leader's tenures all end before the new leader's begin
  assert.deepEqual(report.overlappingPrimaries, [], text);
  const nodesInOrder = report.tenures.map((t) => t.node).filter((node, i, all) => node !== all[i - 1]);
  assert.deepEqual(nodesInOrder, [oldLeader, newLeader], text);
  // the failover is an unavailability window from the old leader's last ack to the new one's first
  const failover = report.windows.find((w) => w.before === oldLeader && w.after === newLeader);
  assert.ok(failover !== undefined, text);
  assert.equal(failover.startMs, lastOld);
  assert.equal(failover.endMs, firstNew);
  assert.ok(failover.lengthMs > WINDOW_THRESHOLD_MS);
  assert.deepEqual(report.longestGap, failover, 'the failover is the longest gap');

  // nothing acknowledged twice; each id the report calls lost was acknowledged by the old leader
  // and is really absent on the new one
  assert.deepEqual(report.doubleAcked, []);
  for (const lost of report.lost) assert.equal(lost.node, oldLeader, `lost id ${lost.id} acknowledged by ${lost.node}`);
  const lostIds = report.lost.map((l) => l.id);
  const stillThere = await sql<{ id: string }>(cluster, newLeader, 'SELECT id FROM write_loss_failover WHERE id = ANY($1::bigint[])', [lostIds]);
  assert.deepEqual(stillThere, [], 'lost ids are absent on the new leader');
  const acked = new Set(run.acks.map((a) => a.id));
  const [count] = await sql<{ n: string }>(cluster, newLeader, 'SELECT count(*) AS n FROM write_loss_failover');
  assert.equal(Number(count?.n), report.present);
  assert.equal(report.acknowledged - report.lost.length + report.unacknowledgedPresent.length, report.present);
  for (const id of report.unacknowledgedPresent) assert.ok(!acked.has(id));

  // the writers' sessions are gone from the surviving servers
  await eventually('no write-loss sessions left', 10_000, async () => {
    const [row] = await sql<{ n: string }>(cluster, newLeader, "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'write-loss:%'");
    return Number(row?.n) === 0 ? true : undefined;
  });
});

test('a statement blocked past its deadline is abandoned, not acknowledged; its commit, landing later, is reported present without acknowledgement', async () => {
  const leader = await eventually('a primary', 60_000, async () => (await currentPrimary(cluster)) ?? undefined);
  const table = 'write_loss_deadline';
  const run = new WriteLossRun({ password: cluster.superuserPassword, table, statementTimeoutMs: 500 });
  await run.prepare(target(leader));
  run.addPinned([target(leader)]);
  run.start(20);
  const locker = new pg.Client({ host: '127.0.0.1', port: target(leader).port, user: 'postgres', password: cluster.superuserPassword, database: 'postgres' });
  locker.on('error', () => undefined);
  let lockedAtMs = 0;
  let unlockedAtMs = 0;
  try {
    await eventually('acknowledgements', 20_000, async () => (run.acks.length >= 10 ? true : undefined));
    // an exclusive lock makes every INSERT wait, as a commit on a fenced primary would
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    lockedAtMs = monoMs();
    await eventually('a statement abandoned at its deadline', 20_000, async () =>
      run.errors.some((e) => e.atMs > lockedAtMs && /timeout/i.test(e.message)) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    unlockedAtMs = monoMs();
    await locker.query('COMMIT');
    await eventually('acknowledgements again', 20_000, async () => (run.acks.some((a) => a.atMs > unlockedAtMs) ? true : undefined));
  } finally {
    await locker.end().catch(() => undefined);
    await run.stop();
  }
  assert.equal(run.openClients, 0);
  // the abandoned backends commit as soon as the lock is gone: poll rather than rely on timing
  const report = await eventually('the abandoned commits visible', 10_000, async () => {
    const r = await run.verify(async () => target(leader), { windowThresholdMs: 1000 });
    return r.unacknowledgedPresent.length >= 1 ? r : undefined;
  });
  process.stderr.write(`${formatReport(report)}\n`);
  // An INSERT already running when LOCK TABLE was sent finishes before the lock is granted, but its
  // acknowledgement can reach this process just after the LOCK's reply: the one writer has at most
  // one such statement in flight. Nothing sent once the lock was held is acknowledged while it is.
  const ackedWhileLocked = run.acks.filter((a) => a.atMs >= lockedAtMs && a.atMs <= unlockedAtMs);
  assert.ok(
    ackedWhileLocked.every((a) => a.sentMs < lockedAtMs),
    `nothing sent under the lock was acknowledged while it was held: ${JSON.stringify(ackedWhileLocked)}`,
  );
  assert.ok(ackedWhileLocked.length <= 1, `at most the one statement in flight at the LOCK: ${JSON.stringify(ackedWhileLocked)}`);
  assert.deepEqual(report.lost, []);
  assert.ok(report.unacknowledgedPresent.length >= 1, 'the abandoned INSERTs committed once the lock was gone, unacknowledged');
  const lastBeforeLockMs = Math.max(lockedAtMs, ...ackedWhileLocked.map((a) => a.atMs));
  const window = report.windows.find((w) => w.startMs <= lastBeforeLockMs && w.endMs >= unlockedAtMs);
  assert.ok(window !== undefined, 'the lock is an unavailability window');
  assert.deepEqual(report.overlappingPrimaries, []);
});
