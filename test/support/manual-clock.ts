/**
 * A Clock for unit tests whose time moves only when the test says: timers are recorded (when due,
 * whether cancelled) and run by `advanceTo`, each at its own time, including those they arm.
 * `earlyMs` makes timers run that much before they are due, as the simulator's clock can (it
 * rounds delays down to whole ms).
 */
import assert from 'node:assert/strict';
import type { Clock, TimerOptions } from '../../src/engine/clock.js';

export interface ManualTimer {
  at: number;
  run: () => void;
  cancelled: boolean;
  /** Armed with `keepAlive` (a referenced Node timer on the system clock). */
  keepAlive: boolean;
}

export interface ManualClock {
  clock: Clock & { t: number };
  /** Every timer armed so far, in arming order; a run timer counts as cancelled. */
  timers: ManualTimer[];
  /** Moves the clock to `t`, running each live timer due on the way, in order. */
  advanceTo: (t: number) => void;
}

export function manualClock(startMs = 0, earlyMs = 0): ManualClock {
  const timers: ManualTimer[] = [];
  const clock = {
    t: startMs,
    now: () => clock.t,
    wallMs: () => clock.t,
    sleep: async () => undefined,
    timer: (ms: number, run: () => void, options?: TimerOptions) => {
      const timer = { at: clock.t + Math.max(0, ms - earlyMs), run, cancelled: false, keepAlive: options?.keepAlive === true };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
  };
  const advanceTo = (t: number): void => {
    for (let steps = 0; ; steps++) {
      assert.ok(steps < 10_000, 'timers kept re-arming without time passing');
      const due = timers.filter((x) => !x.cancelled && x.at <= t).sort((x, y) => x.at - y.at)[0];
      if (due === undefined) break;
      clock.t = Math.max(clock.t, due.at);
      due.cancelled = true; // ran
      due.run();
    }
    clock.t = t;
  };
  return { clock, timers, advanceTo };
}
