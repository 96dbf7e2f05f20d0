/**
 * lease-renewal.ts: a replica renews its lease every other cycle when the timings leave room for
 * it, never lets its lease run out before the next cycle's keepalive attempt has had its
 * retry_timeout, and a node that may lead (or a cycle with a gate) renews every cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../../src/ha/core/decide.js';
import {
  CYCLE_SLACK_MS,
  keepaliveBackstopAfterSentMs,
  keepaliveTimingAllowsWait,
  replicaKeepaliveMayWait,
  replicaProofMaxAgeMs,
  replicaRenewsEveryOtherCycle,
} from '../../../src/ha/core/lease-renewal.js';
import type { Action, LeaseObservation } from '../../../src/ha/core/types.js';
import { config, leaderObs, obs, peer, view } from './fixtures.js';
import { LeaseKeeper } from '../../../src/engine/lease-keeper.js';
import { createLogger } from '../../../src/observability/log.js';
import { manualClock } from '../../support/manual-clock.js';

const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });

/** The sandbox's and bench/footprint's timings: ttl 10, loop_wait 2, retry_timeout 3. */
const FAST = { ttlMs: 10_000, loopWaitMs: 2000, retryTimeoutMs: 3000 };
/** Patroni's defaults, also the seed's patroni.yml: ttl 30, loop_wait 10, retry_timeout 10. */
const DEFAULTS = { ttlMs: 30_000, loopWaitMs: 10_000, retryTimeoutMs: 10_000 };
const FOLLOW: Action[] = [{ kind: 'refreshLease' }, { kind: 'touchMember' }];

function lease(lastConfirmedSentMs: number | null, leaseId: string | null = 'lease-n2'): LeaseObservation {
  return { leaseId, lastConfirmedSentMs, failsafeConfirmedSentMs: null };
}

test('fast timings: every other cycle, and a proof two cycles old is accepted', () => {
  assert.equal(replicaRenewsEveryOtherCycle(FAST), true);
  assert.equal(replicaProofMaxAgeMs(FAST), 2 * 2000 + CYCLE_SLACK_MS);
  const now = 100_000;
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 2010), now, false, FOLLOW), true, 'the previous cycle renewed');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 2999), now, false, FOLLOW), true);
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 1000), now, false, FOLLOW), true, 'half a loop_wait');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 999), now, false, FOLLOW), false, 'woken early: renews, its keepalive proves the next view');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 3000), now, false, FOLLOW), false, 'a keepalive 1.5 loop_wait old is never left out');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 4010), now, false, FOLLOW), false);
});

test("Patroni's default timings leave no room: every regular cycle renews, the proof stays one cycle", () => {
  assert.equal(replicaRenewsEveryOtherCycle(DEFAULTS), false);
  assert.equal(replicaProofMaxAgeMs(DEFAULTS), 10_000 + CYCLE_SLACK_MS);
  const now = 100_000;
  // 10 + 10 + 1 + 10 s is not below ttl: a skipped keepalive could let the lease run out.
  assert.equal(replicaKeepaliveMayWait(DEFAULTS, lease(now - 10_005), now, false, FOLLOW), false);
  assert.equal(replicaKeepaliveMayWait(DEFAULTS, lease(now - 9000), now, false, FOLLOW), false);
  // A regular cycle whose last keepalive went 2 s into its cycle has room; one the watch woke a second after it renews.
  assert.equal(replicaKeepaliveMayWait(DEFAULTS, lease(now - 8000), now, false, FOLLOW), true);
  assert.equal(replicaKeepaliveMayWait(DEFAULTS, lease(now - 1000), now, false, FOLLOW), false, 'woken early: renews');
});

test('a node that may lead, a gate, no lease or no confirmed keepalive: always renew', () => {
  const now = 100_000;
  const young = lease(now - 2010);
  assert.equal(replicaKeepaliveMayWait(FAST, young, now, true, FOLLOW), false, 'may lead');
  const race: Action[] = [
    { kind: 'refreshLease' },
    {
      kind: 'acquireLeaderKey',
      then: { actions: [], why: { kind: 'waitingToBecomePrimary' } },
      else: { actions: [], why: { kind: 'waitingToBecomePrimary' } },
    },
  ];
  assert.equal(replicaKeepaliveMayWait(FAST, young, now, false, race), false, 'a gate puts a key on this lease');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now - 2010, null), now, false, FOLLOW), false, 'no lease: the refresh grants one');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(null), now, false, FOLLOW), false, 'nothing confirmed yet');
  assert.equal(replicaKeepaliveMayWait(FAST, lease(now + 5), now, false, FOLLOW), false, 'a send time after now is not trusted');
});

test('a slow observation moves the next keepalive later: the executor renews after one', () => {
  // 1.5 s after the last keepalive decide allowed waiting; the observation then took 3 s.
  assert.equal(keepaliveTimingAllowsWait(FAST, 0, 1500, 1500), true, 'as of the observation');
  assert.equal(keepaliveTimingAllowsWait(FAST, 0, 1500, 4500), false, 'at the instant the keepalive would go');
  assert.equal(keepaliveTimingAllowsWait(FAST, 0, 1500, 2400), true, 'a 0.9 s observation still leaves room');
  // At Patroni's defaults a cycle 6 s after the keepalive may wait, unless it observed for 3 s.
  assert.equal(keepaliveTimingAllowsWait(DEFAULTS, 0, 6000, 6000), true);
  assert.equal(keepaliveTimingAllowsWait(DEFAULTS, 0, 6000, 9000), false, 'the next attempt could end after the lease');
  assert.equal(keepaliveTimingAllowsWait(FAST, 0, 1000, 900), false, 'sent before its observation: not trusted');
});

test('cycles with jitter, slow observations and watch-woken cycles: with the backstop, the lease never runs out before an attempt ends', async () => {
  // The rule (decide's and the executor's checks) drives the lease keeper itself, whose backstop
  // timer runs on a manual clock: every keepalive attempt, a cycle's or the backstop's, must end
  // (retry_timeout at worst) while the lease it renews is still alive.
  const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  for (const timings of [FAST, DEFAULTS, { ttlMs: 20_000, loopWaitMs: 5000, retryTimeoutMs: 5000 }, { ttlMs: 6000, loopWaitMs: 1000, retryTimeoutMs: 1000 }]) {
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const { clock, advanceTo } = manualClock(0);
    const attempts: number[] = [];
    // Recorded, not asserted in place: the lease keeper catches what refreshLease throws.
    const expired: string[] = [];
    let keeper: LeaseKeeper | null = null;
    const store = {
      refreshLease: async (): Promise<boolean> => {
        const confirmed = keeper?.lastConfirmedSentMs ?? null;
        if (confirmed !== null && clock.t + timings.retryTimeoutMs >= confirmed + timings.ttlMs) expired.push(`attempt at ${clock.t}, confirmed ${confirmed}`);
        attempts.push(clock.t);
        return true;
      },
    };
    keeper = new LeaseKeeper(clock, store, quiet, () => undefined);
    await keeper.keepalive(); // the first cycle's, at 0
    let startMs = 0;
    let renewals = 0;
    let cycles = 0;
    while (startMs < 600_000) {
      // This cycle's observation: mostly milliseconds, sometimes seconds (a divergence check, a peer fetch).
      const observeMs = rand() < 0.05 ? rand() * 3 * timings.loopWaitMs : rand() * 20;
      const sendMs = startMs + observeMs;
      advanceTo(startMs); // the backstop may fire before the cycle starts...
      await flush();
      const observed = lease(keeper.lastConfirmedSentMs);
      advanceTo(sendMs); // ...or while it observes
      await flush();
      cycles += 1;
      // decide, as of the observation; the executor sets the backstop, then checks again at send time.
      const decided = replicaKeepaliveMayWait(timings, observed, startMs, false, FOLLOW);
      keeper.setBackstop(decided ? keepaliveBackstopAfterSentMs(timings) : null);
      const sent = keeper.lastConfirmedSentMs;
      const waits = decided && sent !== null && keepaliveTimingAllowsWait(timings, sent, startMs, sendMs);
      if (!waits) {
        await keeper.keepalive();
        renewals += 1;
      }
      // The next cycle: loop_wait after this one started, or when it ended; early on a watch event.
      const endMs = sendMs + rand() * 10;
      startMs = rand() < 0.1 ? endMs + rand() * timings.loopWaitMs * 0.5 : Math.max(startMs + timings.loopWaitMs, endMs);
    }
    assert.deepEqual(expired, [], `the lease could run out before these attempts ended (${JSON.stringify(timings)})`);
    const backstops = attempts.length - 1 - renewals;
    if (replicaRenewsEveryOtherCycle(timings)) {
      assert.ok(renewals < 0.65 * cycles, `about every other cycle: ${renewals} of ${cycles}`);
      assert.ok(backstops > 0, 'some slow observation needed the backstop');
    } else assert.ok(renewals > 0.85 * cycles, `nearly every cycle: ${renewals} of ${cycles}`);
  }
});

test('decide marks only a replica that follows with a young keepalive; its plan keeps the refresh', () => {
  const fast = config(FAST);
  const replica = decide(obs({ config: fast, lease: lease(98_000) }));
  assert.equal(replica.keepaliveMayWait, true);
  assert.ok(
    replica.actions.some((a) => a.kind === 'refreshLease'),
    'the executor leaves it out, the plan still names it',
  );
  assert.equal(decide(obs({ config: fast, lease: lease(96_000) })).keepaliveMayWait, undefined, 'two cycles old');
  assert.equal(decide(leaderObs({ config: fast, lease: lease(98_000, 'lease-n1') })).keepaliveMayWait, undefined, 'the leader');
  const racing = decide(
    obs({ config: fast, lease: lease(98_000), dcs: { ok: true, view: view({ leader: null }) }, peers: [peer('n3', { walPositionBytes: 900 })] }),
  );
  assert.ok(
    racing.actions.some((a) => a.kind === 'acquireLeaderKey'),
    'the replica races',
  );
  assert.equal(racing.keepaliveMayWait, undefined, 'a race renews first');
});
