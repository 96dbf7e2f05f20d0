/**
 * beforeExpiryTick (src/ha/expiry-tick.ts): a leader's next cycle moved earlier, by less than one
 * of etcd's 500 ms lease-expiry ticks, to start 100 ms before a tick of the grid through the
 * instant its predecessor's key was seen to go; never later than due, never in the past.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beforeExpiryTick, ExpiryTickAligner, ETCD_EXPIRY_TICK_MS, KEEPALIVE_LEAD_MS } from '../../../src/ha/expiry-tick.js';

test('the next cycle starts the lead before a tick, at most one tick earlier than due', () => {
  const tickAt = 10_003; // the watch reported the old leader's key gone here: just after a tick
  for (const due of [12_003, 12_004, 12_250, 12_402, 12_903, 14_003.5, 99_999]) {
    const at = beforeExpiryTick(due, tickAt, 10_100);
    assert.ok(at !== null);
    assert.ok(at <= due && due - at < ETCD_EXPIRY_TICK_MS, `${at} within a tick before ${due}`);
    const phase = (((at + KEEPALIVE_LEAD_MS - tickAt) % ETCD_EXPIRY_TICK_MS) + ETCD_EXPIRY_TICK_MS) % ETCD_EXPIRY_TICK_MS;
    assert.ok(Math.abs(phase) < 1e-9, `${at} is ${KEEPALIVE_LEAD_MS} ms before a tick (phase ${phase})`);
  }
  // Cycles every 2 s after the one that took the key (10_003 + 5 ms): each 400 ms earlier once, then on the grid.
  assert.equal(beforeExpiryTick(12_008, tickAt, 10_100), 11_903);
  assert.equal(beforeExpiryTick(11_903 + 2000, tickAt, 12_000), 13_903, 'an aligned cycle stays where it is');
});

test('a reference before or after the due time gives the same grid', () => {
  assert.equal(beforeExpiryTick(20_000, 10_003, 19_000), beforeExpiryTick(20_000, 30_003, 19_000));
  assert.equal(beforeExpiryTick(20_000, 10_003, 19_000), 19_903);
});

test('never a cycle in the past: null when the aligned instant is not after now', () => {
  assert.equal(beforeExpiryTick(12_008, 10_003, 11_903), null);
  assert.equal(beforeExpiryTick(12_008, 10_003, 11_950), null);
  assert.equal(beforeExpiryTick(12_008, 10_003, 11_902), 11_903);
});

test('the aligner takes its reference from a deleted leader key only, and moves only a leader', () => {
  const aligner = new ExpiryTickAligner();
  const changed = (keys: string[], deleted: string[]) => ({ kind: 'changed' as const, keys, created: [], deleted });
  assert.equal(aligner.nextCycleStart(true, 12_008, 10_100), null, 'no reference yet');
  aligner.watched(changed(['/service/demo/members/leader'], ['/service/demo/members/leader']), 10_250); // a member named "leader"
  aligner.watched(changed(['/service/demo/leader'], []), 10_250); // the key written, not deleted
  aligner.watched({ kind: 'reset' }, 10_250);
  assert.equal(aligner.nextCycleStart(true, 12_008, 10_100), null, 'none of those is a reference');
  aligner.watched(changed(['/service/demo/leader', '/service/demo/members/node1'], ['/service/demo/leader']), 10_003);
  assert.equal(aligner.nextCycleStart(true, 12_008, 10_100), 11_903);
  assert.equal(aligner.nextCycleStart(false, 12_008, 10_100), null, 'a replica keeps its schedule');
});
