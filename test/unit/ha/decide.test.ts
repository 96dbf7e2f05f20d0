/** decide(): one test per main branch, asserting the actions taken (for given gate outcomes) and why.kind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, resolvePlan } from '../../../src/ha/core/decide.js';
import { renderWhy } from '../../../src/ha/core/why.js';
import { at, leaderObs, member, obs, peer, view } from './fixtures.js';

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
  assert.deepEqual(
    run(obs({ postgres: { followTarget: 'n3' } })).steps.find((a) => a.kind === 'followLeader'),
    { kind: 'followLeader', member: at('n1') },
  );
  const cascading = run(obs({ self: { tags: { ...obs().self.tags, replicatefrom: 'n3' } } }));
  assert.deepEqual(
    cascading.steps.find((a) => a.kind === 'followLeader'),
    { kind: 'followLeader', member: at('n3') },
  );
});

test('leader keeps the key: updateLeaderKey gate, then (idempotent) unfence, status and slots; lease guard armed', () => {
  const r = run(leaderObs({ postgres: { walPositionBytes: 5000 } }), [true]);
  assert.equal(r.why.kind, 'leaderNoAction');
  assert.deepEqual(r.actions, ['updateLeaderKey', 'unfence', 'writeStatus', 'syncSlots', 'touchMember']);
  assert.deepEqual(
    r.steps.find((a) => a.kind === 'syncSlots'),
    { kind: 'syncSlots', slots: ['n2', 'n3'] },
    'a slot for every other member',
  );
  assert.deepEqual(r.d.leaseGuard, { fenceAfterSentMs: 20000, stopAfterSentMs: 25000 });
});

test('leader that fails to update the key fences first, then demotes', () => {
  const r = run(leaderObs(), [false]);
  assert.equal(r.why.kind, 'leaderUpdateFailedDemoted');
  assert.deepEqual(r.actions, ['updateLeaderKey', 'fence', 'demote', 'touchMember']);
  assert.deepEqual(r.steps[2], { kind: 'demote' });
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
  assert.deepEqual(late.steps.slice(0, 2), [{ kind: 'fence' }, { kind: 'demote' }]);
});

test('failsafe_mode: the leader asks every member; all confirmed, it keeps acknowledging (lifting a fence); else it demotes', () => {
  const failsafe = { config: { ...obs().config, failsafeMode: true }, dcs: { ok: false as const, sinceMs: 80000 } };
  const confirmed = run(leaderObs({ ...failsafe, postgres: { fenced: true } }), [true]);
  assert.equal(confirmed.why.kind, 'failsafeContinue');
  assert.deepEqual(confirmed.actions, ['confirmFailsafe', 'unfence']);
  assert.notEqual(confirmed.d.leaseGuard, null, 'the guard stays armed: it counts from the confirmation');
  const refused = run(leaderObs(failsafe), [false]);
  assert.equal(refused.why.kind, 'dcsUnreachableDemoted');
  assert.deepEqual(refused.actions, ['confirmFailsafe', 'fence', 'demote']);
});

test('failsafe_mode: a leader whose key update fails asks the members before demoting (Patroni: update_lock raising DCSError)', () => {
  const failsafe = { config: { ...obs().config, failsafeMode: true } };
  const vouched = run(leaderObs(failsafe), [false, true]);
  assert.equal(vouched.why.kind, 'failsafeContinue');
  assert.deepEqual(vouched.actions, ['updateLeaderKey', 'confirmFailsafe', 'unfence']);
  const refused = run(leaderObs(failsafe), [false, false]);
  assert.equal(refused.why.kind, 'leaderUpdateFailedDemoted');
  assert.deepEqual(refused.actions.slice(0, 3), ['updateLeaderKey', 'confirmFailsafe', 'fence']);
  assert.ok(refused.actions.includes('demote'));
  const off = run(leaderObs(), [false]);
  assert.ok(!off.actions.includes('confirmFailsafe'), 'without failsafe_mode the leader demotes at once');
});

test('failsafe_mode: the leader writes itself into the failsafe topology even while its member key is missing', () => {
  const failsafe = { config: { ...obs().config, failsafeMode: true } };
  const written = (o: Parameters<typeof decide>[0]) => run(o, [true]).steps.find((a) => a.kind === 'writeFailsafe');
  // its member key expired during an outage it led through in failsafe mode
  const keyless = written(leaderObs({ ...failsafe, dcs: { ok: true, view: view({ members: [member('n2'), member('n3')] }) } }));
  assert.deepEqual(keyless, {
    kind: 'writeFailsafe',
    members: { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni', n3: 'http://n3:8008/patroni' },
  });
  const topology = { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni', n3: 'http://n3:8008/patroni' };
  assert.equal(written(leaderObs({ ...failsafe, dcs: { ok: true, view: view({ failsafe: topology }) } })), undefined, 'an unchanged topology is not rewritten');
});

test('failsafe_mode: the lease guard counts from the later of the keepalive and the failsafe confirmation', () => {
  const failsafe = { config: { ...obs().config, failsafeMode: true } };
  // Keepalive 25 s ago is past the fence point (ttl 30 - retry 10 = 20 s) ...
  const past = run(leaderObs({ ...failsafe, lease: { lastConfirmedSentMs: 75000 } }), [true]);
  assert.equal(past.actions[0], 'fence');
  // ... but a failsafe round all members accepted 5 s ago keeps it within its authority.
  const within = run(leaderObs({ ...failsafe, lease: { lastConfirmedSentMs: 75000, failsafeConfirmedSentMs: 95000 } }), [true]);
  assert.notEqual(within.actions[0], 'fence');
});

test('failsafe_mode: a replica that heard the leader through POST /failsafe follows it instead of racing', () => {
  const failsafe = {
    config: { ...obs().config, failsafeMode: true },
    dcs: { ok: true as const, view: view({ leader: null }) },
    peers: [peer('n3', { walPositionBytes: 900 })],
  };
  const heard = run(obs({ ...failsafe, failsafeLeader: { name: 'n1', connUrl: 'postgres://n1:5432/postgres', heardAtMs: 95000 } }), [true]);
  assert.equal(heard.why.kind, 'failsafeFollowing');
  assert.ok(!heard.actions.includes('acquireLeaderKey'));
  const stale = run(obs({ ...failsafe, failsafeLeader: { name: 'n1', connUrl: 'postgres://n1:5432/postgres', heardAtMs: 60000 } }), [true]);
  assert.equal(stale.why.kind, 'promotedByAcquiring', 'heard more than ttl ago: the leader is gone');
  const outsider = run(obs({ ...failsafe, dcs: { ok: true, view: view({ leader: null, failsafe: { n1: 'x', n3: 'y' } }) } }), [true]);
  assert.equal(outsider.why.kind, 'notHealthiest', 'a member absent from the failsafe topology never wins');
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
  assert.equal(
    run(obs({ dcs: noLeader, peers: [peer('n3', { walPositionBytes: 2000, nofailover: true }), peer('n1', { reachable: false, role: 'primary' })] }), [true])
      .why.kind,
    'promotedByAcquiring',
  );
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
  const empty = obs({
    dcs: { ok: true, view: view({ initialize: null, leader: null, members: [] }) },
    postgres: { dataDir: 'empty', systemIdentifier: null, running: false, role: null },
  });
  const won = run(empty, [true]);
  assert.equal(won.why.kind, 'bootstrapStarting');
  assert.deepEqual(won.actions, ['refreshLease', 'claimInitialize', 'runBootstrap', 'touchMember']);
  assert.equal(run(empty, [false]).why.kind, 'initializeLockLost');
  const waiting = obs({ dcs: { ok: true, view: view({ initialize: '', leader: null }) }, postgres: { dataDir: 'empty', running: false } });
  assert.equal(run(waiting).why.kind, 'waitingForLeaderToBootstrap');
});

test('bootstrap finished: publish initialize, config and take the leader key', () => {
  const o = leaderObs({
    dcs: { ok: true, view: view({ initialize: '', leader: null }) },
    asyncTask: { running: null, lastResult: { kind: 'bootstrap', ok: true, message: 'ok' }, lastRewind: null },
  });
  const r = run(o, [true]);
  assert.equal(r.why.kind, 'initializedNewCluster');
  assert.deepEqual(r.actions, ['refreshLease', 'writeInitialize', 'writeBootstrapConfig', 'acquireLeaderKey', 'touchMember']);
});

test('empty data dir with a leader: clone from a running clonefrom member, else the leader', () => {
  const o = obs({ postgres: { dataDir: 'empty', running: false, role: null } });
  assert.deepEqual(
    run(o).steps.find((a) => a.kind === 'cloneFrom'),
    { kind: 'cloneFrom', source: at('n1'), follow: at('n1') },
  );
  const withClonefrom = obs({
    dcs: { ok: true, view: view({ members: [member('n1', { role: 'primary' }), member('n3', { tags: { clonefrom: true } })] }) },
    postgres: { dataDir: 'empty', running: false, role: null },
  });
  assert.equal(run(withClonefrom).why.kind, 'cloning');
  assert.deepEqual(
    run(withClonefrom).steps.find((a) => a.kind === 'cloneFrom'),
    { kind: 'cloneFrom', source: at('n3'), follow: at('n1') },
  );
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
  const diverged = { verdict: 'diverged', leaderCheckpointed: true } as const;
  const stopped = { running: false, role: null, divergence: diverged, controlState: 'in production' } as const;
  const r = run(obs({ postgres: stopped }));
  assert.equal(r.why.kind, 'rewinding');
  assert.deepEqual(
    r.steps.find((a) => a.kind === 'rewind'),
    { kind: 'rewind', from: at('n1'), follow: at('n1') },
  );
  const noRewind = run(obs({ postgres: { ...stopped, rewindCapable: false }, self: { removeDataDirectoryOnDivergedTimelines: true } }));
  assert.equal(noRewind.why.kind, 'reinitializing');
  const failed = run(
    obs({
      postgres: stopped,
      self: { removeDataDirectoryOnRewindFailure: true },
      asyncTask: { running: null, lastResult: { kind: 'rewind', ok: false, message: 'x' }, lastRewind: { kind: 'rewind', ok: false, message: 'x' } },
    }),
  );
  assert.deepEqual(
    failed.steps.find((a) => a.kind === 'reclone'),
    { kind: 'reclone', from: at('n1'), follow: at('n1') },
  );
  assert.equal(run(obs({ postgres: { ...stopped, rewindCapable: false } })).why.kind, 'rewindImpossible');
  const clean = run(obs({ postgres: { running: false, role: null } }));
  assert.deepEqual(
    clean.steps.find((a) => a.kind === 'startAsReplica'),
    { kind: 'startAsReplica', follow: at('n1') },
  );
});

test('rejoin waits for the leader to checkpoint after its promotion (else pg_rewind finds "no rewind required")', () => {
  const r = run(obs({ postgres: { running: false, role: null, divergence: { verdict: 'diverged', leaderCheckpointed: false } } }));
  assert.equal(r.why.kind, 'waitingForLeaderCheckpoint');
  assert.deepEqual(r.actions, ['refreshLease', 'touchMember']);
});

test('a diverged node that may not rewind or re-clone stops and STAYS down (issue 6: it restarted 162 times)', () => {
  const diverged = { verdict: 'diverged', leaderCheckpointed: true } as const;
  const running = run(obs({ postgres: { divergence: diverged, streaming: false, rewindCapable: false } }));
  assert.equal(running.why.kind, 'rewindImpossible');
  assert.deepEqual(running.actions, ['refreshLease', 'stopPostgres', 'touchMember'], 'a plain stop, never a demote that starts it again');
  const stopped = run(obs({ postgres: { running: false, role: null, divergence: diverged, rewindCapable: false } }));
  assert.deepEqual(stopped.actions, ['refreshLease', 'touchMember'], 'stopped: not started again');
  const failed = run(
    obs({
      postgres: { running: false, role: null, divergence: diverged },
      asyncTask: {
        running: null,
        lastResult: { kind: 'rewind', ok: false, message: 'could not find previous WAL record' },
        lastRewind: { kind: 'rewind', ok: false, message: 'could not find previous WAL record' },
      },
    }),
  );
  assert.equal(failed.why.kind, 'rewindFailedStayDown', 'a failed rewind is reported as what it is');
  assert.match(renderWhy(failed.why), /pg_rewind from n1 failed \(could not find previous WAL record\)/);
  const retry = run(
    obs({
      postgres: { running: false, role: null, divergence: diverged },
      asyncTask: {
        running: null,
        lastResult: { kind: 'rewind', ok: false, message: 'unreachable', retryable: true },
        lastRewind: { kind: 'rewind', ok: false, message: 'unreachable', retryable: true },
      },
    }),
  );
  assert.equal(retry.why.kind, 'rewinding', 'a retryable failure (source unreachable) is simply tried again');
});

test('rewind capability comes from the data directory: checksums without wal_log_hints rewinds (the seed)', () => {
  const r = run(obs({ postgres: { divergence: { verdict: 'diverged', leaderCheckpointed: true }, streaming: false, rewindCapable: true } }));
  assert.equal(r.why.kind, 'rewinding');
});

test('an inconclusive divergence check is reported, then past its bound treated as diverged when rewinding is allowed', () => {
  const unknown = (sinceMs: number) => ({ verdict: 'unknown', cause: 'permission denied', sinceMs }) as const;
  const fresh = run(obs({ postgres: { divergence: unknown(99000), streaming: false } }));
  assert.equal(fresh.why.kind, 'divergenceUnknown');
  assert.match(renderWhy(fresh.why), /cannot tell whether my WAL diverged from the leader \(n1\): permission denied/);
  const overdue = run(obs({ postgres: { divergence: unknown(60000), streaming: false } }));
  assert.equal(overdue.why.kind, 'rewinding');
  const notAllowed = run(obs({ postgres: { divergence: unknown(60000), streaming: false, rewindCapable: false } }));
  assert.equal(notAllowed.why.kind, 'divergenceUnknown', 'nothing it could do: it keeps reporting instead of stopping');
  const afterRewind = run(
    obs({
      postgres: { divergence: unknown(60000), streaming: false },
      asyncTask: { running: null, lastResult: { kind: 'rewind', ok: true, message: 'ok' }, lastRewind: { kind: 'rewind', ok: true, message: 'ok' } },
    }),
  );
  assert.equal(afterRewind.why.kind, 'divergenceUnknown', 'no second rewind on an inconclusive check right after one');
  // The leader cannot be reached at all: a running replica does not start a rewind that cannot run
  // (its task would keep it out of the race when the key expires); a stopped node still acts.
  const unreachable = { verdict: 'unknown', cause: 'connection refused', sinceMs: 60000, leaderUnreachable: true } as const;
  const running = run(obs({ postgres: { divergence: unreachable, streaming: false } }));
  assert.equal(running.why.kind, 'divergenceUnknown');
  assert.ok(!running.actions.includes('rewind'));
  const stopped = run(obs({ postgres: { divergence: unreachable, streaming: false, running: false, role: null } }));
  assert.equal(stopped.why.kind, 'rewinding', 'a stopped node never starts without the check: it tries the rewind (which says why it cannot)');
});

test('a replica whose WAL receiver does not stream says so, with the server error, instead of "following"', () => {
  const recent = run(obs({ postgres: { streaming: false, notStreamingSinceMs: 95000, divergence: { verdict: 'safe' } } }));
  assert.equal(recent.why.kind, 'followingNoAction', 'a few seconds without streaming is not reported yet');
  const error = 'password authentication failed for user "replicator"';
  const long = run(obs({ postgres: { streaming: false, notStreamingSinceMs: 40000, receiverError: error, divergence: { verdict: 'safe' } } }));
  assert.equal(long.why.kind, 'notStreaming');
  assert.equal(renderWhy(long.why), `I am (n2), a secondary, configured to follow (n1) but not streaming for 60 s: ${error}`);
});

test('task in progress: the leader keeps its key, others just say so', () => {
  const task = { running: { kind: 'clone' as const }, lastResult: null, lastRewind: null };
  assert.equal(run(obs({ asyncTask: task })).why.kind, 'taskInProgress');
  assert.equal(renderWhy(run(obs({ asyncTask: task })).why), 'clone in progress');
  const leader = run(leaderObs({ asyncTask: { running: { kind: 'promote' }, lastResult: null, lastRewind: null } }), [false]);
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
  const armed = run(
    obs({ self: { watchdogMode: 'automatic' }, watchdog: { available: true, armed: false }, dcs: { ok: true, view: view({ leader: null }) }, peers: [] }),
    [true],
  );
  assert.deepEqual(armed.actions, ['refreshLease', 'acquireLeaderKey', 'watchdog', 'promote', 'touchMember']);
});

test('watchdog required and no longer usable on a running primary: it fences, demotes and lets the key go (Patroni)', () => {
  const r = run(leaderObs({ self: { watchdogMode: 'required' }, watchdog: { available: false, armed: false } }), [true]);
  assert.equal(renderWhy(r.why), 'Demoting self because watchdog could not be activated');
  assert.deepEqual(r.actions.slice(-4), ['fence', 'demote', 'releaseLeaderKey', 'touchMember']);
  // still armed (a keepalive failing now and then): it stays primary; automatic mode: it stays without one
  const armed = run(leaderObs({ self: { watchdogMode: 'required' }, watchdog: { available: false, armed: true } }), [true]);
  assert.ok(!armed.actions.includes('demote'), armed.actions.join(' '));
  const automatic = run(leaderObs({ self: { watchdogMode: 'automatic' }, watchdog: { available: false, armed: false } }), [true]);
  assert.ok(!automatic.actions.includes('demote'), automatic.actions.join(' '));
});

test('decide is deterministic: the same observation gives the same decision', () => {
  assert.deepEqual(decide(leaderObs()), decide(leaderObs()));
});

test('a promotion still running keeps the lease guard armed though the view does not show our key yet', () => {
  // The cycle right after the take may read a view older than our own write (the watch-fed copy
  // lags): a null guard would stand keel-fence down while the server becomes a primary.
  const r = run(obs({ asyncTask: { running: { kind: 'promote' }, lastResult: null, lastRewind: null } }));
  assert.equal(r.why.kind, 'taskInProgress');
  assert.deepEqual(r.actions, ['refreshLease', 'touchMember']);
  assert.deepEqual(r.d.leaseGuard, { fenceAfterSentMs: 20000, stopAfterSentMs: 25000 });
  const clone = run(obs({ asyncTask: { running: { kind: 'clone' }, lastResult: null, lastRewind: null } }));
  assert.equal(clone.d.leaseGuard, null, 'a replica busy with anything else needs no guard');
});
