/**
 * Issue 8 item 3 on real processes (sandbox: etcd x3, three PostgreSQL nodes with passwords and
 * scram/md5 pg_hba, restapi.authentication on every node; ttl 10, loop_wait 2): a switchover under
 * a writer loses no acknowledged write and the old leader rejoins without pg_rewind; the REST
 * operations answer Patroni's codes with and without credentials; bad input is refused and
 * changes nothing; a scheduled switchover happens at its time, not before, and can be cancelled;
 * a failover to a named candidate works with the leader gone; the real patronictl switches over
 * and fails over a keel cluster.
 */
import type { FailoverRecord } from '../../../src/ha/core/failover-record.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startTestCluster, sql, eventually, runKeel, killNode, restartAgent, leaderKeyHolder, type TestCluster } from '../../support/sandbox.js';
import { AckWriter, singleWriterViolation } from '../../support/ack-writer.js';
import { sandboxDcs, waitForCluster } from '../../../src/sandbox/sandbox.js';

const AUTH = { username: 'ops', password: 'ops-secret' };
const BASIC = `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`;
let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3, restApiAuth: AUTH });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

function node(name: string) {
  const found = cluster.record.nodes.find((n) => n.name === name);
  if (found === undefined) throw new Error(`no node ${name}`);
  return found;
}

const configOf = (name: string): string => node(name).config;
const api = (name: string, path: string): string => `http://${cluster.record.host}:${node(name).apiPort}${path}`;

async function rest(name: string, method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth) headers['authorization'] = BASIC;
  const response = await fetch(api(name, path), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, text: (await response.text()).trim() };
}

async function healthyLeader(): Promise<string> {
  const leader = await waitForCluster(cluster.record, 180_000);
  // Every replica streams (a switchover checks its candidate streams).
  await eventually('every replica streaming', 90_000, async () => {
    const rows = await sql<{ n: string }>(cluster, leader, "SELECT count(*)::text AS n FROM pg_stat_replication WHERE state = 'streaming'");
    return Number(rows[0]?.n ?? 0) === cluster.record.nodes.length - 1 ? true : undefined;
  });
  return leader;
}

function replicasOf(leader: string): string[] {
  return cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
}

function writerFor(): AckWriter {
  return new AckWriter(
    cluster.record.nodes.map((n) => ({ name: n.name, host: cluster.record.host, port: n.pgPort })),
    cluster.superuserPassword,
    'switchover_acks',
  );
}

const rewinds = async (name: string): Promise<number> => ((await readFile(node(name).logFile, 'utf8')).match(/running pg_rewind/g) ?? []).length;

test(
  'keel switchover --force --candidate under a writer: no acknowledged write lost, one writer at a time, the old leader rejoins without pg_rewind',
  { timeout: 240_000 },
  async () => {
    const oldLeader = await healthyLeader();
    const candidate = replicasOf(oldLeader)[0] ?? '';
    const writer = writerFor();
    await writer.prepare({ name: oldLeader, host: cluster.record.host, port: node(oldLeader).pgPort });
    const rewindsBefore = await rewinds(oldLeader);
    writer.start(20);
    try {
      await eventually('writes acknowledged by the leader', 20_000, async () => (writer.acks.some((a) => a.node === oldLeader) ? true : undefined));
      const result = await runKeel(['-c', configOf(oldLeader), 'switchover', '--force', '--candidate', candidate], { timeoutMs: 120_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`Successfully switched over to "${candidate}"`));
      assert.equal(await leaderKeyHolder(cluster), candidate);
      await eventually('writes acknowledged by the new leader', 30_000, async () => (writer.acks.some((a) => a.node === candidate) ? true : undefined));
    } finally {
      await writer.stop();
    }
    assert.equal(singleWriterViolation(writer.acks), null);
    const stored = new Set((await sql<{ id: string }>(cluster, candidate, 'SELECT id::text AS id FROM switchover_acks')).map((r) => Number(r.id)));
    const lost = writer.acks.filter((a) => !stored.has(a.id));
    assert.deepEqual(lost, [], `acknowledged writes missing on the new leader: ${lost.map((a) => `${a.id}@${a.node}`).join(', ')}`);
    // The old leader shut down cleanly: it streams from the new leader again with no pg_rewind.
    await eventually(`${oldLeader} streaming from ${candidate}`, 90_000, async () => {
      const rows = await sql<{ application_name: string }>(cluster, candidate, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
      return rows.some((r) => r.application_name === oldLeader) ? true : undefined;
    });
    assert.equal(await rewinds(oldLeader), rewindsBefore, 'the old leader ran pg_rewind after a clean switchover');
    const history = await runKeel(['-c', configOf(candidate), 'history', '--format', 'json']);
    assert.equal(history.code, 0, history.stderr);
    assert.ok(
      JSON.parse(history.stdout).some((line: Record<string, unknown>) => line['New Leader'] === candidate),
      history.stdout,
    );
    // The failover record: a switchover, nothing possibly lost, the old leader back by a restart.
    const record = await eventually('a switchover record with the rejoin', 30_000, async () => {
      const details = await runKeel(['-c', configOf(candidate), 'history', '--details', '--format', 'json']);
      const last = (JSON.parse(details.stdout) as FailoverRecord[]).at(-1);
      return last !== undefined && last.newLeader === candidate && last.rejoin !== null ? last : undefined;
    });
    assert.equal(record.kind, 'switchover');
    assert.equal(record.oldLeader, oldLeader);
    assert.equal(record.bytesPossiblyLost, 0);
    assert.equal(record.rejoin?.method, 'restart');
    const pretty = await runKeel(['-c', configOf(candidate), 'history', '--details']);
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.match(pretty.stdout, new RegExp(`switchover ${oldLeader} -> ${candidate}, timeline \\d+`));
    assert.match(pretty.stdout, /\| Member +\| Chosen \|/);
  },
);

test('REST: credentials required, bad requests refused with Patroni codes, nothing changed', { timeout: 120_000 }, async () => {
  const leader = await healthyLeader();
  const [replica] = replicasOf(leader);
  assert.equal((await rest(leader, 'POST', '/switchover', { leader, candidate: replica }, false)).status, 401);
  assert.deepEqual(await rest(leader, 'POST', '/switchover', { candidate: replica }), {
    status: 400,
    text: 'Switchover could be performed only from a specific leader',
  });
  assert.deepEqual(await rest(leader, 'POST', '/failover', { leader }), { status: 400, text: 'Failover could be performed only to a specific candidate' });
  assert.deepEqual(await rest(leader, 'POST', '/switchover', { leader, candidate: leader }), {
    status: 400,
    text: 'Switchover target and source are the same',
  });
  assert.deepEqual(await rest(leader, 'POST', '/switchover', { leader: replica, candidate: leader }), { status: 412, text: 'leader name does not match' });
  assert.deepEqual(await rest(leader, 'POST', '/switchover', { leader, candidate: 'nosuchnode' }), { status: 412, text: 'candidate does not exists' });
  const past = await rest(leader, 'POST', '/switchover', { leader, candidate: replica, scheduled_at: '2020-01-01T00:00:00+00:00' });
  assert.deepEqual(past, { status: 422, text: 'Cannot schedule switchover in the past' });
  const noZone = await rest(leader, 'POST', '/switchover', { leader, candidate: replica, scheduled_at: '2099-01-01T00:00:00' });
  assert.deepEqual(noZone, { status: 400, text: 'Timezone information is mandatory for the scheduled switchover' });
  assert.deepEqual(await rest(leader, 'DELETE', '/switchover'), { status: 404, text: 'no switchover is scheduled' });
  // A candidate tagged nofailover is named with the reason (tags change with a reload, as in Patroni).
  const replicaConfig = configOf(replica ?? '');
  const original = await readFile(replicaConfig, 'utf8');
  await writeFile(replicaConfig, original.replace('nofailover: false', 'nofailover: true'));
  const observer = sandboxDcs(cluster.record, 'ops-test');
  try {
    assert.equal((await rest(replica ?? '', 'POST', '/reload')).status, 202);
    await eventually('the nofailover tag published', 30_000, async () => {
      const status = (await (await fetch(api(replica ?? '', '/patroni'))).json()) as { tags?: Record<string, unknown> };
      const member = (await observer.loadCluster()).members.find((m) => m.name === replica);
      return status.tags?.['nofailover'] === true && member?.tags['nofailover'] === true ? true : undefined;
    });
    assert.deepEqual(await rest(leader, 'POST', '/switchover', { leader, candidate: replica }), {
      status: 412,
      text: `switchover is not possible: candidate ${replica} is not allowed to promote`,
    });
    const tagged = await runKeel(['-c', configOf(leader), 'switchover', '--force', '--candidate', replica ?? '']);
    assert.notEqual(tagged.code, 0);
    assert.match(tagged.stderr, new RegExp(`^keel: Member ${replica} does not exist in cluster \\S+ or is tagged as nofailover\n`));
  } finally {
    await observer.close();
    await writeFile(replicaConfig, original);
    await rest(replica ?? '', 'POST', '/reload');
  }
  // keel explain: the leader holds the key; each replica says whether it would take over, and why.
  const explained = await runKeel(['-c', configOf(leader), 'explain', '--format', 'json']);
  assert.equal(explained.code, 0, explained.stderr);
  const explanation = JSON.parse(explained.stdout) as { summary: string; members: Array<{ member: string; wouldTakeOver: boolean; reason: string }> };
  assert.equal(explanation.summary, `${leader} holds the key and answers: no failover now.`);
  assert.deepEqual(
    explanation.members.find((m) => m.member === leader),
    { member: leader, role: 'Leader', wouldTakeOver: false, reason: 'holds the leader key' },
  );
  const takers = explanation.members.filter((m) => m.wouldTakeOver);
  assert.ok(takers.length >= 1, explained.stdout);
  if (takers.length > 1)
    assert.ok(
      takers.every((m) => m.reason.includes('the first to reach the key takes it')),
      explained.stdout,
    );
  else assert.equal(takers[0]?.reason, 'the healthiest member: it would take the key');
  // The CLI refuses a candidate that does not exist in one line, exit non-zero; nothing changed.
  const bad = await runKeel(['-c', configOf(leader), 'switchover', '--force', '--candidate', 'nosuchnode']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^keel: Member nosuchnode does not exist in cluster \S+ or is tagged as nofailover\n$/);
  assert.equal(await leaderKeyHolder(cluster), leader);
});

test('a scheduled switchover happens at its time, not before; another one is cancelled with DELETE /switchover', { timeout: 240_000 }, async () => {
  const leader = await healthyLeader();
  const [candidate, other] = replicasOf(leader);
  // Cancelled one first: scheduled, listed, deleted, and its time passes with no change.
  const soon = new Date(Date.now() + 8_000).toISOString().replace('Z', '+00:00');
  const scheduled = await rest(leader, 'POST', '/switchover', { leader, candidate: other, scheduled_at: soon });
  assert.deepEqual(scheduled, { status: 202, text: 'Switchover scheduled' });
  const listed = await runKeel(['-c', configOf(leader), 'list']);
  assert.match(listed.stdout, /Switchover scheduled at: /);
  assert.deepEqual(await rest(leader, 'DELETE', '/switchover'), { status: 200, text: 'scheduled switchover deleted' });
  assert.deepEqual(await rest(leader, 'DELETE', '/switchover'), { status: 404, text: 'no switchover is scheduled' });
  // ... and through the CLI: `keel flush CLUSTER switchover` (patronictl's verb).
  const later = new Date(Date.now() + 60_000).toISOString().replace('Z', '+00:00');
  assert.equal((await rest(leader, 'POST', '/switchover', { leader, candidate: other, scheduled_at: later })).status, 202);
  const flushed = await runKeel(['-c', configOf(leader), 'flush', cluster.record.scope, 'switchover']);
  assert.equal(flushed.code, 0, flushed.stderr);
  assert.equal(flushed.stdout, 'Success: scheduled switchover deleted\n');
  assert.equal((await runKeel(['-c', configOf(leader), 'flush', cluster.record.scope, 'switchover'])).stdout, 'No pending scheduled switchover\n');
  await new Promise((r) => setTimeout(r, 8_000));
  assert.equal(await leaderKeyHolder(cluster), leader, 'a cancelled switchover happened');
  // Scheduled through the CLI: not before its time, then done within a few loop_waits.
  const at = Date.now() + 10_000;
  const when = new Date(at).toISOString().replace('Z', '+00:00');
  const cli = await runKeel(['-c', configOf(leader), 'switchover', '--force', '--candidate', candidate ?? '', '--scheduled', when]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /Switchover scheduled/);
  while (Date.now() < at - 1_500) {
    assert.equal(await leaderKeyHolder(cluster), leader, 'switched over before the scheduled time');
    await new Promise((r) => setTimeout(r, 500));
  }
  const newLeader = await eventually('the scheduled switchover', 30_000, async () => {
    const holder = await leaderKeyHolder(cluster);
    return holder !== null && holder !== leader ? holder : undefined;
  });
  assert.equal(newLeader, candidate);
});

test('the real patronictl switches over and fails over a keel cluster', { timeout: 240_000 }, async () => {
  const leader = await healthyLeader();
  const [candidate] = replicasOf(leader);
  const run = promisify(execFile);
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  const switched = await run('/usr/bin/patronictl', ['-c', configOf(leader), 'switchover', '--force', '--candidate', candidate ?? ''], {
    timeout: 120_000,
    env,
  });
  assert.match(switched.stdout, new RegExp(`Successfully switched over to "${candidate}"`), switched.stdout + switched.stderr);
  assert.equal(await leaderKeyHolder(cluster), candidate);
  const next = await healthyLeader();
  const target = replicasOf(next)[0] ?? '';
  const failed = await run('/usr/bin/patronictl', ['-c', configOf(next), 'failover', '--force', '--candidate', target], { timeout: 120_000, env });
  assert.match(failed.stdout, new RegExp(`(Successfully failed over|Successfully switched over) to "${target}"`), failed.stdout + failed.stderr);
  assert.equal(await leaderKeyHolder(cluster), target);
});

test('failover to a named candidate after the leader died: the candidate, not another replica, takes over', { timeout: 240_000 }, async () => {
  const leader = await healthyLeader();
  const [, candidate] = replicasOf(leader);
  await killNode(cluster, leader, { agent: true, postgres: true });
  try {
    const result = await runKeel(['-c', configOf(candidate ?? ''), 'failover', '--force', '--candidate', candidate ?? ''], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, new RegExp(`Successfully failed over to "${candidate}"`));
    assert.equal(await leaderKeyHolder(cluster), candidate);
  } finally {
    await restartAgent(cluster, leader);
  }
  await healthyLeader();
});
