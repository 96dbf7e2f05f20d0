import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleLoop } from '../../../src/engine/loop.js';
import { createLogger } from '../../../src/observability/log.js';
/** Virtual time: every sleep returns at once after moving the clock to its end. */
function virtualClock() {
    const clock = {
        t: 0,
        now: () => clock.t,
        wallMs: () => clock.t,
        sleep: async (ms) => {
            clock.t += Math.max(0, ms);
        },
        timer: () => () => undefined,
    };
    return clock;
}
const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });
/** Runs `cycles` cycles of `costMs` each and returns their start times. */
async function starts(cycles, costMs, periodMs, watchdogTimeoutMs) {
    const clock = virtualClock();
    const loop = new CycleLoop(clock, quiet);
    const seen = [];
    let due = null;
    await loop.run(async () => {
        seen.push(clock.t);
        clock.t += costMs;
        if (watchdogTimeoutMs !== null)
            due = clock.t + watchdogTimeoutMs; // pinged at the end of the cycle
        if (seen.length === cycles)
            loop.stop();
    }, () => periodMs, () => due);
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
    for (let i = 1; i < seen.length; i++)
        assert.ok((seen[i] ?? 0) - (seen[i - 1] ?? 0) >= 100);
});
//# sourceMappingURL=loop.test.js.map