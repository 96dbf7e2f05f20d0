/**
 * DeadlineTimer: fires once at its deadline as a plain timer would; a moved deadline re-arms at
 * once with a timer that keeps the process alive (cancelling such a timer costs an idle process
 * no wake-up); null never fires. A clock that runs timers a little early (the simulator rounds
 * delays down to whole ms) must not make it re-arm for ever (an earlier version did: standard
 * seed 1370 hung).
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

test('a later deadline re-arms at once with a kept-alive timer; the cancelled ones never run', () => {
  const { clock, timers, advanceTo } = manualClock();
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  for (let t = 10; t <= 90; t += 10) {
    advanceTo(t);
    timer.set(t + 100); // a confirmation every 10 ms moves the deadline on
    timer.set(t + 100); // the same deadline again arms nothing
  }
  assert.equal(timers.length, 10, 'one timer per distinct deadline');
  assert.ok(
    timers.every((x) => x.keepAlive),
    'every timer keeps the process alive, so that cancelling it drops its wake-up',
  );
  assert.ok(
    timers.slice(0, -1).every((x) => x.cancelled),
    'each moved deadline cancelled the timer before it',
  );
  advanceTo(189);
  assert.deepEqual(fired, [], 'no timer fired before the last deadline');
  advanceTo(190);
  assert.deepEqual(fired, [190]);
  advanceTo(1000);
  assert.deepEqual(fired, [190], 'once');
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
