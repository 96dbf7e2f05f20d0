/**
 * failsafe_mode through the production shell: etcd unreachable for every member, every member
 * reachable. The leader must go on acknowledging without a fence at any instant — its lease guard
 * counts from the last keepalive, so the POST /failsafe round that renews its authority has to
 * come before the guard fires, whatever the phase of the outage against the HA cycle.
 *
 * Found in CI (issue 10's chaos test, etcd down with failsafe_mode on): at ttl 10, loop_wait 2,
 * retry_timeout 4 the leader's read waited the whole retry_timeout, and a keepalive sent at the
 * previous cycle plus loop_wait plus retry_timeout is exactly ttl - retry_timeout, the guard's
 * instant: depending on the phase, the fence came first and writes stopped for 1.6 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultRates } from './model.js';
import { simulate } from './simulate.js';
import type { World } from './world.js';

const OUTAGE_START_MS = 30_000;
const OUTAGE_MS = 20_000;
/** Outage starts spread over two loop_waits, so every phase against the cycle is met. */
const PHASES_MS = Array.from({ length: 40 }, (_, i) => i * 100);

interface Outcome {
  leaderBefore: string | null;
  fencedAtMs: number[];
  leaderAfter: string | null;
}

function outage(phaseMs: number, outcome: Outcome): (w: World) => void {
  return (w) => {
    const start = OUTAGE_START_MS + phaseMs;
    // Every fence that takes effect on the leader during the outage, however short: the simulated
    // PostgreSQL reports each one to the world's fence check as it is applied.
    const checkFence = w.checkFence.bind(w);
    w.checkFence = (n) => {
      const during = w.nowMs >= start && w.nowMs < start + OUTAGE_MS;
      if (during && n.name === outcome.leaderBefore) outcome.fencedAtMs.push(w.nowMs - start);
      checkFence(n);
    };
    // operator runs at t=0, so these delays are instants
    w.at(start, () => {
      outcome.leaderBefore = w.leaderNow()?.name ?? null;
      for (const n of w.nodes) n.dcsLink = 'cut';
      w.at(OUTAGE_MS, () => {
        for (const n of w.nodes) n.dcsLink = 'ok';
      });
    });
    w.at(start + OUTAGE_MS + 15_000, () => (outcome.leaderAfter = w.dcs.leader?.name ?? null));
  };
}

test('failsafe_mode: an etcd outage at any phase of the HA cycle never fences the leader', { timeout: 300_000 }, async () => {
  const fenced: string[] = [];
  for (const [i, phaseMs] of PHASES_MS.entries()) {
    const outcome: Outcome = { leaderBefore: null, fencedAtMs: [], leaderAfter: null };
    const result = await simulate(7000 + i, {
      tune: (p) => {
        Object.assign(p, { nodeCount: 3, ttlS: 10, loopWaitS: 2, retryTimeoutS: 4, failsafeMode: true, watchdogMode: 'off', clockSkew: 0 });
        Object.assign(p, { synchronousMode: 'off', slowDcsLatencyMs: null, faultStartMs: OUTAGE_START_MS, faultEndMs: OUTAGE_START_MS + OUTAGE_MS + 20_000 });
        p.rates = Object.fromEntries(Object.keys(p.rates).map((k) => [k, 0])) as unknown as FaultRates;
      },
      operator: outage(phaseMs, outcome),
    });
    assert.equal(result.violation, null, `phase ${phaseMs} ms: ${result.violation?.message ?? ''}`);
    assert.notEqual(outcome.leaderBefore, null, `phase ${phaseMs} ms: no leader when etcd went away`);
    assert.equal(outcome.leaderAfter, outcome.leaderBefore, `phase ${phaseMs} ms: the leader changed across a failsafe outage`);
    if (outcome.fencedAtMs.length > 0) {
      const first = outcome.fencedAtMs[0] ?? 0;
      const last = outcome.fencedAtMs.at(-1) ?? 0;
      fenced.push(
        `outage at phase ${phaseMs} ms: ${outcome.leaderBefore} fenced at +${first} ms (fences applied: ${outcome.fencedAtMs.length}, last at +${last} ms)`,
      );
    }
  }
  assert.deepEqual(fenced, [], `the failsafe leader was fenced during the outage:\n${fenced.join('\n')}`);
});
