/**
 * Shows the checker bites: with a deliberately broken rule the same schedules must produce a
 * violation of the invariant that rule protects. Seeds are fixed so the test is deterministic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatch } from './batch.js';
import type { Mutant } from './model.js';

function firstViolation(mutant: Mutant, maxSeeds: number): { seed: number; message: string } {
  const summary = runBatch(1, maxSeeds, mutant, 1);
  const first = summary.failures[0];
  assert.ok(first !== undefined, `mutant ${mutant}: no violation in ${maxSeeds} seeds\n${summary.text}`);
  console.log(`mutant ${mutant}: caught at seed ${first.seed}: ${first.message}\n  replay: ${first.replay}`);
  return first;
}

test('without fencing (no fence action, no lease guard) two primaries acknowledge at once', () => {
  assert.match(firstViolation('no-fence', 10000).message, /invariant \((a|b)\)/);
});

test('without the kernel watchdog a frozen leader keeps acknowledging after losing its lease', () => {
  assert.match(firstViolation('no-watchdog', 10000).message, /invariant \((a|b)\)/);
});

test('ignoring maximum_lag_on_failover promotes a lagging replica', () => {
  assert.match(firstViolation('ignore-lag', 10000).message, /invariant \(d\)/);
});
