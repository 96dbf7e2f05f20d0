/**
 * DeadlineTimer: fires once at its deadline as a plain timer would; a later deadline keeps the
 * armed timer (which re-arms when it fires), an earlier one re-arms at once; null never fires.
 * A clock that runs timers a little early (the simulator rounds delays down to whole ms) must
 * not make it re-arm for ever (it did: standard seed 1370 hung).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../../src/engine/clock.js';
import { DeadlineTimer } from '../../../src/engine/deadline-timer.js';

/** A clock whose timers run `earlyMs` before they are due; `advanceTo` runs them in order. */
function earlyClock(earlyMs: number): { clock: Clock & { t: number }; armed: () => number; advanceTo: (t: number) => void } {
  const timers: Array<{ at: number; run: () => void; live: boolean }> = [];
  let armedCount = 0;
  const clock = {
    t: 0,
    now: () => clock.t,
    wallMs: () => clock.t,
    sleep: async () => undefined,
    timer: (ms: number, run: () => void) => {
      armedCount += 1;
      const timer = { at: clock.t + Math.max(0, ms - earlyMs), run, live: true };
      timers.push(timer);
      return () => (timer.live = false);
    },
  };
  const advanceTo = (t: number): void => {
    for (let steps = 0; ; steps++) {
      assert.ok(steps < 1000, 'timers kept re-arming without time passing');
      const due = timers.filter((x) => x.live && x.at <= t).sort((x, y) => x.at - y.at)[0];
      if (due === undefined) break;
      clock.t = Math.max(clock.t, due.at);
      due.live = false;
      due.run();
    }
    clock.t = t;
  };
  return { clock, armed: () => armedCount, advanceTo };
}

test('fires once, when its deadline comes, even on a clock that runs timers early', () => {
  const { clock, advanceTo } = earlyClock(1.5);
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  advanceTo(1000);
  assert.deepEqual(fired, [98.5]);
});

test('a later deadline keeps the armed timer, which re-arms for the rest when it fires', () => {
  const { clock, armed, advanceTo } = earlyClock(0);
  const fired: number[] = [];
  const timer = new DeadlineTimer(clock, () => fired.push(clock.t));
  timer.set(100);
  for (let t = 10; t <= 90; t += 10) {
    advanceTo(t);
    timer.set(t + 100); // a confirmation every 10 ms moves the deadline on
  }
  assert.equal(armed(), 1, 'nine later deadlines armed no new timer');
  advanceTo(189);
  assert.deepEqual(fired, []);
  advanceTo(190);
  assert.deepEqual(fired, [190]);
  assert.equal(armed(), 2, 'one re-arm, when the first timer fired at 100');
});

test('an earlier deadline re-arms at once; null disarms', () => {
  const { clock, advanceTo } = earlyClock(0);
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
