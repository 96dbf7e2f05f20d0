/**
 * Issue 12 on real processes, one sandbox (etcd x3, a leader and a replica; ttl 10, loop_wait 2):
 * GET /metrics scraped from both agents and parsed strictly, its values checked against what
 * PostgreSQL and etcd say; the patroni_* names against Patroni 3.0.2's (the recorded output of its
 * own handler), and against a real Patroni 3.0.2 leader's scrape (its own one-node sandbox); the status page GET /ui loaded in headless Chromium (Debian's, driven by
 * playwright-core) and its content checked, a screenshot kept as an artifact; then a kill -9
 * failover, after which the new leader's metrics count it and time it, and the page shows it;
 * then a switchover back, counted by the member that took the key. Also from the metrics: an idle
 * leader's only etcd request each cycle is its keepalive.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startTestCluster, sql, eventually, killNode, leaderKeyHolder, restartAgent, type TestCluster } from '../../support/sandbox.js';
import { parseExposition, sampleValue, type Family } from '../../support/prometheus.js';
import { withChromium } from '../../support/browser.js';
import { askKeelFence } from '../../support/keel-fence.js';
import { sandboxDown, sandboxUp, waitForCluster } from '../../../src/sandbox/sandbox.js';

const TTL_S = 10;
let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 2, ttlS: TTL_S, loopWaitS: 2, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

function apiPort(node: string): number {
  const member = cluster.record.nodes.find((n) => n.name === node);
  if (member === undefined) throw new Error(`no node ${node}`);
  return member.apiPort;
}

async function scrape(node: string): Promise<Map<string, Family>> {
  const response = await fetch(`http://127.0.0.1:${apiPort(node)}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

async function lsnBytes(node: string, expression: string): Promise<number> {
  const [row] = await sql<{ lsn: string }>(cluster, node, `SELECT (${expression} - '0/0'::pg_lsn)::text AS lsn`);
  return Number(row?.lsn);
}

/** The leader's timeline, from the name of its current WAL file. */
async function leaderTimeline(node: string): Promise<number> {
  const [row] = await sql<{ file: string }>(cluster, node, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
  return parseInt((row?.file ?? '').slice(0, 8), 16);
}

function replicaOf(leader: string): string {
  const replica = cluster.record.nodes.find((n) => n.name !== leader)?.name;
  if (replica === undefined) throw new Error('no replica');
  return replica;
}

/** Patroni 3.0.2's metric names, as its own handler printed them (test/unit/api/fixtures/record.py). */
function patroni302Names(): string[] {
  const file = new URL('../../../../test/unit/api/fixtures/recorded.json', import.meta.url);
  const recorded = JSON.parse(readFileSync(file, 'utf8')) as { recordedWith: string; scenarios: Record<string, { bodies: Record<string, string> }> };
  assert.equal(recorded.recordedWith, 'patroni 3.0.2');
  const body = recorded.scenarios['primary-with-lock']?.bodies['GET /metrics'] ?? '';
  return [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
}

async function screenshot(t: TestContext, page: Page, name: string): Promise<void> {
  const path = join(cluster.dir, name);
  await page.screenshot({ path, fullPage: true });
  t.diagnostic(
    `screenshot: ${path}${process.env['KEEL_KEEP_TEST_DIRS'] === undefined ? ' (removed with the test directory; KEEL_KEEP_TEST_DIRS=1 keeps it)' : ''}`,
  );
}

async function loadUi(page: Page, node: string): Promise<void> {
  await page.goto(`http://127.0.0.1:${apiPort(node)}/ui`, { timeout: 30_000 });
  await page.waitForSelector('body[data-refreshes]', { timeout: 30_000 });
}

async function rowText(page: Page, member: string, cell: string): Promise<string> {
  return ((await page.textContent(`#members tr[data-member="${member}"] td.${cell}`)) ?? '').trim();
}

test('GET /metrics on the leader and the replica: Patroni names and labels, values as PostgreSQL and etcd have them', async () => {
  const leader = cluster.leader;
  const replica = replicaOf(leader);
  const scope = cluster.record.scope;
  const expectedNames = [...patroni302Names(), 'patroni_postgres_streaming', 'patroni_postgres_in_archive_recovery'].sort();
  assert.equal(expectedNames.length, 22);

  // The leader: values from its last probe, so an idle server's LSN matches within a cycle or two.
  await eventually('the leader metrics matching PostgreSQL', 30_000, async () => {
    const metrics = await scrape(leader);
    const lsn = await lsnBytes(leader, 'pg_current_wal_lsn()');
    return sampleValue(metrics, 'patroni_xlog_location') === lsn ? true : undefined;
  });
  const onLeader = await scrape(leader);
  assert.deepEqual([...onLeader.keys()].filter((n) => n.startsWith('patroni_')).sort(), expectedNames);
  for (const name of expectedNames)
    assert.deepEqual(
      onLeader.get(name)?.samples.map((s) => s.labels),
      [{ scope, name: leader }],
      name,
    );
  const value = (name: string): number => sampleValue(onLeader, name);
  assert.deepEqual(
    [
      'patroni_primary',
      'patroni_master',
      'patroni_replica',
      'patroni_postgres_running',
      'patroni_cluster_unlocked',
      'patroni_is_paused',
      'patroni_pending_restart',
    ].map(value),
    [1, 1, 0, 1, 0, 0, 0],
  );
  assert.equal(value('patroni_postgres_timeline'), await leaderTimeline(leader));
  const [versionRow] = await sql<{ server_version_num: string }>(cluster, leader, 'SHOW server_version_num');
  assert.equal(value('patroni_postgres_server_version'), Number(versionRow?.server_version_num));
  const [started] = await sql<{ t: string }>(cluster, leader, 'SELECT extract(epoch FROM pg_postmaster_start_time())::text AS t');
  assert.ok(Math.abs(value('patroni_postmaster_start_time') - Number(started?.t)) < 0.001, 'postmaster start time');
  assert.ok(Math.abs(value('patroni_dcs_last_seen') - Date.now() / 1000) < 3 * TTL_S, 'dcs_last_seen is recent');

  // keel's own: cycles ran, etcd answered, the lease is held.
  assert.ok((onLeader.get('keel_ha_cycle_duration_seconds')?.histograms[0]?.count ?? 0) > 0);
  const ranges = onLeader.get('keel_etcd_request_duration_seconds')?.histograms.find((h) => h.labels['operation'] === 'kv/range');
  assert.ok((ranges?.count ?? 0) > 0, 'etcd range reads are timed');
  const leaseLeft = sampleValue(onLeader, 'keel_lease_remaining_seconds');
  assert.ok(leaseLeft > 0 && leaseLeft <= TTL_S, `lease left ${leaseLeft}`);

  // The replica: streaming, and its received / replayed positions are PostgreSQL's.
  await eventually('the replica metrics matching PostgreSQL', 30_000, async () => {
    const metrics = await scrape(replica);
    const received = await lsnBytes(replica, 'pg_last_wal_receive_lsn()');
    const replayed = await lsnBytes(replica, 'pg_last_wal_replay_lsn()');
    const ok =
      sampleValue(metrics, 'patroni_postgres_streaming') === 1 &&
      sampleValue(metrics, 'patroni_xlog_received_location') === received &&
      sampleValue(metrics, 'patroni_xlog_replayed_location') === replayed;
    return ok ? true : undefined;
  });
  const onReplica = await scrape(replica);
  assert.deepEqual(
    ['patroni_primary', 'patroni_replica', 'patroni_xlog_location', 'patroni_cluster_unlocked', 'patroni_postgres_in_archive_recovery'].map((n) =>
      sampleValue(onReplica, n),
    ),
    [0, 1, 0, 0, 0],
  );
  assert.deepEqual(onReplica.get('patroni_replica')?.samples[0]?.labels, { scope, name: replica });
  const [receiver] = await sql<{ received_tli: number }>(cluster, replica, 'SELECT received_tli FROM pg_stat_wal_receiver');
  assert.equal(sampleValue(onReplica, 'patroni_postgres_timeline'), receiver?.received_tli);
  assert.equal(sampleValue(onReplica, 'keel_failovers_total', { cause: 'automatic' }), 0);
});

/** How many requests of each operation the agent timed (keel_etcd_request_duration_seconds counts). */
function etcdRequests(metrics: Map<string, Family>): Record<string, number> {
  const histograms = metrics.get('keel_etcd_request_duration_seconds')?.histograms ?? [];
  return Object.fromEntries(histograms.map((h) => [h.labels['operation'] ?? '?', h.count]));
}

test('an idle leader asks etcd one thing a cycle, its lease keepalive: no read of the leader key beside it', async () => {
  const leader = cluster.leader;
  const dataDir = cluster.record.nodes.find((n) => n.name === leader)?.dataDir ?? '';
  // keel-fence probes for isolation (the agent's own probe would read the leader key every 400 ms).
  assert.match(await askKeelFence(dataDir, 'status'), /^armed /, 'keel-fence guards the leader');
  const cycles = (metrics: Map<string, Family>): number => metrics.get('keel_ha_cycle_duration_seconds')?.histograms[0]?.count ?? 0;
  const before = await scrape(leader);
  await new Promise((resolve) => setTimeout(resolve, 12_000));
  const after = await scrape(leader);
  const ran = cycles(after) - cycles(before);
  const [was, is] = [etcdRequests(before), etcdRequests(after)];
  const grew = Object.fromEntries(Object.entries(is).flatMap(([op, n]) => (n > (was[op] ?? 0) ? [[op, n - (was[op] ?? 0)]] : [])));
  assert.ok(ran >= 4, `${ran} cycles in 12 s at loop_wait 2`);
  const keepalives = grew['lease/keepalive'] ?? 0;
  assert.ok(keepalives >= ran - 1 && keepalives <= ran + 1, `${keepalives} keepalives in ${ran} cycles`);
  // Besides: a range read of the prefix at least every 60 s whatever the watch-fed copy says
  // (EtcdDcs's resync), so at most one in this window. The linearizable read of the leader key
  // each cycle sent before 2026-12-06 would add one a cycle.
  const others = Object.entries(grew).filter(([op]) => op !== 'lease/keepalive');
  assert.ok(
    others.every(([op, n]) => op === 'kv/range' && n <= 1),
    `requests besides keepalives in ${ran} cycles: ${JSON.stringify(grew)}`,
  );
});

test('the same patroni_* metrics as a real Patroni 3.0.2 leader: names, help, types, labels, role values', async () => {
  const keel = await scrape(cluster.leader);
  const dir = await mkdtemp(join(tmpdir(), 'keel-test-patroni-'));
  try {
    const record = await sandboxUp({ dir, nodes: 1, timings: { ttlS: TTL_S, loopWaitS: 2, retryTimeoutS: 3 }, waitMs: 0, runtime: 'patroni' });
    await waitForCluster(record, 120_000);
    const port = record.nodes[0]?.apiPort ?? 0;
    const patroni = await eventually('Patroni holding its leader lock', 30_000, async () => {
      const metrics = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text());
      return sampleValue(metrics, 'patroni_cluster_unlocked') === 0 ? metrics : undefined;
    });
    const keelPatroni = [...keel.keys()].filter(
      (n) => n.startsWith('patroni_') && n !== 'patroni_postgres_streaming' && n !== 'patroni_postgres_in_archive_recovery',
    );
    assert.deepEqual(keelPatroni, [...patroni.keys()], 'names and order');
    // the version is each program's own; the positions, times and start instants are each server's
    const ownValues = new Set(['patroni_version', 'patroni_xlog_location', 'patroni_postmaster_start_time', 'patroni_dcs_last_seen']);
    for (const [name, family] of patroni) {
      const ours = keel.get(name);
      assert.equal(ours?.help, family.help, `${name} help`);
      assert.equal(ours?.type, family.type, `${name} type`);
      assert.deepEqual(family.samples[0]?.labels, { scope: record.scope }, `${name}: Patroni 3.0.2 labels`);
      assert.deepEqual(Object.keys(ours?.samples[0]?.labels ?? {}), ['scope', 'name'], `${name}: keel labels`);
      if (!ownValues.has(name)) assert.equal(ours?.samples[0]?.value, family.samples[0]?.value, `${name}: the same value on a leader`);
    }
    for (const name of ['patroni_xlog_location', 'patroni_postmaster_start_time', 'patroni_dcs_last_seen']) {
      assert.ok(sampleValue(patroni, name) > 0 && sampleValue(keel, name) > 0, name);
    }
  } finally {
    await sandboxDown(dir).catch(() => undefined);
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  }
});

test('GET /ui in Chromium: members, roles, timelines, decisions of both agents, no failover expected', async (t) => {
  const leader = cluster.leader;
  const replica = replicaOf(leader);
  const timeline = await leaderTimeline(leader);
  await withChromium(cluster.dir, async (page) => {
    // served by the replica: the leader's decisions come through it
    await loadUi(page, replica);
    await eventually('both agents decisions on the page', 20_000, async () =>
      (await page.locator('.member-decisions li[data-kind]').count()) >= 2 ? true : undefined,
    );
    assert.equal((await page.textContent('#served-by'))?.trim(), replica);
    assert.deepEqual(await page.locator('#members tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-member'))), [leader, replica].sort());
    assert.equal(await rowText(page, leader, 'role'), 'leader');
    assert.equal(await rowText(page, replica, 'role'), 'replica');
    assert.equal(await rowText(page, leader, 'timeline'), String(timeline));
    assert.equal(await rowText(page, replica, 'timeline'), String(timeline));
    assert.equal(await rowText(page, replica, 'lag'), '0');
    assert.equal((await page.textContent('#verdict-answer'))?.trim(), 'No.');
    assert.match((await page.textContent('#verdict-candidates')) ?? '', new RegExp(`If ${leader} were lost now: ${replica} would take over`));
    const leaderDecision = (await page.textContent(`.member-decisions[data-member="${leader}"] li .why`)) ?? '';
    assert.match(leaderDecision, new RegExp(`I am \\(${leader}\\), the leader with the lock`));
    const replicaDecision = (await page.textContent(`.member-decisions[data-member="${replica}"] li .why`)) ?? '';
    assert.match(replicaDecision, new RegExp(`following a leader \\(${leader}\\)`));
    await screenshot(t, page, 'ui-leader-and-replica.png');
  });
});

test('after a kill -9 failover: the new leader counts and times it; the page shows the new leader and the history', async (t) => {
  const oldLeader = cluster.leader;
  const newLeader = replicaOf(oldLeader);
  const oldTimeline = await leaderTimeline(oldLeader);
  await killNode(cluster, oldLeader, { agent: true, postgres: true });
  await eventually('the replica holding the leader key', TTL_S * 1000 + 30_000, async () =>
    (await leaderKeyHolder(cluster)) === newLeader ? true : undefined,
  );
  // The metrics read the agent's last probe, which a promotion discards: until the next cycle's
  // probe the timeline is unknown (printed 0). So wait for the probe after the promotion too.
  const metrics = await eventually('the new leader writable, as its metrics say', 30_000, async () => {
    const scraped = await scrape(newLeader);
    const probed = sampleValue(scraped, 'patroni_postgres_timeline') > 0;
    return probed && sampleValue(scraped, 'patroni_primary') === 1 && (scraped.get('keel_recovery_writable_seconds')?.histograms.length ?? 0) > 0
      ? scraped
      : undefined;
  });
  assert.equal(sampleValue(metrics, 'patroni_replica'), 0);
  assert.equal(sampleValue(metrics, 'patroni_postgres_timeline'), oldTimeline + 1);
  assert.equal(await leaderTimeline(newLeader), oldTimeline + 1);
  assert.equal(sampleValue(metrics, 'keel_failovers_total', { cause: 'automatic' }), 1);
  assert.equal(sampleValue(metrics, 'keel_switchovers_total', { cause: 'requested' }), 0);
  const toKey = metrics.get('keel_recovery_leader_key_seconds')?.histograms.find((h) => h.labels['kind'] === 'failover');
  const toWritable = metrics.get('keel_recovery_writable_seconds')?.histograms.find((h) => h.labels['kind'] === 'failover');
  assert.equal(toKey?.count, 1);
  assert.equal(toWritable?.count, 1);
  // seen gone -> taken is one cycle or a few; taken -> writable is a promotion
  assert.ok((toKey?.sum ?? -1) >= 0 && (toKey?.sum ?? 99) < TTL_S, `key taken ${toKey?.sum} s after the fault was seen`);
  assert.ok((toWritable?.sum ?? -1) >= (toKey?.sum ?? 0) && (toWritable?.sum ?? 99) < 30, `writable ${toWritable?.sum} s after the fault was seen`);
  t.diagnostic(`fault seen -> key taken ${toKey?.sum.toFixed(3)} s, -> writable ${toWritable?.sum.toFixed(3)} s`);

  await withChromium(cluster.dir, async (page) => {
    await loadUi(page, newLeader);
    await eventually('the page showing the new leader', 30_000, async () => ((await rowText(page, newLeader, 'role')) === 'leader' ? true : undefined), 500);
    assert.equal(await rowText(page, newLeader, 'timeline'), String(oldTimeline + 1));
    const history = await page
      .locator('#history tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent ?? '')));
    assert.ok(
      history.some((cells) => cells[0] === String(oldTimeline) && cells[4] === newLeader),
      `a history line for timeline ${oldTimeline} naming ${newLeader}: ${JSON.stringify(history)}`,
    );
    // the failover record: the kind, old -> new leader, the new timeline
    const records = await eventually(
      'the failover record on the page',
      30_000,
      async () => {
        const rows = await page
          .locator('#records tbody tr')
          .evaluateAll((trs) => trs.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent ?? '')));
        return rows.some((cells) => cells.length === 7) ? rows : undefined;
      },
      500,
    );
    assert.ok(
      records.some((cells) => cells[1] === 'failover' && cells[2] === `${oldLeader} → ${newLeader}` && cells[3] === String(oldTimeline + 1)),
      `a failover record ${oldLeader} -> ${newLeader} on timeline ${oldTimeline + 1}: ${JSON.stringify(records)}`,
    );
    // the old leader's member key lives until its lease expires: meanwhile its agent does not answer
    const oldRow = await page.locator(`#members tr[data-member="${oldLeader}"]`).count();
    if (oldRow > 0) assert.match((await page.textContent(`.member-decisions[data-member="${oldLeader}"]`)) ?? '', /no answer/);
    await screenshot(t, page, 'ui-after-failover.png');
  });
});

test('a switchover back to the old leader, once it has rejoined: counted and timed by the member that took the key', async () => {
  const oldLeader = cluster.leader; // killed by the previous test
  const leader = replicaOf(oldLeader);
  await restartAgent(cluster, oldLeader);
  await eventually(`${oldLeader} streaming from ${leader}`, 120_000, async () => {
    const rows = await sql<{ application_name: string }>(cluster, leader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
    return rows.some((r) => r.application_name === oldLeader) ? true : undefined;
  });
  // the switchover pre-check reads GET /patroni, which says 'running' only while no task (a start,
  // a rewind, a restart) is under way, and 'streaming' once a cycle's probe has seen it: the
  // streaming metric alone can come from the probe before such a task (a full run got 412 'not running')
  await eventually(`${oldLeader} publishing that it runs and streams`, 30_000, async () => {
    const status = (await (await fetch(`http://127.0.0.1:${apiPort(oldLeader)}/patroni`)).json()) as { state?: string };
    return status.state === 'running' && sampleValue(await scrape(oldLeader), 'patroni_postgres_streaming') === 1 ? true : undefined;
  });
  const response = await fetch(`http://127.0.0.1:${apiPort(leader)}/switchover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ leader, candidate: oldLeader }),
    signal: AbortSignal.timeout(90_000),
  });
  assert.equal(response.status, 200, await response.text());
  const metrics = await eventually('the switchover counted on its candidate', 30_000, async () => {
    const scraped = await scrape(oldLeader);
    return sampleValue(scraped, 'patroni_primary') === 1 && (scraped.get('keel_recovery_writable_seconds')?.histograms.length ?? 0) > 0 ? scraped : undefined;
  });
  assert.equal(await leaderKeyHolder(cluster), oldLeader);
  assert.equal(sampleValue(metrics, 'keel_switchovers_total', { cause: 'requested' }), 1);
  assert.equal(sampleValue(metrics, 'keel_failovers_total', { cause: 'automatic' }), 0);
  const toKey = metrics.get('keel_recovery_leader_key_seconds')?.histograms.find((h) => h.labels['kind'] === 'switchover');
  const toWritable = metrics.get('keel_recovery_writable_seconds')?.histograms.find((h) => h.labels['kind'] === 'switchover');
  assert.equal(toKey?.count, 1);
  assert.equal(toWritable?.count, 1);
  assert.ok(
    (toKey?.sum ?? -1) > 0 && (toWritable?.sum ?? -1) >= (toKey?.sum ?? 0) && (toWritable?.sum ?? 99) < 60,
    `key ${toKey?.sum} s, writable ${toWritable?.sum} s`,
  );
  // the member that lost the key counts nothing for it
  const former = await scrape(leader);
  assert.equal(sampleValue(former, 'keel_switchovers_total', { cause: 'requested' }), 0);
  assert.equal(sampleValue(former, 'keel_failovers_total', { cause: 'automatic' }), 1);
});
