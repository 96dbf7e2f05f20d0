/**
 * A new leader's keepalives land just before etcd's lease-expiry ticks (src/ha/expiry-tick.ts),
 * checked on the production agent in the simulator: in a calm cluster the leader's machine is
 * killed, its lease expires, and the agent that takes over moves its cycles so that each of its
 * keepalives reaches the store less than KEEPALIVE_LEAD_MS after (the instant the old key went -
 * KEEPALIVE_LEAD_MS) on the 500 ms grid, i.e. before the next tick of a grid through that instant.
 * Without the move every regular cycle of the new leader keepalives after that tick (the phase is
 * then KEEPALIVE_LEAD_MS plus the takeover's and the cycle's latencies).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from './simulate.js';
import type { World } from './world.js';
import { ETCD_EXPIRY_TICK_MS, KEEPALIVE_LEAD_MS } from '../../src/ha/expiry-tick.js';

const SEEDS = [11, 12, 13, 14, 15, 16];

test("a new leader's keepalives reach etcd just before a lease-expiry tick", async () => {
  for (const seed of SEEDS) {
    const keepalives: { leaseId: string; atMs: number }[] = [];
    let goneAtMs: number | null = null;
    let killedAtMs: number | null = null;
    let world: World | null = null;
    const result = await simulate(seed, {
      tune: (params) => {
        for (const kind of Object.keys(params.rates) as (keyof typeof params.rates)[]) params.rates[kind] = 0;
        params.slowDcsLatencyMs = null;
        params.dcsLatencyMs = [1, 5];
        // A skewed node clock moves the agent's 500 ms away from etcd's (0.05% of 2 s is 1 ms a
        // cycle); hosts under NTP drift by parts per million.
        params.clockSkew = 0;
        params.faultEndMs = params.faultStartMs + 30_000 + 12 * params.loopWaitS * 1000;
      },
      operator: (w) => {
        world = w;
        const store = w.dcs;
        const keepalive = store.keepalive.bind(store);
        store.keepalive = (id: string, nowMs: number) => {
          keepalives.push({ leaseId: id, atMs: nowMs });
          return keepalive(id, nowMs);
        };
        store.watch((change) => {
          if (killedAtMs !== null && goneAtMs === null && change.deleted.includes('leader')) goneAtMs = w.nowMs;
        });
        w.at(w.params.faultStartMs, () => {
          const leader = w.leaderNow();
          if (leader === null) return;
          killedAtMs = w.nowMs;
          w.killMachine(leader);
        });
      },
    });
    assert.equal(result.violation, null, `seed ${seed}: no violation`);
    const w = world as World | null;
    assert.ok(w !== null && killedAtMs !== null && goneAtMs !== null, `seed ${seed}: the leader was killed and its key went`);
    const lease = w.dcs.leader?.leaseId;
    assert.ok(lease !== undefined, `seed ${seed}: a new leader holds the key`);
    const loopWaitMs = w.params.loopWaitS * 1000;
    // From the new leader's second regular cycle on (its first ones take the key and promote).
    const theirs = keepalives.filter((k) => k.leaseId === lease && k.atMs > (goneAtMs as number) + 2 * loopWaitMs);
    assert.ok(theirs.length >= 5, `seed ${seed}: ${theirs.length} keepalives of the new leader`);
    const anchor = (goneAtMs as number) - KEEPALIVE_LEAD_MS;
    const phases = theirs.map((k) => (((k.atMs - anchor) % ETCD_EXPIRY_TICK_MS) + ETCD_EXPIRY_TICK_MS) % ETCD_EXPIRY_TICK_MS);
    const beforeTick = phases.filter((p) => p < KEEPALIVE_LEAD_MS).length;
    // A cycle woken by an event (a member key appearing) keepalives off the grid; the next one is back on it.
    assert.ok(
      beforeTick >= 0.75 * phases.length,
      `seed ${seed}: keepalives ${KEEPALIVE_LEAD_MS} ms or less after the aligned instant: ${beforeTick} of ${phases.length} (phases ${phases.join(', ')})`,
    );
  }
});
