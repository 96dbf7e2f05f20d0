/**
 * The failover report of `keel demo --failover` (pure): the write gap between the old leader's
 * last acknowledgement and the new leader's first, the time from the kill, and lost writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseFailoverWrites } from '../../../src/sandbox/demo-writer.js';

const acks = [
  { id: 1, serverPort: 5001, atMs: 100 },
  { id: 2, serverPort: 5001, atMs: 200 },
  { id: 3, serverPort: 5001, atMs: 1005 }, // acknowledged just after the kill was sent
  { id: 5, serverPort: 5002, atMs: 9000 },
  { id: 6, serverPort: 5002, atMs: 9100 },
];

test('gap, time from the kill and lost writes', () => {
  const report = analyseFailoverWrites(acks, 1000, { old: 5001, new: 5002 }, new Set([1, 2, 5, 6]));
  assert.deepEqual(report, { acknowledged: 5, lastOldAckMs: 1005, firstNewAckMs: 9000, gapMs: 7995, fromFaultMs: 8000, lost: [3] });
});

test('no write by the new leader: no gap to report', () => {
  const report = analyseFailoverWrites(acks.slice(0, 3), 1000, { old: 5001, new: 5002 }, new Set([1, 2, 3]));
  assert.equal(report.gapMs, null);
  assert.equal(report.fromFaultMs, null);
  assert.deepEqual(report.lost, []);
});
