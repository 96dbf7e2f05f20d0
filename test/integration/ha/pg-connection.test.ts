/**
 * keel's own PostgreSQL connection (src/postgres/probe.ts PostgresConnection) against a real
 * PostgreSQL 15 with scram passwords (the backup tests' standalone server, test/integration/backup): statements that
 * overlap — the HA cycle's probe, GET /patroni's WAL positions, the sync watch's samples — run one
 * at a time in call order, without pg's "already executing a query" DeprecationWarning; one stuck
 * past the deadline fails with the statements queued behind it, and the next call reconnects.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresConnection } from '../../../src/postgres/probe.js';
import { PASSWORD, startBackupLab, type BackupLab } from '../backup/standalone-postgres.js';

let lab: BackupLab;
const warnings: string[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(`${warning.name}: ${warning.message}`);
};

before(
  async () => {
    lab = await startBackupLab();
    process.on('warning', onWarning);
  },
  { timeout: 120_000 },
);

after(async () => {
  process.off('warning', onWarning);
  await lab?.stop();
});

function connection(timeoutMs: number): PostgresConnection {
  return new PostgresConnection({ host: lab.source.socketDir, port: lab.source.port, user: 'postgres', password: PASSWORD, database: 'postgres' }, timeoutMs);
}

test('overlapping statements run one at a time, in call order, without a deprecation warning', async () => {
  const conn = connection(10_000);
  try {
    const finished: string[] = [];
    const track = <T>(name: string, work: Promise<T>): Promise<T> => work.then((value) => (finished.push(name), value));
    const [probe, slow, wal, one] = await Promise.all([
      track('probe', conn.probe()),
      track('slow', conn.query<{ done: boolean }>('SELECT true AS done FROM pg_sleep(0.3)')),
      track('wal', conn.walPositions()),
      track('one', conn.query<{ n: number }>('SELECT $1::int AS n', [1])),
    ]);
    assert.equal(probe.inRecovery, false);
    assert.deepEqual(slow, [{ done: true }]);
    assert.equal(wal.inRecovery, false);
    assert.ok(wal.currentLsn !== null && wal.currentLsn >= (probe.currentLsn ?? 0));
    assert.deepEqual(one, [{ n: 1 }]);
    assert.deepEqual(finished, ['probe', 'slow', 'wal', 'one'], 'each waited for the one called before it');
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    assert.deepEqual(
      warnings.filter((w) => w.includes('already executing')),
      [],
    );
  } finally {
    await conn.close();
  }
});

test('a statement stuck past the deadline fails, so do those queued behind it at their own deadline; the next call reconnects', async () => {
  const conn = connection(1_000);
  try {
    const startedMs = performance.now();
    const stuck = conn.query('SELECT pg_sleep(5)');
    const behind = conn.query<{ n: number }>('SELECT 2 AS n');
    const [stuckOutcome, behindOutcome] = await Promise.allSettled([stuck, behind]);
    const tookMs = performance.now() - startedMs;
    assert.equal(stuckOutcome.status, 'rejected');
    assert.match(String((stuckOutcome as PromiseRejectedResult).reason), /Query read timeout/);
    assert.equal(behindOutcome.status, 'rejected', 'queued behind a stuck statement past its own deadline');
    assert.ok(tookMs < 4_000, `both failed after ${Math.round(tookMs)} ms: the deadline counts from the call, not from the turn`);
    assert.deepEqual(await conn.query('SELECT 3 AS n'), [{ n: 3 }], 'a new connection serves the next call');
  } finally {
    await conn.close();
  }
});
