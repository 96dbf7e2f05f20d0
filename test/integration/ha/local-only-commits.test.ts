/**
 * Issue 9 item 6 on a real PostgreSQL: a client that cancels its wait for synchronous replication
 * gets its commit anyway — visible on the primary, replicated nowhere — and PostgreSQL says so only
 * in its server log. The agent finds it there: a warning in its log and a counter under
 * `keel.local_only_commits` in GET /patroni.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { startTestCluster, sql, eventually, type TestCluster } from '../../support/sandbox.js';

let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 1, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

test('a cancelled wait for synchronous replication is reported as a commit visible without replication', { timeout: 120_000 }, async () => {
  const node = cluster.record.nodes[0];
  assert.ok(node !== undefined);
  const leader = node.name;
  await sql(cluster, leader, 'CREATE TABLE local_only (id int PRIMARY KEY)');
  // A standby that does not exist: every commit now waits (ALTER SYSTEM wins over keel's postgresql.conf).
  await sql(cluster, leader, "ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
  await sql(cluster, leader, 'SELECT pg_reload_conf()');
  const client = new pg.Client({ host: cluster.record.host, port: node.pgPort, user: 'postgres', password: cluster.superuserPassword, database: 'postgres' });
  client.on('error', () => undefined);
  const warnings: string[] = [];
  client.on('notice', (notice) => warnings.push(notice.message ?? ''));
  await client.connect();
  try {
    const pid = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    const insert = client.query('INSERT INTO local_only VALUES (1)');
    await eventually('the commit waiting for synchronous replication', 20_000, async () => {
      const rows = await sql<{ wait: string | null }>(cluster, leader, 'SELECT wait_event AS wait FROM pg_stat_activity WHERE pid = $1', [pid]);
      return rows[0]?.wait === 'SyncRep' ? true : undefined;
    });
    await sql(cluster, leader, 'SELECT pg_cancel_backend($1)', [pid]);
    await insert; // the commit returns: it was already written locally
    assert.ok(
      warnings.some((w) => /canceling wait for synchronous replication/.test(w)),
      `the client was warned: ${warnings.join(' | ')}`,
    );
  } finally {
    await client.end();
    await sql(cluster, leader, 'ALTER SYSTEM RESET synchronous_standby_names');
    await sql(cluster, leader, 'SELECT pg_reload_conf()');
  }
  assert.equal((await sql<{ n: string }>(cluster, leader, 'SELECT count(*)::text AS n FROM local_only'))[0]?.n, '1', 'the row is visible');
  const counted = await eventually('the agent counting it', 30_000, async () => {
    const status = (await (await fetch(`http://${cluster.record.host}:${node.apiPort}/patroni`)).json()) as { keel?: { local_only_commits?: number } };
    return status.keel?.local_only_commits === 1 ? status : undefined;
  });
  assert.equal(counted.keel?.local_only_commits, 1);
  assert.match(await readFile(node.logFile, 'utf8'), /1 commit\(s\) became visible without being replicated/);
});
