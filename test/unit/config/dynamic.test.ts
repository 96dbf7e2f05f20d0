/**
 * The dynamic (DCS) configuration: Patroni's defaults, seconds converted to milliseconds once,
 * strings tolerated for numbers, legacy master_* names, bad values falling back to defaults
 * (and listed by validateDynamicConfig), and the loop_wait + 2*retry_timeout <= ttl rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adjustTimings, parseDynamicConfig, validateDynamicConfig } from '../../../src/config/dynamic.js';

test('an empty configuration gets every Patroni default', () => {
  assert.deepEqual(parseDynamicConfig({}), {
    ttlMs: 30_000,
    loopWaitMs: 10_000,
    retryTimeoutMs: 10_000,
    maximumLagOnFailoverBytes: 1048576,
    maximumLagOnSyncnodeBytes: -1,
    primaryStartTimeoutMs: 300_000,
    primaryStopTimeoutMs: 0,
    checkTimeline: false,
    synchronousMode: 'off',
    synchronousModeStrict: false,
    synchronousNodeCount: 1,
    failsafeMode: false,
    maxTimelinesHistory: 0,
    pause: false,
    usePgRewind: false,
    useSlots: true,
    permanentSlots: [],
    ignoreSlots: [],
    parameters: {},
    raw: {},
  });
  assert.deepEqual(validateDynamicConfig({}), []);
});

test("values are read with Patroni's leniency and converted to milliseconds", () => {
  const raw = {
    ttl: '40',
    loop_wait: 5,
    retry_timeout: 12.9,
    maximum_lag_on_failover: '2097152',
    maximum_lag_on_syncnode: 100,
    primary_start_timeout: 0,
    primary_stop_timeout: '30',
    check_timeline: 'on',
    synchronous_mode: 'true',
    synchronous_mode_strict: 'yes',
    synchronous_node_count: '2',
    failsafe_mode: true,
    max_timelines_history: 10,
    pause: 'on',
    postgresql: { use_pg_rewind: 'on', use_slots: 'off', parameters: { max_connections: 300, dropped: null }, pg_hba: ['local all all trust'] },
  };
  const cfg = parseDynamicConfig(raw);
  assert.equal(cfg.ttlMs, 40_000);
  assert.equal(cfg.loopWaitMs, 5_000);
  assert.equal(cfg.retryTimeoutMs, 12_000, 'Python int() truncates');
  assert.equal(cfg.maximumLagOnFailoverBytes, 2097152);
  assert.equal(cfg.maximumLagOnSyncnodeBytes, 100);
  assert.equal(cfg.primaryStartTimeoutMs, 0);
  assert.equal(cfg.primaryStopTimeoutMs, 30_000);
  assert.equal(cfg.checkTimeline, true);
  assert.equal(cfg.synchronousMode, 'on');
  assert.equal(cfg.synchronousModeStrict, true);
  assert.equal(cfg.synchronousNodeCount, 2);
  assert.equal(cfg.failsafeMode, true);
  assert.equal(cfg.maxTimelinesHistory, 10);
  assert.equal(cfg.pause, true);
  assert.equal(cfg.usePgRewind, true);
  assert.equal(cfg.useSlots, false);
  assert.deepEqual(cfg.parameters, { max_connections: 300 });
  assert.deepEqual(cfg.pgHba, ['local all all trust']);
  assert.deepEqual(cfg.raw, raw);
  assert.notEqual(cfg.raw, raw, 'raw is a copy');
  assert.deepEqual(validateDynamicConfig(raw), []);
});

test('legacy master_start_timeout / master_stop_timeout are used only when the primary_ names are absent', () => {
  assert.equal(parseDynamicConfig({ master_start_timeout: 60 }).primaryStartTimeoutMs, 60_000);
  assert.equal(parseDynamicConfig({ master_start_timeout: 60, primary_start_timeout: 90 }).primaryStartTimeoutMs, 90_000);
  assert.equal(parseDynamicConfig({ master_stop_timeout: 5 }).primaryStopTimeoutMs, 5_000);
});

test('a bad value falls back to the default and is listed by validateDynamicConfig', () => {
  const raw = { ttl: 'thirty', synchronous_mode: 'perhaps', synchronous_node_count: 0, postgresql: { parameters: ['x'], pg_hba: 'x' }, slots: [1] };
  const cfg = parseDynamicConfig(raw);
  assert.equal(cfg.ttlMs, 30_000);
  assert.equal(cfg.synchronousMode, 'on', 'an unreadable synchronous_mode is never read as weaker than on');
  assert.equal(cfg.synchronousNodeCount, 1);
  assert.deepEqual(cfg.parameters, {});
  assert.equal(cfg.pgHba, undefined);
  const problems = validateDynamicConfig(raw);
  assert.deepEqual(
    problems.map((p) => [p.path, p.severity]),
    [
      ['ttl', 'error'],
      ['synchronous_node_count', 'error'],
      ['synchronous_mode', 'error'],
      ['postgresql.pg_hba', 'error'],
      ['postgresql.parameters', 'error'],
      ['slots', 'error'],
    ],
  );
  assert.match(problems[0]?.message ?? '', /expected an integer of at least 1 \(seconds\), got "thirty"; using 30/);
  assert.deepEqual(validateDynamicConfig('not a mapping'), [
    { severity: 'error', path: '', message: 'expected a mapping of dynamic settings, got "not a mapping"' },
  ]);
});

test('parameters Patroni controls are flagged as warnings when it would replace them', () => {
  const problems = validateDynamicConfig({
    postgresql: { parameters: { max_connections: 10, wal_level: 'minimal', hot_standby: 'on', wal_log_hints: true, port: 5433, max_wal_senders: 10 } },
  });
  assert.deepEqual(
    problems.map((p) => [p.path, p.severity]),
    [
      ['postgresql.parameters.max_connections', 'warning'],
      ['postgresql.parameters.wal_level', 'warning'],
      ['postgresql.parameters.port', 'warning'],
    ],
  );
  assert.match(problems[0]?.message ?? '', /at least 25, got 10 \(keel uses 100 instead\)/);
});

test('synchronous_mode: on, off, booleans and quorum (Patroni 4), as Patroni reads them', () => {
  for (const [value, mode] of [
    [true, 'on'],
    ['on', 'on'],
    ['true', 'on'],
    [false, 'off'],
    ['off', 'off'],
    ['quorum', 'quorum'],
    [' Quorum ', 'quorum'],
  ] as const) {
    assert.equal(parseDynamicConfig({ synchronous_mode: value }).synchronousMode, mode, String(value));
    assert.deepEqual(validateDynamicConfig({ synchronous_mode: value }), [], String(value));
  }
  assert.equal(parseDynamicConfig({}).synchronousMode, 'off');
  assert.equal(validateDynamicConfig({ synchronous_mode: 'perhaps' })[0]?.path, 'synchronous_mode');
});

test('adjustTimings leaves a valid configuration alone', () => {
  const cfg = parseDynamicConfig({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
  const adjusted = adjustTimings(cfg);
  assert.deepEqual(adjusted, { cfg, warnings: [] });
});

test('adjustTimings lowers loop_wait first to keep loop_wait + 2*retry_timeout <= ttl', () => {
  const { cfg, warnings } = adjustTimings(parseDynamicConfig({ ttl: 30, loop_wait: 15, retry_timeout: 10 }));
  assert.deepEqual([cfg.ttlMs, cfg.loopWaitMs, cfg.retryTimeoutMs], [30_000, 10_000, 10_000]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /loop_wait \+ 2\*retry_timeout <= ttl.*loop_wait lowered from 15 to 10/);
});

test('adjustTimings lowers retry_timeout too when even a 1 s loop_wait does not fit', () => {
  const { cfg, warnings } = adjustTimings(parseDynamicConfig({ ttl: 20, loop_wait: 10, retry_timeout: 10 }));
  assert.deepEqual([cfg.ttlMs, cfg.loopWaitMs, cfg.retryTimeoutMs], [20_000, 1_000, 9_000]);
  assert.match(warnings[0] ?? '', /loop_wait lowered from 10 to 1 and retry_timeout from 10 to 9/);
});

test('adjustTimings raises values below the minimums (ttl 7, loop_wait 1, retry_timeout 3) and keeps short valid timings', () => {
  const { cfg, warnings } = adjustTimings(parseDynamicConfig({ ttl: 5, loop_wait: 1, retry_timeout: 2 }));
  assert.deepEqual([cfg.ttlMs, cfg.loopWaitMs, cfg.retryTimeoutMs], [7_000, 1_000, 3_000]);
  assert.deepEqual(warnings, ['retry_timeout=2 is below the minimum of 3 seconds; using 3', 'ttl=5 is below the minimum of 7 seconds; using 7']);
  const fast = adjustTimings(parseDynamicConfig({ ttl: 10, loop_wait: 2, retry_timeout: 3 }));
  assert.deepEqual([fast.cfg.ttlMs, fast.cfg.loopWaitMs, fast.cfg.retryTimeoutMs, fast.warnings.length], [10_000, 2_000, 3_000, 0]);
  for (const [ttl, loop, retry] of [
    [20, 1, 3],
    [25, 7, 9],
    [60, 30, 30],
    [21, 30, 30],
    [100, 1, 100],
  ] as const) {
    const out = adjustTimings(parseDynamicConfig({ ttl, loop_wait: loop, retry_timeout: retry })).cfg;
    assert.ok(out.loopWaitMs + 2 * out.retryTimeoutMs <= out.ttlMs, `${ttl}/${loop}/${retry}`);
    assert.ok(out.loopWaitMs >= 1000 && out.retryTimeoutMs >= 1000 && out.ttlMs >= 7_000);
  }
});

test("permanent slots and ignore_slots are read as Patroni's, invalid entries reported and left out", () => {
  const raw = {
    slots: {
      barman: { type: 'physical' },
      bare: null,
      cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' },
      half_logical: { type: 'logical', database: 'app' },
      'Bad-Name': { type: 'physical' },
    },
    ignore_slots: [{ name: 'pg_receivewal' }, { type: 'logical', plugin: 'wal2json' }, 'x', { colour: 'red' }],
  };
  const cfg = parseDynamicConfig(raw);
  assert.deepEqual(cfg.permanentSlots, [
    { name: 'barman', type: 'physical' },
    { name: 'bare', type: 'physical' },
    { name: 'cdc', type: 'logical', database: 'app', plugin: 'pgoutput' },
  ]);
  assert.deepEqual(cfg.ignoreSlots, [{ name: 'pg_receivewal' }, { type: 'logical', plugin: 'wal2json' }]);
  assert.deepEqual(
    validateDynamicConfig(raw).map((p) => p.path),
    ['slots.half_logical', 'slots.Bad-Name', 'ignore_slots[2]', 'ignore_slots[3]'],
  );
  // the older spellings are read too
  assert.deepEqual(parseDynamicConfig({ permanent_replication_slots: { keep: { type: 'physical' } } }).permanentSlots, [{ name: 'keep', type: 'physical' }]);
});
