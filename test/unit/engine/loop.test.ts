import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../../src/engine/clock.js';
import { CycleLoop } from '../../../src/engine/loop.js';
import { DcsUnavailableError, EtcdError } from '../../../src/engine/etcd/etcd-errors.js';
import { createLogger } from '../../../src/observability/log.js';

/** Virtual time: every sleep returns at once after moving the clock to its end. */
function virtualClock(): Clock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    wallMs: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += Math.max(0, ms);
    },
    timer: () => () => undefined,
  };
  return clock;
}

const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });

/** Runs `cycles` cycles of `costMs` each and returns their start times. */
async function starts(cycles: number, costMs: number, periodMs: number, watchdogTimeoutMs: number | null): Promise<number[]> {
  const clock = virtualClock();
  const loop = new CycleLoop(clock, quiet);
  const seen: number[] = [];
  let due: number | null = null;
  await loop.run(
    async () => {
      seen.push(clock.t);
      clock.t += costMs;
      if (watchdogTimeoutMs !== null) due = clock.t + watchdogTimeoutMs; // pinged at the end of the cycle
      if (seen.length === cycles) loop.stop();
    },
    () => periodMs,
    () => due,
  );
  return seen;
}

test('cycles start every period from the previous start', async () => {
  assert.deepEqual(await starts(3, 50, 1000, null), [0, 1000, 2000]);
});

test('an armed watchdog that would fire before the next cycle brings that cycle forward', async () => {
  // loop_wait 14 s, a 14 s watchdog programmed 50 ms into each cycle: without the early wake the
  // next ping would come 50 ms after the device fired.
  const seen = await starts(3, 50, 14_000, 14_000);
  for (let i = 1; i < seen.length; i++) {
    const pingDue = (seen[i - 1] ?? 0) + 50 + 14_000;
    assert.ok((seen[i] ?? Infinity) + 50 < pingDue, `cycle ${i} starts at ${seen[i]}, its ping must precede ${pingDue}`);
  }
});

test('a watchdog far away leaves the period alone', async () => {
  assert.deepEqual(await starts(3, 50, 1000, 30_000), [0, 1000, 2000]);
});

test('a watchdog about to fire never makes the loop spin', async () => {
  const seen = await starts(4, 0, 1000, 10);
  for (let i = 1; i < seen.length; i++) assert.ok((seen[i] ?? 0) - (seen[i - 1] ?? 0) >= 100);
});

test('a cycle failing on etcd is one line without a stack, said again when its kind changes or a minute later; a bug keeps its stack, every time', async () => {
  const clock = virtualClock();
  const lines: string[] = [];
  const loop = new CycleLoop(clock, createLogger({ level: 'info', format: 'text', write: (line) => lines.push(line) }));
  // the message carries the time waited, different every cycle: the same failure all the same
  const failures: (Error | null)[] = [
    new DcsUnavailableError('no etcd endpoint answered within 4001 ms'),
    new DcsUnavailableError('no etcd endpoint answered within 4003 ms'),
    new DcsUnavailableError('no etcd endpoint answered within 4002 ms'),
    new EtcdError('bad_response', 'http://127.0.0.1:2379: HTTP 503: unavailable'),
    null,
    new TypeError("Cannot read properties of undefined (reading 'role')"),
    new TypeError("Cannot read properties of undefined (reading 'role')"),
    null,
  ];
  let cycles = 0;
  await loop.run(
    async () => {
      const failure = failures[cycles++];
      if (cycles === failures.length) loop.stop();
      if (cycles === 3) clock.t += 61_000; // the same failure a minute later
      if (failure !== null && failure !== undefined) throw failure;
    },
    () => 2_000,
  );
  const said = lines.map((line) => line.replace(/^\S+ /, ''));
  assert.equal(said.filter((line) => line.includes('no etcd endpoint answered')).length, 2, said.join('\n'));
  assert.equal(said.filter((line) => line.includes('HTTP 503')).length, 1, said.join('\n'));
  assert.equal(said.filter((line) => line.includes('HA cycle succeeded again')).length, 2, said.join('\n'));
  const expected = said.filter((line) => /etcd|HTTP 503/.test(line));
  for (const line of expected) assert.doesNotMatch(line, /\n\s+at /, 'no stack for an expected failure');
  const bugs = said.filter((line) => line.includes('TypeError'));
  assert.equal(bugs.length, 2, 'a bug is logged every time');
  for (const bug of bugs) assert.match(bug, /\n\s+at /, 'a bug is logged with its stack');
});
