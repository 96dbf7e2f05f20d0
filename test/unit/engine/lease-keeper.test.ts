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
import { manualClock } from '../../support/manual-clock.js';

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

test('the renewer is called its lead before the guard fires, both moving with each confirmation, and neither runs once disarmed', async () => {
  const { clock, advanceTo } = manualClock(1000);
  const renewed: number[] = [];
  const fired: number[] = [];
  const renewer = { leadMs: (fenceAfterSentMs: number) => Math.min(2000, fenceAfterSentMs / 2), renew: () => renewed.push(clock.t) };
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => true }, quiet, () => fired.push(clock.t), null, renewer);
  await keeper.keepalive(); // sent at 1000: renew at 1000 + 6000 - 2000, fire at 1000 + 6000
  keeper.setGuard(GUARD);
  advanceTo(4000);
  keeper.confirmFailsafe(3900); // renew at 7900, fire at 9900
  advanceTo(7899);
  assert.deepEqual(renewed, [], 'the confirmation moved the renewal later');
  assert.deepEqual(fired, [], 'and the guard');
  advanceTo(7900);
  assert.deepEqual(renewed, [7900]);
  advanceTo(9899);
  assert.deepEqual(fired, []);
  advanceTo(9900);
  assert.deepEqual(fired, [9900], 'nothing confirmed after 3900: the guard fires at 3900 + 6000');
  clock.t = 10_000;
  await keeper.keepalive(); // renew at 14_000, fire at 16_000
  keeper.setGuard(null);
  advanceTo(30_000);
  assert.deepEqual(renewed, [7900], 'a disarmed guard renews nothing');
  assert.deepEqual(fired, [9900], 'and never fires');
});

test('a confirmation that moves the deadline earlier re-arms the guard at once', async () => {
  const { clock, advanceTo } = manualClock(1000);
  const fired: number[] = [];
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => true }, quiet, () => fired.push(clock.t));
  await keeper.keepalive(); // sent at 1000: fire at 7000
  keeper.setGuard(GUARD);
  keeper.setGuard({ fenceAfterSentMs: 3000, stopAfterSentMs: 4000 }); // a shorter ttl: fire at 4000
  advanceTo(3999);
  assert.deepEqual(fired, []);
  advanceTo(10_000);
  assert.deepEqual(fired, [4000], 'fired once, at the new, earlier deadline');
});

test('stop() leaves no timer armed: the guard and renewal timers keep the process alive, so the agent could not exit', async () => {
  const { clock, timers, advanceTo } = manualClock(1000);
  const renewer = { leadMs: () => 2000, renew: () => undefined };
  const fired: number[] = [];
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => true }, quiet, () => fired.push(clock.t), null, renewer);
  await keeper.keepalive();
  keeper.setGuard(GUARD);
  const live = () => timers.filter((t) => !t.cancelled);
  assert.equal(live().length, 2, 'armed: the guard and the renewal');
  assert.ok(
    live().every((t) => t.keepAlive),
    'both keep the process alive (cancelling them must cost an idle agent no wake-up)',
  );
  keeper.stop();
  assert.deepEqual(live(), [], 'none left armed after stop()');
  advanceTo(60_000);
  assert.deepEqual(fired, [], 'and the guard never fires');
});

test('a renewal timer that fires after the guard deadline (the process was frozen) runs no round: the guard fences instead', async () => {
  const { clock, timers } = manualClock(1000);
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

test("the backstop renews a replica's lease when no cycle did in time, once per confirmed keepalive; a cycle's keepalive moves it; null and stop() disarm it", async () => {
  const { clock, timers, advanceTo } = manualClock(1000);
  const sent: number[] = [];
  let ok = true;
  const keeper = new LeaseKeeper(clock, { refreshLease: async () => (sent.push(clock.t), ok) }, quiet, () => undefined);
  await keeper.keepalive(); // a cycle's, at 1000
  keeper.setBackstop(6000);
  advanceTo(6999);
  assert.deepEqual(sent, [1000], 'not before (last confirmed) + 6000');
  advanceTo(7000);
  await Promise.resolve();
  assert.deepEqual(sent, [1000, 7000], 'its own keepalive at 7000');
  assert.equal(keeper.lastConfirmedSentMs, 7000, 'confirmed like any other');
  clock.t = 9000;
  await keeper.keepalive(); // a cycle renews in time
  advanceTo(14_999);
  assert.deepEqual(sent, [1000, 7000, 9000], 'moved by the cycle');
  ok = false; // etcd refuses from now on
  advanceTo(15_000);
  await Promise.resolve();
  advanceTo(40_000);
  assert.deepEqual(sent, [1000, 7000, 9000, 15_000], 'a failed one is not retried by the backstop');
  ok = true;
  clock.t = 41_000;
  await keeper.keepalive();
  keeper.setBackstop(null);
  advanceTo(60_000);
  assert.equal(sent.length, 5, 'null disarms it');
  keeper.setBackstop(6000);
  assert.ok(
    timers.some((t) => !t.cancelled && t.keepAlive),
    'armed, as a timer that costs no wake-up when moved',
  );
  keeper.stop();
  assert.deepEqual(
    timers.filter((t) => !t.cancelled),
    [],
    'stop() disarms it',
  );
});
