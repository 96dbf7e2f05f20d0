/**
 * RepeatingRound (ha/watch-round.ts): rounds at the due time the watch computes, no timer at all
 * while there is nothing to watch (an idle agent is not woken every second), and poke() (after
 * every HA cycle) starting an idle watch or moving the pending round to the due time computed
 * again, but never cancelling the round that finds there is nothing left to watch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../../src/engine/clock.js';
import { RepeatingRound } from '../../../src/ha/watch-round.js';

/** Virtual time: timers fire only when the test advances the clock. */
class ManualClock implements Clock {
  nowMs = 0;
  private timers: Array<{ atMs: number; fn: () => void; cancelled: boolean }> = [];
  now(): number {
    return this.nowMs;
  }
  wallMs(): number {
    return this.nowMs;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timer(ms, resolve));
  }
  timer(ms: number, fn: () => void): () => void {
    const entry = { atMs: this.nowMs + ms, fn, cancelled: false };
    this.timers.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
  /** Moves time to `toMs`, firing due timers in order and letting each round's promise settle. */
  async advance(toMs: number): Promise<void> {
    for (;;) {
      const next = this.timers.filter((t) => !t.cancelled && t.atMs <= toMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.nowMs = next.atMs;
      next.fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.nowMs = toMs;
  }
}

test('rounds follow the due time; with nothing to watch no timer runs until poked', async () => {
  const clock = new ManualClock();
  const ran: number[] = [];
  let active = false;
  const rounds = new RepeatingRound(
    clock,
    (lastEndMs) => (active ? lastEndMs + 400 : null),
    async () => {
      ran.push(clock.now());
    },
  );
  rounds.start();
  assert.equal(clock.pending(), 0, 'idle: no timer');
  await clock.advance(5_000);
  assert.deepEqual(ran, []);

  active = true;
  rounds.poke();
  assert.equal(clock.pending(), 1);
  await clock.advance(6_000);
  // due 400 ms after the start (t=0) has long passed: the first round runs at once, then every 400 ms
  assert.deepEqual(ran, [5_000, 5_400, 5_800]);

  // nothing to watch any more: a poke leaves the pending round to run (it clears what was watched)
  active = false;
  rounds.poke();
  assert.equal(clock.pending(), 1);
  await clock.advance(7_000);
  assert.deepEqual(ran, [5_000, 5_400, 5_800, 6_200], 'the round that finds nothing to watch is the last');
  assert.equal(clock.pending(), 0);
  rounds.stop();
});

test('poke() reschedules the pending round when its due time moved, and stop() ends it', async () => {
  const clock = new ManualClock();
  const ran: number[] = [];
  let answeredAtMs = -Infinity;
  const rounds = new RepeatingRound(
    clock,
    (lastEndMs) => Math.max(lastEndMs, answeredAtMs) + 400,
    async () => {
      ran.push(clock.now());
    },
  );
  rounds.start();
  await clock.advance(450);
  assert.deepEqual(ran, [400]);
  // another read answered at 600: the round due at 800 moves to 1000
  await clock.advance(600);
  answeredAtMs = 600;
  rounds.poke();
  await clock.advance(999);
  assert.deepEqual(ran, [400]);
  await clock.advance(1_000);
  assert.deepEqual(ran, [400, 1_000]);
  rounds.stop();
  rounds.poke();
  await clock.advance(5_000);
  assert.deepEqual(ran, [400, 1_000]);
  assert.equal(clock.pending(), 0);
});
