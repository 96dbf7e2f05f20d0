/**
 * Shows the checker bites: with one rule of the core broken on purpose, the same schedules must
 * produce a violation of the invariant that rule protects. Seeds are fixed, so this is
 * deterministic; each case prints the seed that caught it and its replay command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatch } from './batch.js';
import type { Family, Mutant, SimParams } from './model.js';
import { simulate } from './simulate.js';
import type { World } from './world.js';

async function firstViolation(mutant: Mutant, maxSeeds: number, family: Family = 'standard'): Promise<{ seed: number; message: string }> {
  const summary = await runBatch(1, maxSeeds, { mutant, family, stopAfterFailures: 1 });
  const first = summary.failures[0];
  assert.ok(first !== undefined, `mutant ${mutant}: no violation in ${maxSeeds} seeds\n${summary.text}`);
  console.log(`mutant ${mutant}: caught at seed ${first.seed}: ${first.message}\n  replay: ${first.replay}`);
  return first;
}

test('without the lease guard, a primary cut off from etcd keeps acknowledging while another is promoted', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('no-guard', 3000)).message, /invariant \((a|b)\)/);
});

test('without fencing at all (no fence action, no guard), two primaries acknowledge', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('no-fence', 3000)).message, /invariant \((a|b)\)/);
});

/**
 * A schedule aimed at the gate-validity check: the leader's machine dies, and the first replica
 * whose acquireLeaderKey succeeds in etcd is frozen (SIGSTOP) while the answer is on its way, for
 * longer than ttl. Its lease expires, another replica takes the key and promotes; then the frozen
 * agent resumes and reads a success that is no longer true. No other fault is drawn. (Random
 * schedules stopped reaching this case once the agent read the cluster from its watch-fed copy.)
 */
function lateAcquireSuccess(w: World, froze: () => void): void {
  w.at(w.params.faultStartMs, () => {
    const leader = w.leaderNow();
    if (leader === null) return;
    w.trace(`FAULT ${leader.name}: kill -9 agent and postmaster for good`);
    w.killMachine(leader);
    const store = w.dcs;
    const acquire = store.acquireLeader.bind(store);
    let frozen = false;
    store.acquireLeader = (name, leaseId, nowMs) => {
      const taken = acquire(name, leaseId, nowMs);
      if (taken && !frozen) {
        frozen = true;
        froze();
        const winner = w.node(name);
        w.trace(`FAULT ${name}: agent frozen while its acquireLeaderKey answer is in flight, for ttl + 3 s`);
        w.pause(winner);
        w.at(w.params.ttlS * 1000 + 3000, () => w.unpause(winner));
      }
      return taken;
    };
  });
}

/** Runs the schedule on each seed; every run must reach its fault (else a pass would prove nothing). */
async function lateAcquireRuns(mutant: Mutant, seeds: number[]): Promise<Array<{ seed: number; message: string | null }>> {
  const out: Array<{ seed: number; message: string | null }> = [];
  for (const seed of seeds) {
    let froze = false;
    const result = await simulate(seed, {
      mutant,
      family: 'frozen-unguarded',
      tune: quietThreeNodes,
      operator: (w) => lateAcquireSuccess(w, () => (froze = true)),
    });
    assert.ok(froze, `seed ${seed}: no replica was frozen with a successful acquireLeaderKey in flight`);
    out.push({ seed, message: result.violation?.message ?? null });
  }
  return out;
}

/** Three nodes and no drawn fault: the schedule's own fault is the only one. */
function quietThreeNodes(params: SimParams): void {
  params.nodeCount = 3;
  for (const kind of Object.keys(params.rates) as Array<keyof SimParams['rates']>) params.rates[kind] = 0;
}

const LATE_ACQUIRE_SEEDS = Array.from({ length: 20 }, (_, i) => 1 + i);

test(
  'without the gate-validity check, a gate that succeeded too late (the agent was frozen meanwhile) promotes without the key',
  { timeout: 600_000 },
  async () => {
    const bitten = (await lateAcquireRuns('stale-gate', LATE_ACQUIRE_SEEDS)).filter((run) => run.message !== null);
    assert.ok(bitten.length > 0, 'the stale-gate mutant promoted nowhere without the key');
    for (const run of bitten) assert.match(run.message ?? '', /invariant \((a|b)\)/, `seed ${run.seed}`);
    console.log(`mutant stale-gate: caught at ${bitten.length} of ${LATE_ACQUIRE_SEEDS.length} seeds, first ${bitten[0]?.seed}: ${bitten[0]?.message}`);
  },
);

test('with the gate-validity check, the same late successes are treated as failures: one primary, no violation', { timeout: 600_000 }, async () => {
  const runs = await lateAcquireRuns('none', LATE_ACQUIRE_SEEDS);
  assert.deepEqual(
    runs.filter((run) => run.message !== null),
    [],
  );
});

test('without the known-replica rule, the lease guard fences long-standing replicas', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('fence-known-replica', 3000)).message, /invariant \(h\)/);
});

test('without the kernel watchdog and keel-fence, a frozen leader keeps acknowledging after losing its lease', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('no-watchdog', 3000)).message, /invariant \((a|b)\)/);
});

test('without keel-fence, an agent frozen on a node without a watchdog leaves two primaries acknowledging', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('no-process-fence', 3000, 'frozen-unguarded')).message, /invariant \((a|b)\)/);
});

test('ignoring maximum_lag_on_failover promotes a lagging replica', { timeout: 600_000 }, async () => {
  assert.match((await firstViolation('ignore-lag', 3000)).message, /invariant \(d\)/);
});
