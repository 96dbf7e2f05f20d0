/**
 * GET /metrics: keel's patroni_* metrics against what the real Patroni 3.0.2 handler printed for
 * the same node states (fixtures/recorded.json, recorded by fixtures/record.py from Debian's
 * patroni 3.0.2 package: patroni/api.py do_GET_metrics), metric by metric after parsing both with
 * a Prometheus text parser; keel's own keel_* instruments; and the failover clock
 * (RecoveryTracker) that feeds them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsExposition, PATRONI_METRICS, epochSeconds, paddedSemver } from '../../../src/api/metrics.js';
import { KeelMetrics } from '../../../src/observability/metrics.js';
import { RecoveryTracker } from '../../../src/ha/recovery-tracker.js';
import type { ClusterView, FailoverRequest } from '../../../src/dcs/types.js';
import { parseExposition, sampleValue } from '../../support/prometheus.js';
import { baseStatus, loadScenarios } from './fixtures.js';

/** Patroni >= 3.1's, not printed by 3.0.2. */
const ADDED_SINCE_3_0_2 = ['patroni_postgres_streaming', 'patroni_postgres_in_archive_recovery'];

test('every patroni_* metric of Patroni 3.0.2: same name, help, type, order and value, in every recorded node state', async () => {
  const scenarios = loadScenarios();
  assert.ok(scenarios.length >= 30);
  const noneTimelines: string[] = [];
  for (const scenario of scenarios) {
    const recorded = scenario.bodies['GET /metrics'];
    assert.ok(recorded !== undefined, `${scenario.name}: no recorded GET /metrics (run fixtures/record.py)`);
    // Patroni 3.0.2 prints Python's None for a replica whose timeline is unknown (not a valid
    // sample value: Prometheus refuses the whole scrape); keel prints 0, as the help text says.
    const patroniText = recorded.replace(/^(patroni_postgres_timeline\{[^}]*\}) None$/m, (_line, head: string) => {
      noneTimelines.push(scenario.name);
      return `${head} 0`;
    });
    assert.ok(!/ None$/m.test(patroniText), `${scenario.name}: another None`);
    const patroni = parseExposition(patroniText);
    const keel = parseExposition(await new MetricsExposition().render(scenario.status));
    assert.equal(patroni.size, 20, 'Patroni 3.0.2 prints 20 metrics');
    assert.deepEqual(
      [...keel.keys()].filter((name) => !ADDED_SINCE_3_0_2.includes(name)),
      [...patroni.keys()],
      `${scenario.name}: names and order`,
    );
    for (const [name, expected] of patroni) {
      const actual = keel.get(name);
      assert.ok(actual !== undefined);
      assert.equal(actual.help, expected.help, `${scenario.name} ${name} help`);
      assert.equal(actual.type, expected.type, `${scenario.name} ${name} type`);
      assert.equal(actual.samples.length, 1);
      assert.equal(expected.samples.length, 1);
      const [a, e] = [actual.samples[0], expected.samples[0]];
      assert.deepEqual(a?.labels, { scope: e?.labels['scope'], name: scenario.status.patroni.name }, `${scenario.name} ${name} labels`);
      assert.equal(a?.value, e?.value, `${scenario.name} ${name} value`);
    }
  }
  assert.ok(noneTimelines.length > 0, 'the recorded states include a replica without a known timeline');
});

test('the strict parser refuses what Prometheus refuses', () => {
  const bad = [
    'x{scope="a"} None\n',
    'x 1 2 3\n',
    'x{a="b" 1\n',
    'x{a="b",a="c"} 1\n',
    '# TYPE x gauge\nx 1\n# TYPE x gauge\n',
    'x 1\ny 1\nx 2\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    'x 1',
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), Error, JSON.stringify(text));
  const good = parseExposition('# HELP x a \\n help\n# TYPE x gauge\nx {a="q\\"\\\\"} +Inf\n');
  assert.deepEqual(good.get('x')?.samples, [{ labels: { a: 'q"\\' }, value: Infinity }]);
});

test('patroni_postgres_streaming follows the WAL receiver; in_archive_recovery stays 0 (keel sets no restore_command)', async () => {
  const replica = baseStatus('replica');
  for (const streaming of [true, false]) {
    const metrics = parseExposition(await new MetricsExposition().render({ ...replica, replicaStreaming: streaming }));
    assert.equal(sampleValue(metrics, 'patroni_postgres_streaming'), streaming ? 1 : 0);
    assert.equal(sampleValue(metrics, 'patroni_postgres_in_archive_recovery'), 0);
    assert.equal(metrics.get('patroni_postgres_streaming')?.help, 'Value is 1 if Postgres is streaming, 0 otherwise.');
  }
  const primary = parseExposition(await new MetricsExposition().render({ ...baseStatus('primary'), replicaStreaming: false }));
  assert.equal(sampleValue(primary, 'patroni_postgres_streaming'), 0);
  assert.equal(PATRONI_METRICS.length, 22);
});

test('helpers: epoch seconds of Python datetime strings, padded semver', () => {
  assert.equal(epochSeconds('2024-05-01 10:00:05+00:00'), 1714557605);
  assert.equal(epochSeconds('2024-05-01 12:00:05.250000+02:00'), 1714557605.25);
  assert.equal(epochSeconds('2024-05-01T10:00:05.5Z'), 1714557605.5);
  assert.equal(epochSeconds(null), 0);
  assert.equal(epochSeconds('not a date'), 0);
  assert.equal(paddedSemver('3.0.2'), 30002);
  assert.equal(paddedSemver('0.1.0'), 100);
});

test("keel's own metrics: cycle and etcd histograms, etcd errors by kind, lease left, fences, with scope and name labels", async () => {
  const keel = new KeelMetrics({ scope: 'demo', name: 'n1' });
  let leaseLeftS: number | null = null;
  keel.readLeaseRemainingFrom(() => leaseLeftS);
  keel.haCycle(12);
  keel.haCycle(3000);
  keel.etcdRequest('kv/range', 4, null);
  keel.etcdRequest('kv/range', 1500, 'transport');
  keel.etcdRequest('kv/txn', 2, 'lease_not_found');
  keel.fenced();
  keel.fencedByHelper(2);
  let families = parseExposition(await keel.registry.metrics());
  const cycle = families.get('keel_ha_cycle_duration_seconds');
  assert.equal(cycle?.type, 'histogram');
  assert.deepEqual(cycle?.histograms[0]?.labels, { scope: 'demo', name: 'n1' });
  assert.equal(cycle?.histograms[0]?.count, 2);
  assert.equal(cycle?.histograms[0]?.sum, 3.012);
  assert.equal(cycle?.histograms[0]?.buckets['0.025'], 1);
  assert.equal(cycle?.histograms[0]?.buckets['5'], 2);
  const etcd = families.get('keel_etcd_request_duration_seconds')?.histograms.find((h) => h.labels['operation'] === 'kv/range');
  assert.equal(etcd?.count, 2);
  assert.equal(sampleValue(families, 'keel_etcd_request_errors_total', { operation: 'kv/range', kind: 'transport' }), 1);
  assert.equal(sampleValue(families, 'keel_etcd_request_errors_total', { operation: 'kv/txn', kind: 'lease_not_found' }), 1);
  assert.equal(sampleValue(families, 'keel_lease_remaining_seconds'), 0, 'never confirmed: 0');
  assert.equal(sampleValue(families, 'keel_fence_events_total', { scope: 'demo', name: 'n1', by: 'agent' }), 1);
  assert.equal(sampleValue(families, 'keel_fence_events_total', { scope: 'demo', name: 'n1', by: 'keel-fence' }), 2);
  assert.equal(sampleValue(families, 'keel_failovers_total', { cause: 'automatic' }), 0, 'zero series exist before the first failover');
  leaseLeftS = 27.5;
  families = parseExposition(await keel.registry.metrics());
  assert.equal(sampleValue(families, 'keel_lease_remaining_seconds'), 27.5);
  leaseLeftS = -3;
  families = parseExposition(await keel.registry.metrics());
  assert.equal(sampleValue(families, 'keel_lease_remaining_seconds'), 0, 'expired: 0, never negative');
});

test('the exposition: patroni_* first, then keel_*, one parseable document', async () => {
  const keel = new KeelMetrics({ scope: 'demo', name: 'n1' });
  const text = await new MetricsExposition(keel).render(baseStatus('primary'));
  const names = [...parseExposition(text).keys()];
  assert.equal(names[0], 'patroni_version');
  const firstKeel = names.findIndex((n) => n.startsWith('keel_'));
  assert.ok(firstKeel > 0 && names.slice(0, firstKeel).every((n) => n.startsWith('patroni_')) && names.slice(firstKeel).every((n) => n.startsWith('keel_')));
  assert.ok(text.endsWith('\n'));
});

function view(leader: string | null, failover: FailoverRequest | null = null): ClusterView {
  return {
    revision: 1,
    initialize: '1',
    config: null,
    leader: leader === null ? null : ({ name: leader } as ClusterView['leader']),
    members: [],
    failover: failover === null ? null : { value: failover, modRevision: 2 },
    sync: null,
    history: null,
    status: null,
    failsafe: null,
  };
}

async function recoveryMetrics(keel: KeelMetrics): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition(await keel.registry.metrics());
}

test('failover clock: leader key seen gone -> key taken -> writable, counted once by cause', async () => {
  const keel = new KeelMetrics({ scope: 'demo', name: 'n2' });
  const tracker = new RecoveryTracker(keel, () => 'n2');
  tracker.observed(view('n1'), 1_000);
  tracker.observed(null, 2_000); // a failed read concludes nothing
  tracker.observed(view(null), 10_000); // fault seen
  tracker.observed(view(null), 10_500); // still gone: the first sighting counts
  tracker.leaderKeyTaken(11_250, false);
  tracker.promoted(13_000);
  tracker.promoted(14_000); // a second promote report (none pending) adds nothing
  const families = await recoveryMetrics(keel);
  assert.equal(sampleValue(families, 'keel_failovers_total', { cause: 'automatic' }), 1);
  assert.equal(sampleValue(families, 'keel_switchovers_total', { cause: 'requested' }), 0);
  const toKey = families.get('keel_recovery_leader_key_seconds')?.histograms.find((h) => h.labels['kind'] === 'failover');
  const toWritable = families.get('keel_recovery_writable_seconds')?.histograms.find((h) => h.labels['kind'] === 'failover');
  assert.deepEqual([toKey?.count, toKey?.sum], [1, 1.25]);
  assert.deepEqual([toWritable?.count, toWritable?.sum], [1, 3]);
});

test('failover clock: a switchover to us starts at the request; a bootstrap or a lost race counts nothing', async () => {
  const keel = new KeelMetrics({ scope: 'demo', name: 'n2' });
  const tracker = new RecoveryTracker(keel, () => 'n2');
  // bootstrap: never saw a leader
  tracker.observed(view(null), 0);
  tracker.leaderKeyTaken(500, false);
  tracker.promoted(600);
  let families = await recoveryMetrics(keel);
  assert.equal(families.get('keel_recovery_leader_key_seconds')?.histograms.length ?? 0, 0);
  // we lead, then n3 leads; a switchover request to n2 appears, n3 steps down, n2 takes the key
  tracker.observed(view('n3'), 1_000);
  tracker.observed(view('n3', { leader: 'n3', candidate: 'n2' }), 2_000);
  tracker.observed(view(null, { leader: 'n3', candidate: 'n2' }), 4_000);
  tracker.leaderKeyTaken(4_500, false);
  tracker.promoted(5_000);
  // n1 leads; n2 sees the key gone but n1... n3 wins the race: n2 counts nothing
  tracker.observed(view('n1'), 6_000);
  tracker.observed(view(null), 7_000);
  tracker.observed(view('n3'), 8_000);
  // a manual failover (no leader in the request) while paused-free: n2 takes the key, already primary
  tracker.observed(view(null, { candidate: 'n2' }), 9_000);
  tracker.leaderKeyTaken(9_400, true);
  families = await recoveryMetrics(keel);
  assert.equal(sampleValue(families, 'keel_switchovers_total', { cause: 'requested' }), 1);
  assert.equal(sampleValue(families, 'keel_failovers_total', { cause: 'automatic' }), 0);
  assert.equal(sampleValue(families, 'keel_failovers_total', { cause: 'manual' }), 1);
  const toKey = families.get('keel_recovery_leader_key_seconds')?.histograms.find((h) => h.labels['kind'] === 'switchover');
  assert.deepEqual([toKey?.count, toKey?.sum], [1, 2.5]);
  const writable = families.get('keel_recovery_writable_seconds')?.histograms;
  assert.deepEqual(writable?.map((h) => [h.labels['kind'], h.count, h.sum]).sort(), [
    ['failover', 1, 0.4],
    ['switchover', 1, 3],
  ]);
});
