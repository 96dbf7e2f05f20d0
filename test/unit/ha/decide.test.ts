/** decide(): one test per main branch, asserting the actions taken (for given gate outcomes) and why.kind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, resolvePlan } from '../../../src/ha/decide.js';
import { renderWhy } from '../../../src/ha/why.js';
import { leaderObs, member, obs, peer, view } from './fixtures.js';

function run(o: Parameters<typeof decide>[0], outcomes: boolean[] = []) {
  const d = decide(o);
  return { d, ...resolvePlan(d, outcomes) };
}

test('replica following the leader: no action, Patroni sentence', () => {
  const r = run(obs());
  assert.equal(r.why.kind, 'followingNoAction');
  assert.deepEqual(r.actions, ['refreshLease', 'touchMember']);
  assert.equal(renderWhy(r.why), 'no action. I am (n2), a secondary, and following a leader (n1)');
  assert.equal(r.d.leaseGuard, null);
});

test('replica pointed elsewhere is repointed to the leader (or its replicatefrom member)', () => {
  assert.deepEqual(run(obs({ postgres: { followTarget: 'n3' } })).steps.find((a) => a.kind === 'followLeader'), { kind: 'followLeader', member: 'n1' });
  const cascading = run(obs({ self: { tags: { ...obs().self.tags, replicatefrom: 'n3' } } }));
  assert.deepEqual(cascading.steps.find((a) => a.kind === 'followLeader'), { kind: 'followLeader', member: 'n3' });
});

test('leader keeps the key: updateLeaderKey gate, then status; lease guard armed', () => {
  const r = run(leaderObs({ postgres: { walPositionBytes: 5000 } }), [true]);
  assert.equal(r.why.kind, 'leaderNoAction');
  assert.deepEqual(r.actions, ['updateLeaderKey', 'writeStatus', 'touchMember']);
  assert.deepEqual(r.d.leaseGuard, { fenceAfterSentMs: 20000 });
});

test('leader that fails to update the key fences first, then demotes immediate-nolock', () => {
  const r = run(leaderObs(), [false]);
  assert.equal(r.why.kind, 'leaderUpdateFailedDemoted');
  assert.deepEqual(r.actions, ['updateLeaderKey', 'fence', 'demote', 'touchMember']);
  assert.deepEqual(r.steps[2], { kind: 'demote', mode: 'immediate-nolock' });
});

test('leader past its fence point (e.g. resumed after a stop) fences before any DCS round trip, unfences once confirmed', () => {
  const r = run(leaderObs({ lease: { lastConfirmedSentMs: 75000 } }), [true]);
  assert.deepEqual(r.actions.slice(0, 2), ['fence', 'updateLeaderKey']);
  const again = run(leaderObs({ postgres: { fenced: true } }), [true]);
  assert.ok(again.actions.includes('unfence'));
});

test('leader that cannot read the DCS for retry_timeout fences and demotes offline', () => {
  const early = run(leaderObs({ dcs: { ok: false, sinceMs: 95000 } }));
  assert.equal(early.why.kind, 'dcsUnreachable');
  assert.deepEqual(early.actions, []);
  assert.notEqual(early.d.leaseGuard, null);
  const late = run(leaderObs({ dcs: { ok: false, sinceMs: 90000 } }));
  assert.equal(late.why.kind, 'dcsUnreachableDemoted');
  assert.deepEqual(late.steps.slice(0, 2), [{ kind: 'fence' }, { kind: 'demote', mode: 'offline' }]);
});

test('failsafe_mode: all members confirmed, the leader keeps running', () => {
  const r = run(leaderObs({ config: { ...obs().config, failsafeMode: true }, dcs: { ok: false, sinceMs: 80000 }, failsafeAllConfirmed: true }));
  assert.equal(r.why.kind, 'failsafeContinue');
  assert.equal(r.d.leaseGuard, null);
});

test('leader key gone, healthiest replica: acquire then promote in the same cycle', () => {
  const o = obs({ dcs: { ok: true, view: view({ leader: null }) }, peers: [peer('n3', { walPositionBytes: 900 })] });
  const won = run(o, [true]);
  assert.equal(won.why.kind, 'promotedByAcquiring');
  assert.deepEqual(won.actions, ['refreshLease', 'acquireLeaderKey', 'promote', 'touchMember']);
  assert.equal(renderWhy(won.why), 'promoted self to leader by acquiring session lock');
  assert.notEqual(won.d.leaseGuard, null);
  const lost = run(o, [false]);
  assert.equal(lost.why.kind, 'lostRace');
  assert.ok(!lost.actions.includes('promote'));
});

test('no race while a peer runs as primary, is further ahead, or ties with a higher priority', () => {
  const noLeader = { ok: true as const, view: view({ leader: null }) };
  assert.equal(run(obs({ dcs: noLeader, peers: [peer('n1', { role: 'primary' })] })).why.kind, 'notHealthiest');
  assert.equal(run(obs({ dcs: noLeader, peers: [peer('n3', { walPositionBytes: 2000 })] })).why.kind, 'notHealthiest');
  assert.equal(run(obs({ dcs: noLeader, peers: [peer('n3', { failoverPriority: 5 })] })).why.kind, 'notHealthiest');
  // ... but an unreachable or nofailover peer does not block
  assert.equal(run(obs({ dcs: noLeader, peers: [peer('n3', { walPositionBytes: 2000, nofailover: true }), peer('n1', { reachable: false, role: 'primary' })] }), [true]).why.kind, 'promotedByAcquiring');
});

test('a replica beyond maximum_lag_on_failover, nofailover, or behind the cluster timeline does not race', () => {
  const lagging = view({ leader: null, status: { optime: 10 << 20, slots: {} } });
  const r = run(obs({ dcs: { ok: true, view: lagging }, peers: [] }));
  assert.equal(r.why.kind, 'notHealthiest');
  assert.ok(!r.actions.includes('acquireLeaderKey'));
  const nofailover = run(obs({ dcs: { ok: true, view: view({ leader: null }) }, peers: [], self: { tags: { ...obs().self.tags, nofailover: true } } }));
  assert.equal(nofailover.why.kind, 'nofailoverFollow');
  const tl = view({ leader: null, history: { value: [{ timeline: 1, lsn: 500, reason: 'x' }], modRevision: 1 } });
  assert.equal(run(obs({ config: { ...obs().config, checkTimeline: true }, dcs: { ok: true, view: tl }, peers: [] })).why.kind, 'notHealthiest');
});

test('primary without the key while another node leads: fence, demote', () => {
  const r = run(obs({ postgres: { role: 'primary' } }));
  assert.equal(r.why.kind, 'demotingNoLock');
  assert.deepEqual(r.actions, ['fence', 'demote', 'touchMember']);
});

test('bootstrap: empty data dir and no initialize key -> claim, run bootstrap; lost claim -> wait', () => {
  const empty = obs({ dcs: { ok: true, view: view({ initialize: null, leader: null, members: [] }) }, postgres: { dataDir: 'empty', systemIdentifier: null, running: false, role: null } });
  const won = run(empty, [true]);
  assert.equal(won.why.kind, 'bootstrapStarting');
  assert.deepEqual(won.actions, ['refreshLease', 'claimInitialize', 'runBootstrap', 'touchMember']);
  assert.equal(run(empty, [false]).why.kind, 'initializeLockLost');
  const waiting = obs({ dcs: { ok: true, view: view({ initialize: '', leader: null }) }, postgres: { dataDir: 'empty', running: false } });
  assert.equal(run(waiting).why.kind, 'waitingForLeaderToBootstrap');
});

test('bootstrap finished: publish initialize, config and take the leader key', () => {
  const o = leaderObs({ dcs: { ok: true, view: view({ initialize: '', leader: null }) }, asyncTask: { running: null, lastResult: { kind: 'bootstrap', ok: true, message: 'ok', finishedMs: 99000 } } });
  const r = run(o, [true]);
  assert.equal(r.why.kind, 'initializedNewCluster');
  assert.deepEqual(r.actions, ['refreshLease', 'writeInitialize', 'writeBootstrapConfig', 'acquireLeaderKey', 'touchMember']);
});

test('empty data dir with a leader: clone from a running clonefrom member, else the leader', () => {
  const o = obs({ postgres: { dataDir: 'empty', running: false, role: null } });
  assert.deepEqual(run(o).steps.find((a) => a.kind === 'cloneFrom'), { kind: 'cloneFrom', member: 'n1', follow: 'n1' });
  const withClonefrom = obs({ dcs: { ok: true, view: view({ members: [member('n1', { role: 'primary' }), member('n3', { tags: { clonefrom: true } })] }) }, postgres: { dataDir: 'empty', running: false, role: null } });
  assert.equal(run(withClonefrom).why.kind, 'cloning');
  assert.deepEqual(run(withClonefrom).steps.find((a) => a.kind === 'cloneFrom'), { kind: 'cloneFrom', member: 'n3', follow: 'n1' });
});

test('a data directory from another cluster refuses to join', () => {
  const r = run(obs({ postgres: { systemIdentifier: '7399999999999999999' } }));
  assert.equal(r.why.kind, 'systemIdMismatch');
  assert.deepEqual(r.actions, ['exit']);
});

test('PostgreSQL crashed on the leader: restart in place keeping the key, fail over after primary_start_timeout', () => {
  const crashed = { running: false, role: null, crashedSinceMs: 90000 } as const;
  const r = run(leaderObs({ postgres: crashed }), [true]);
  assert.equal(r.why.kind, 'crashRestartInPlace');
  assert.deepEqual(r.actions, ['updateLeaderKey', 'restartCrashed', 'touchMember']);
  const zero = run(leaderObs({ postgres: crashed, config: { ...obs().config, primaryStartTimeoutMs: 0 } }), [true]);
  assert.equal(zero.why.kind, 'crashFailover');
  assert.ok(zero.actions.includes('releaseLeaderKey'));
});

test('rejoin: a diverged former primary rewinds, or re-clones when allowed, and never starts as primary', () => {
  const stopped = { running: false, role: null, divergedFromLeader: true, controlState: 'in production' } as const;
  const r = run(obs({ postgres: stopped }));
  assert.equal(r.why.kind, 'rewinding');
  assert.deepEqual(r.steps.find((a) => a.kind === 'rewind'), { kind: 'rewind', from: 'n1', follow: 'n1' });
  const noRewind = run(obs({ postgres: { ...stopped, rewindCapable: false }, self: { removeDataDirectoryOnDivergedTimelines: true } }));
  assert.equal(noRewind.why.kind, 'reinitializing');
  const failed = run(obs({ postgres: stopped, self: { removeDataDirectoryOnRewindFailure: true }, asyncTask: { running: null, lastResult: { kind: 'rewind', ok: false, message: 'x', finishedMs: 1 } } }));
  assert.deepEqual(failed.steps.find((a) => a.kind === 'reclone'), { kind: 'reclone', from: 'n1', follow: 'n1' });
  assert.equal(run(obs({ postgres: { ...stopped, rewindCapable: false } })).why.kind, 'rewindImpossible');
  const clean = run(obs({ postgres: { running: false, role: null } }));
  assert.deepEqual(clean.steps.find((a) => a.kind === 'startAsReplica'), { kind: 'startAsReplica', follow: 'n1' });
});

test('task in progress: the leader keeps its key, others just say so', () => {
  const task = { running: { kind: 'clone' as const, startedMs: 1 }, lastResult: null };
  assert.equal(run(obs({ asyncTask: task })).why.kind, 'taskInProgress');
  assert.equal(renderWhy(run(obs({ asyncTask: task })).why), 'clone in progress');
  const leader = run(leaderObs({ asyncTask: { running: { kind: 'promote', startedMs: 1 }, lastResult: null } }), [false]);
  assert.equal(leader.why.kind, 'lostLockDuringTask');
  assert.ok(leader.actions.includes('fence'));
});

test('pause: no automatic failover, no lease guard', () => {
  const r = run(obs({ paused: true, dcs: { ok: true, view: view({ leader: null }) }, peers: [] }));
  assert.equal(r.why.kind, 'pausedNoAction');
  assert.equal(r.d.leaseGuard, null);
  assert.ok(!r.actions.includes('acquireLeaderKey'));
});

test('watchdog required but unusable: the replica does not race', () => {
  const r = run(obs({ self: { watchdogMode: 'required' }, dcs: { ok: true, view: view({ leader: null }) }, peers: [] }));
  assert.equal(r.why.kind, 'notHealthiest');
  const armed = run(obs({ self: { watchdogMode: 'automatic' }, watchdog: { available: true, armed: false }, dcs: { ok: true, view: view({ leader: null }) }, peers: [] }), [true]);
  assert.deepEqual(armed.actions, ['refreshLease', 'acquireLeaderKey', 'watchdog', 'promote', 'touchMember']);
});

test('decide is deterministic: the same observation gives the same decision', () => {
  assert.deepEqual(decide(leaderObs()), decide(leaderObs()));
});
