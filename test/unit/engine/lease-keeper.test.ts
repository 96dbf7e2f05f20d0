/**
 * The lease keeper's feeding of keel-fence (the external fence, issue 10): it follows the guard's
 * authority with its own, later offset; stands down while the guard's own fence holds or the
 * guard is disarmed; keeps its last deadline at shutdown; and an unconfirmed authority gets a
 * fixed grace, not one that moves with every cycle. The renewer (failsafe_mode) is called its lead
 * before the guard fires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../../src/engine/clock.js';
import { LeaseKeeper } from '../../../src/engine/lease-keeper.js';
import { createLogger } from '../../../src/observability/log.js';
import { isolated } from '../../../src/ha/core/isolation.js';

const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });

function setup(keepaliveOk = true): { clock: Clock & { t: number }; keeper: LeaseKeeper; fed: Array<number | null>; fired: string[] } {
  const clock = { t: 1000, now: () => clock.t, wallMs: () => clock.t, sleep: async () => undefined, timer: () => () => undefined };
  const fed: Array<number | null> = [];
  const fired: string[] = [];
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => keepaliveOk }, quiet, (reason) => fired.push(reason), { feed: (d) => fed.push(d) });
  return { clock, keeper, fed, fired };
}

const GUARD = { fenceAfterSentMs: 6000, stopAfterSentMs: 8000 };

test('keel-fence is fed (confirmed keepalive send time) + stopAfterSentMs, and moves with each confirmation', async () => {
  const { clock, keeper, fed } = setup();
  await keeper.keepalive(); // sent at 1000
  keeper.setGuard(GUARD);
  assert.equal(fed.at(-1), 9000);
  clock.t = 3000;
  await keeper.keepalive();
  assert.equal(fed.at(-1), 11000);
  clock.t = 3500;
  await keeper.keepalive();
  assert.equal(fed.at(-1), 11500, 'every confirmed keepalive moves it');
});

test('keel-fence stands down while the guard is disarmed or its own fence holds, and is armed again before the fence lifts', async () => {
  const { keeper, fed } = setup();
  await keeper.keepalive();
  keeper.setGuard(GUARD);
  keeper.setFenceInPlace(true);
  assert.equal(fed.at(-1), null);
  keeper.setFenceInPlace(false);
  assert.equal(fed.at(-1), 9000);
  keeper.setGuard(null);
  assert.equal(fed.at(-1), null);
});

test('without any confirmation the deadline is a fixed grace from when the guard was armed', () => {
  const { clock, keeper, fed } = setup(false);
  keeper.setGuard(GUARD);
  const first = fed.at(-1);
  clock.t += 500;
  keeper.setGuard(GUARD); // the next cycle's decision
  assert.equal(fed.at(-1), first, 'the grace moved with the cycle');
  assert.ok(first !== null && first !== undefined && first - 1000 <= 1000);
});

test('at shutdown keel-fence keeps its last deadline (the agent stands it down once PostgreSQL is down)', async () => {
  const { keeper, fed } = setup();
  await keeper.keepalive();
  keeper.setGuard(GUARD);
  const count = fed.length;
  keeper.stop();
  assert.equal(fed.length, count, 'stop() fed keel-fence');
});

test('authorityExpired: only an armed guard whose authority is used up', async () => {
  const { clock, keeper } = setup();
  assert.equal(keeper.authorityExpired(), false, 'no guard: nothing expires');
  await keeper.keepalive();
  keeper.setGuard(GUARD);
  clock.t = 1000 + 5999;
  assert.equal(keeper.authorityExpired(), false);
  clock.t = 1000 + 6000;
  assert.equal(keeper.authorityExpired(), true);
});

test('isolation: only when neither etcd nor any member answered, and there is a member to hand over to', () => {
  assert.equal(isolated({ etcdAnswered: false, peers: 2, peersAnswered: 0 }), true);
  assert.equal(isolated({ etcdAnswered: false, peers: 2, peersAnswered: 1 }), false, 'a member answers: failsafe territory, not isolation');
  assert.equal(isolated({ etcdAnswered: true, peers: 2, peersAnswered: 0 }), false);
  assert.equal(isolated({ etcdAnswered: false, peers: 0, peersAnswered: 0 }), false, 'a cluster of one has no one to hand over to');
});

/** A clock whose timers are only recorded (when due, whether cancelled): the test runs them. */
function timerClock(): { clock: Clock & { t: number }; timers: Array<{ at: number; run: () => void; cancelled: boolean }> } {
  const timers: Array<{ at: number; run: () => void; cancelled: boolean }> = [];
  const clock = {
    t: 1000,
    now: () => clock.t,
    wallMs: () => clock.t,
    sleep: async () => undefined,
    timer: (ms: number, run: () => void) => {
      const timer = { at: clock.t + ms, run, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
  };
  return { clock, timers };
}

test('the renewer is called its lead before the guard fires, its timer moving with each confirmation and cancelled when disarmed', async () => {
  const { clock, timers } = timerClock();
  const renewed: number[] = [];
  const fired: number[] = [];
  const renewer = { leadMs: (fenceAfterSentMs: number) => Math.min(2000, fenceAfterSentMs / 2), renew: () => renewed.push(clock.t) };
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => true }, quiet, () => fired.push(clock.t), null, renewer);
  const live = () => timers.filter((t) => !t.cancelled).map((t) => t.at);
  await keeper.keepalive(); // sent at 1000
  keeper.setGuard(GUARD);
  assert.deepEqual(live().sort(), [5000, 7000], 'renew at 1000 + 6000 - 2000, fire at 1000 + 6000');
  clock.t = 4000;
  keeper.confirmFailsafe(3900);
  assert.deepEqual(live().sort(), [7900, 9900], 'a confirmed failsafe round moves both');
  for (const t of timers.filter((x) => !x.cancelled && x.at === 7900)) {
    t.cancelled = true; // ran
    t.run();
  }
  assert.deepEqual(renewed, [4000]);
  keeper.setGuard(null);
  assert.deepEqual(live(), [], 'a disarmed guard leaves no renewal pending');
});

test('a renewal timer that fires after the guard deadline (the process was frozen) runs no round: the guard fences instead', async () => {
  const { clock, timers } = timerClock();
  const renewed: number[] = [];
  const fired: number[] = [];
  const renewer = { leadMs: () => 2000, renew: () => renewed.push(clock.t) };
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => true }, quiet, () => fired.push(clock.t), null, renewer);
  await keeper.keepalive(); // sent at 1000: renew at 5000, fire at 7000
  keeper.setGuard(GUARD);
  clock.t = 30_000; // SIGCONT long after both
  for (const t of [...timers].sort((x, y) => x.at - y.at)) t.run();
  assert.deepEqual(renewed, [], 'no POST /failsafe round for an authority already used up');
  assert.deepEqual(fired, [30_000]);
  clock.t = 1000;
  timers.length = 0;
  keeper.setGuard(GUARD);
  clock.t = 6999; // late, but before the deadline: the key is still ours in etcd
  timers.find((t) => t.at === 5000)?.run();
  assert.deepEqual(renewed, [6999]);
});
