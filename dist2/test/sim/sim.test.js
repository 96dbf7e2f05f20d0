/**
 * The simulator as a CI test: at least 10,000 seeded random schedules, each running the
 * production agent shell (observe, decide, executor, lease guard, task runner) on simulated ports,
 * checking the safety invariants (a), (b), (d), (h) continuously and liveness (c), (e), (f), (g)
 * once faults heal. The base seed comes from KEEL_SIM_SEED (CI can pass the commit hash as a
 * number) or is fixed; every failure prints a one-line replay command. Violations of a known,
 * named limitation are printed with their seeds and not counted as passes (nor as failures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatchParallel } from './parallel.js';
const count = Number(process.env['KEEL_SIM_COUNT'] ?? 10000);
const base = Number(process.env['KEEL_SIM_SEED'] ?? 1);
test(`${count} random schedules through the production shell keep every invariant`, { timeout: 1_800_000 }, async () => {
    const summary = await runBatchParallel(base, count);
    console.log(summary.text);
    assert.equal(summary.failures.length, 0, summary.text);
});
//# sourceMappingURL=sim.test.js.map