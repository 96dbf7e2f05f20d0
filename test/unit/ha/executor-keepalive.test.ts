/**
 * The executor's second look at a keepalive decide allowed to leave out (core/lease-renewal.ts):
 * decide judged the timing as of its observation; the executor judges it again at the instant the
 * keepalive would go, so a plan that ran late (a slow observation or action before it) renews
 * after all. Checked on executeDecision with an agent context whose clock is set by the test and
 * whose lease keeper counts keepalives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeDecision } from '../../../src/ha/executor.js';
import type { AgentContext } from '../../../src/ha/context.js';
import type { Decision } from '../../../src/ha/core/types.js';
import { keepaliveBackstopAfterSentMs, keepaliveTimingAllowsWait } from '../../../src/ha/core/lease-renewal.js';

const OBSERVED_MS = 100_000;

function agent(timings: { ttlMs: number; loopWaitMs: number; retryTimeoutMs: number }, lastConfirmedSentMs: number | null, sendAtMs: number) {
  const record = { keepalives: 0, backstops: [] as (number | null)[] };
  const a = {
    ports: { clock: { now: () => sendAtMs } },
    lease: {
      lastConfirmedSentMs,
      setGuard: () => undefined,
      setBackstop: (afterSentMs: number | null) => record.backstops.push(afterSentMs),
      keepalive: async () => {
        record.keepalives++;
      },
    },
    cluster: { dynamic: timings },
    failsafe: { racing: false },
    log: { debug: () => undefined, info: () => undefined, warning: () => undefined, error: () => undefined },
    wake: () => undefined,
  };
  return { a: a as unknown as AgentContext, record };
}

function decision(keepaliveMayWait: boolean): Decision {
  return {
    why: { kind: 'followingNoAction', self: 'node2', leader: 'node1' },
    actions: [{ kind: 'refreshLease' }],
    leaseGuard: null,
    gateValidForMs: 10_000,
    ...(keepaliveMayWait ? { keepaliveMayWait: true as const } : {}),
  };
}

async function run(timings: { ttlMs: number; loopWaitMs: number; retryTimeoutMs: number }, lastSentMs: number | null, sendAtMs: number, mayWait = true) {
  const { a, record } = agent(timings, lastSentMs, sendAtMs);
  await executeDecision(a, decision(mayWait), { requestExit: () => undefined }, { atMs: OBSERVED_MS, taskGeneration: 0 });
  return record;
}

const tight = { ttlMs: 8500, loopWaitMs: 2000, retryTimeoutMs: 3000 };
const roomy = { ttlMs: 30_000, loopWaitMs: 2000, retryTimeoutMs: 3000 };

test('in time: the keepalive decide left out stays out, and the backstop is set', async () => {
  // decide's own view of it, as of the observation: allowed (the last keepalive is a cycle old)
  assert.equal(keepaliveTimingAllowsWait(tight, 99_000, OBSERVED_MS, OBSERVED_MS), true);
  const record = await run(tight, 99_000, OBSERVED_MS + 10);
  assert.equal(record.keepalives, 0);
  assert.deepEqual(record.backstops, [keepaliveBackstopAfterSentMs(tight)]);
});

test('late: a plan that reaches the keepalive 1.9 s after its observation renews (the next cycle would send too late for the lease)', async () => {
  assert.equal(keepaliveTimingAllowsWait(tight, 99_000, OBSERVED_MS, OBSERVED_MS), true, 'decide allowed it');
  const record = await run(tight, 99_000, OBSERVED_MS + 1900);
  assert.equal(record.keepalives, 1);
});

test('late: a keepalive that has become 1.5 cycles old by the time the plan reaches it is sent, however long the lease', async () => {
  assert.equal(keepaliveTimingAllowsWait(roomy, 98_000, OBSERVED_MS, OBSERVED_MS), true, 'decide allowed it');
  const record = await run(roomy, 98_000, OBSERVED_MS + 1100);
  assert.equal(record.keepalives, 1);
});

test('decide did not allow it, or no keepalive was ever confirmed: sent, and no backstop', async () => {
  const notAllowed = await run(tight, 99_000, OBSERVED_MS + 10, false);
  assert.equal(notAllowed.keepalives, 1);
  assert.deepEqual(notAllowed.backstops, [null]);
  const never = await run(tight, null, OBSERVED_MS + 10);
  assert.equal(never.keepalives, 1);
});

test("a keepalive confirmed since the observation began (the lease keeper's backstop, mid-cycle) is not sent again", async () => {
  const renewedMeanwhile = await run(tight, OBSERVED_MS + 5, OBSERVED_MS + 10, false);
  assert.equal(renewedMeanwhile.keepalives, 0);
  const justBefore = await run(tight, OBSERVED_MS - 1, OBSERVED_MS + 10, false);
  assert.equal(justBefore.keepalives, 1, 'one sent before the observation began does not count');
});

/**
 * The leader's gate (updateLeaderKey): its keepalive went out with the cycle's read
 * (ClusterState.read), so a keepalive confirmed since the observation began is not sent again;
 * the gate then counts from that keepalive's send time.
 */
function leaderAgent(lastConfirmedSentMs: number | null, startMs: number, updateTakesMs = 0) {
  const record = { keepalives: 0, updates: 0 };
  const clock = { t: startMs, now: () => clock.t };
  const a = {
    ports: {
      clock,
      dcs: {
        updateLeader: async () => {
          record.updates++;
          clock.t += updateTakesMs;
          return true;
        },
      },
    },
    lease: {
      lastConfirmedSentMs,
      setGuard: () => undefined,
      setBackstop: () => undefined,
      keepalive: async () => {
        record.keepalives++;
        return true;
      },
    },
    cluster: { dynamic: tight },
    failsafe: { racing: false },
    log: { debug: () => undefined, info: () => undefined, warning: () => undefined, error: () => undefined },
    wake: () => undefined,
  };
  return { a: a as unknown as AgentContext, record };
}

const kept = { kind: 'followingNoAction', self: 'node1', leader: 'kept' } as const;
const lost = { kind: 'followingNoAction', self: 'node1', leader: 'lost' } as const;

async function runLeader(lastSentMs: number | null, startMs: number, updateTakesMs = 0) {
  const { a, record } = leaderAgent(lastSentMs, startMs, updateTakesMs);
  const leaderDecision: Decision = {
    why: kept,
    actions: [{ kind: 'updateLeaderKey', then: { actions: [], why: kept }, else: { actions: [], why: lost } }],
    leaseGuard: null,
    gateValidForMs: 7000,
  };
  const why = await executeDecision(a, leaderDecision, { requestExit: () => undefined }, { atMs: OBSERVED_MS, taskGeneration: 0 });
  return { ...record, branch: why.kind === 'followingNoAction' ? why.leader : why.kind };
}

test("the leader's gate does not send the keepalive its cycle's read sent already, and counts from that one", async () => {
  const renewed = await runLeader(OBSERVED_MS + 3, OBSERVED_MS + 20);
  assert.deepEqual(renewed, { keepalives: 0, updates: 1, branch: 'kept' }, 'confirmed since the observation: not sent again');

  const older = await runLeader(OBSERVED_MS - 2000, OBSERVED_MS + 20);
  assert.deepEqual(older, { keepalives: 1, updates: 1, branch: 'kept' }, 'the last one is older than the observation: sent');

  // The gate's I/O ends 6.99 s after it started and 7.007 s after the keepalive: too late for the
  // lease that keepalive renewed (7 s here), though in time counted from the gate's own start.
  const late = await runLeader(OBSERVED_MS + 3, OBSERVED_MS + 20, 6990);
  assert.deepEqual(late, { keepalives: 0, updates: 1, branch: 'lost' }, 'counted from the keepalive, the success came too late');
});
