/**
 * DeadlineTimer: fires once at its deadline as a plain timer would; a later deadline keeps the
 * armed timer (which re-arms when it fires), an earlier one re-arms at once; null never fires.
 * A clock that runs timers a little early (the simulator rounds delays down to whole ms) must
 * not make it re-arm for ever (it did: standard seed 1370 hung).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTimer } from '../../../src/engine/deadline-timer.js';
import { manualClock } from '../../support/manual-clock.js';

test('fires once, when its deadline comes, even on a clock that runs timers early', () => {
  const { clock, advanceTo } = manualClock(0, 1.5);
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  advanceTo(1000);
  assert.deepEqual(fired, [98.5]);
});

test('a later deadline keeps the armed timer, which re-arms for the rest when it fires', () => {
  const { clock, timers, advanceTo } = manualClock();
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  for (let t = 10; t <= 90; t += 10) {
    advanceTo(t);
    timer.set(t + 100); // a confirmation every 10 ms moves the deadline on
  }
  assert.equal(timers.length, 1, 'nine later deadlines armed no new timer');
  advanceTo(189);
  assert.deepEqual(fired, []);
  advanceTo(190);
  assert.deepEqual(fired, [190]);
  assert.equal(timers.length, 2, 'one re-arm, when the first timer fired at 100');
});

test('an earlier deadline re-arms at once; null disarms', () => {
  const { clock, advanceTo } = manualClock();
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  timer.set(40);
  advanceTo(60);
  assert.deepEqual(fired, [40]);
  timer.set(200);
  timer.set(null);
  advanceTo(500);
  assert.deepEqual(fired, [40], 'disarmed: never fired');
});
