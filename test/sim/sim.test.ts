/**
 * The simulator as a CI test: at least 10,000 seeded random schedules through the real decide(),
 * checking invariants (a)-(d). The base seed comes from KEEL_SIM_SEED (CI can pass the commit hash
 * as a number) or is fixed; every failure prints a one-line replay command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatch } from './batch.js';

const count = Number(process.env['KEEL_SIM_COUNT'] ?? 10000);
const base = Number(process.env['KEEL_SIM_SEED'] ?? 1);

test(`${count} random schedules keep invariants (a)-(d)`, () => {
  const summary = runBatch(base, count);
  console.log(summary.text);
  assert.equal(summary.failures.length, 0, summary.text);
});
