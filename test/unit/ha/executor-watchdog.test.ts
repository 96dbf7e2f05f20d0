/**
 * The executor and a watchdog that cannot be armed (issue 10): in `required` mode the plan stops
 * before it promotes (Patroni: "Not promoting self because watchdog could not be activated"); in
 * `automatic` mode the plan goes on without one. Checked on executeDecision itself with an agent
 * context that records the tasks started and a watchdog port that refuses or accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeDecision } from '../../../src/ha/executor.js';
import type { AgentContext } from '../../../src/ha/context.js';
import type { Decision } from '../../../src/ha/core/types.js';
import { renderWhy } from '../../../src/ha/core/why.js';

function agent(mode: 'required' | 'automatic', armAccepted: boolean) {
  const started: string[] = [];
  const armedWith: number[] = [];
  const nowMs = 100_000;
  const a = {
    ports: {
      clock: { now: () => nowMs },
      watchdog: {
        observe: () => ({ available: true, armed: false }),
        arm: async (timeoutMs: number) => {
          armedWith.push(timeoutMs);
          return armAccepted;
        },
        keepalive: () => undefined,
        disable: () => undefined,
      },
    },
    lease: { setGuard: () => undefined, setBackstop: () => undefined, authoritySentMs: () => nowMs - 1000 },
    local: () => ({ watchdog: { mode, safetyMarginMs: 5000 } }),
    cluster: { dynamic: { ttlMs: 30_000 } },
    pg: { probe: { inRecovery: true } },
    failsafe: { racing: false },
    tasks: {
      start: (kind: string) => {
        started.push(kind);
        return 'started';
      },
    },
    log: { debug: () => undefined, info: () => undefined, warning: () => undefined, error: () => undefined },
    watchdogDueMs: null as number | null,
    wake: () => undefined,
  };
  return { a: a as unknown as AgentContext & { watchdogDueMs: number | null }, started, armedWith };
}

const promoting: Decision = {
  why: { kind: 'promotedByAcquiring' },
  actions: [{ kind: 'watchdog', op: 'arm' }, { kind: 'promote' }],
  leaseGuard: null,
  gateValidForMs: 10_000,
};

test('required: a watchdog that cannot be armed stops the plan before the promotion', async () => {
  const { a, started, armedWith } = agent('required', false);
  const why = await executeDecision(a, promoting, { requestExit: () => undefined }, { atMs: 100_000, taskGeneration: 0 });
  assert.deepEqual(armedWith, [24_000], 'armed to fire 5 s (the safety margin) before the key can expire');
  assert.deepEqual(started, [], 'promoted without the watchdog required');
  assert.equal(renderWhy(why), 'Not promoting self because watchdog could not be activated');
  assert.equal(a.watchdogDueMs, null);
});

test('required and armed: the promotion goes on, and the watchdog is due at its timeout', async () => {
  const { a, started } = agent('required', true);
  await executeDecision(a, promoting, { requestExit: () => undefined }, { atMs: 100_000, taskGeneration: 0 });
  assert.deepEqual(started, ['promote']);
  assert.equal(a.watchdogDueMs, 124_000);
});

test('automatic: a watchdog that cannot be armed does not stop the promotion', async () => {
  const { a, started } = agent('automatic', false);
  await executeDecision(a, promoting, { requestExit: () => undefined }, { atMs: 100_000, taskGeneration: 0 });
  assert.deepEqual(started, ['promote']);
});
