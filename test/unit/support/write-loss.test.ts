/**
 * The write-loss checker's analysis on hand-made acknowledgement lists: lost ids, ids
 * acknowledged twice, commits present without acknowledgement, two primaries acknowledging at
 * once (and a legitimate switchover and back, which is not), unavailability windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseWriteLoss, formatReport, overlappingTenures, tenures, unavailability, WriteLossRun, type Ack } from '../../support/write-loss.js';

function ack(id: number, node: string, atMs: number, writer = `pinned:${node}`): Ack {
  return { id, writer, node, address: `127.0.0.1:${node === 'a' ? 5001 : 5002}`, serverPort: null, sentMs: atMs - 2, atMs };
}

/** Acks every 50 ms from startMs to endMs (inclusive) by one node, ids from firstId. */
function steady(node: string, firstId: number, startMs: number, endMs: number): Ack[] {
  const list: Ack[] = [];
  for (let t = startMs, id = firstId; t <= endMs; t += 50, id++) list.push(ack(id, node, t));
  return list;
}

test('a clean failover: nothing lost, one window across the handover, no overlap', () => {
  const acks = [...steady('a', 1, 0, 1000), ...steady('b', 100, 6000, 7000)];
  const report = analyseWriteLoss(
    acks,
    acks.map((a) => a.id),
    { windowThresholdMs: 1000 },
  );
  assert.deepEqual(report.lost, []);
  assert.deepEqual(report.doubleAcked, []);
  assert.deepEqual(report.unacknowledgedPresent, []);
  assert.deepEqual(report.overlappingPrimaries, []);
  assert.deepEqual(report.windows, [{ startMs: 1000, endMs: 6000, lengthMs: 5000, before: 'a', after: 'b' }]);
  assert.deepEqual(report.longestGap, report.windows[0]);
  assert.deepEqual(report.ackedByNode, { a: 21, b: 21 });
  assert.equal(report.acknowledged, 42);
  assert.equal(report.present, 42);
  assert.deepEqual(
    report.tenures.map((t) => [t.node, t.firstMs, t.lastMs, t.count]),
    [
      ['a', 0, 1000, 21],
      ['b', 6000, 7000, 21],
    ],
  );
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');
});

test('lost ids are the acknowledged ones that are absent, named with who acknowledged them', () => {
  const acks = [ack(1, 'a', 10), ack(2, 'a', 20), ack(3, 'a', 30), ack(4, 'b', 5000)];
  const report = analyseWriteLoss(acks, [1, 4, 7]);
  assert.deepEqual(report.lost, [
    { id: 2, node: 'a', writer: 'pinned:a', atMs: 20 },
    { id: 3, node: 'a', writer: 'pinned:a', atMs: 30 },
  ]);
  assert.deepEqual(report.unacknowledgedPresent, [7], 'a commit whose acknowledgement never arrived');
  assert.equal(report.acknowledged, 4);
  assert.equal(report.present, 3);
});

test('an id acknowledged by two writers is reported with both', () => {
  const acks = [ack(1, 'a', 10), ack(2, 'a', 20, 'multi'), ack(2, 'a', 21), ack(3, 'a', 30)];
  const report = analyseWriteLoss(acks, [1, 2, 3]);
  assert.deepEqual(report.doubleAcked, [{ id: 2, writers: ['multi', 'pinned:a'] }]);
  assert.deepEqual(report.lost, []);
});

test('two primaries acknowledging at once: the overlapping tenures are named with their times', () => {
  // b takes over at 1000 while a keeps acknowledging until 1500 (a split brain)
  const acks = [...steady('a', 1, 0, 1500), ...steady('b', 100, 1000, 2000)];
  const report = analyseWriteLoss(
    acks,
    acks.map((a) => a.id),
  );
  assert.deepEqual(report.overlappingPrimaries, [
    {
      a: { node: 'a', firstMs: 0, lastMs: 1500, count: 31 },
      b: { node: 'b', firstMs: 1000, lastMs: 2000, count: 21 },
    },
  ]);
  assert.deepEqual(report.windows, [], 'no gap: writes never stopped');
  assert.match(formatReport(report), /two primaries\s+1\n\s+a \+0\.00s\.\.\+1\.50s \(31\) overlaps b \+1\.00s\.\.\+2\.00s \(21\)/);
});

test('a stale primary acknowledging once, long after the handover, is an overlap (singleWriterViolation generalised)', () => {
  const acks = [...steady('a', 1, 0, 1000), ...steady('b', 100, 6000, 12000), ack(500, 'a', 9000)];
  const overlaps = overlappingTenures(tenures(acks, 1000));
  assert.deepEqual(
    overlaps.map(({ a, b }) => [a.node, a.firstMs, a.lastMs, b.node, b.firstMs, b.lastMs]),
    [['b', 6000, 12000, 'a', 9000, 9000]],
  );
});

test('a switchover and back is not an overlap: each tenure ends before the next begins', () => {
  const acks = [...steady('a', 1, 0, 1000), ...steady('b', 100, 3000, 5000), ...steady('a', 200, 8000, 9000)];
  const list = tenures(acks, 1000);
  assert.deepEqual(
    list.map((t) => `${t.node}:${t.firstMs}-${t.lastMs}`),
    ['a:0-1000', 'b:3000-5000', 'a:8000-9000'],
  );
  assert.deepEqual(overlappingTenures(list), []);
  const { windows, longest } = unavailability(acks, 1000);
  assert.deepEqual(
    windows.map((w) => [w.startMs, w.endMs, w.before, w.after]),
    [
      [1000, 3000, 'a', 'b'],
      [5000, 8000, 'b', 'a'],
    ],
  );
  assert.equal(longest?.lengthMs, 3000);
});

test('gaps at or below the threshold are not windows, but the longest gap is still reported', () => {
  const acks = [ack(1, 'a', 0), ack(2, 'a', 400), ack(3, 'a', 1400)];
  const { windows, longest } = unavailability(acks, 1000);
  assert.deepEqual(windows, []);
  assert.deepEqual(longest, { startMs: 400, endMs: 1400, lengthMs: 1000, before: 'a', after: 'a' });
  assert.deepEqual(unavailability([], 1000), { windows: [], longest: null });
});

test('errors are counted by first line; formatReport renders every section', () => {
  const report = analyseWriteLoss([ack(1, 'a', 0), ack(2, 'b', 3000)], [1], { table: 'wl', readFrom: '127.0.0.1:5002' }, [
    { writer: 'pinned:b', node: 'b', atMs: 1, message: 'cannot execute INSERT in a read-only transaction' },
    { writer: 'pinned:b', node: 'b', atMs: 2, message: 'cannot execute INSERT in a read-only transaction' },
    { writer: 'multi', node: null, atMs: 3, message: 'no read-write host among the targets' },
  ]);
  assert.deepEqual(report.errors, {
    total: 3,
    byMessage: [
      { message: 'cannot execute INSERT in a read-only transaction', count: 2 },
      { message: 'no read-write host among the targets', count: 1 },
    ],
  });
  const text = formatReport(report);
  assert.match(text, /^write-loss check of wl read from 127\.0\.0\.1:5002$/m);
  assert.match(text, /lost\s+1\s+\[2\]/);
  assert.match(text, /unavailable > 1000 ms: 1\n\s+\+0\.00s \.\. \+3\.00s\s+3000 ms\s+a -> b/);
  assert.match(text, /errors\s+3\s+\(most: cannot execute INSERT in a read-only transaction x2\)/);
});

test('a table name that is not a plain identifier is refused', () => {
  assert.throws(() => new WriteLossRun({ password: 'x', table: 'wl; DROP TABLE x' }), /not a plain identifier/);
  assert.throws(() => new WriteLossRun({ password: 'x' }).start(), /no writers/);
});
