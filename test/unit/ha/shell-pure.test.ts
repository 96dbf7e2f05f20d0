/**
 * The pure helpers of the agent shell: the divergence rule (rewind needed or not), timeline
 * history parsing, peer status interpretation, and the tags a member publishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { divergedFrom, parseTimelineHistory, historyFileName, timelineCreators } from '../../../src/ha/core/timeline.js';
import { peerFromStatusJson } from '../../../src/ha/peers.js';
import { effectiveTags } from '../../../src/ha/member-data.js';
import type { Member } from '../../../src/dcs/types.js';

const HISTORY = '1\t0/5000098\tno recovery target specified\n\n2\t0/7000000\tno recovery target specified\n';

test('a timeline history file is parsed into switch points', () => {
  assert.deepEqual(parseTimelineHistory(HISTORY), [
    { timeline: 1, switchLsn: 0x5000098 },
    { timeline: 2, switchLsn: 0x7000000 },
  ]);
  assert.equal(historyFileName(3), '00000003.history');
  assert.equal(historyFileName(26), '0000001A.history');
});

test('divergence: same timeline follows, WAL past the fork point must rewind, before it may follow', () => {
  const history = parseTimelineHistory(HISTORY);
  assert.equal(divergedFrom({ timeline: 3, endLsn: 0x9000000, endUncertain: false, history: [], origin: null }, 3, history), false);
  assert.equal(
    divergedFrom({ timeline: 1, endLsn: 0x5000098, endUncertain: false, history: [], origin: null }, 3, history),
    false,
    'exactly at the switch point',
  );
  assert.equal(divergedFrom({ timeline: 1, endLsn: 0x5000099, endUncertain: false, history: [], origin: null }, 3, history), true, 'one byte past it');
  assert.equal(divergedFrom({ timeline: 2, endLsn: 0x6000000, endUncertain: false, history: [], origin: null }, 3, history), false);
  assert.equal(divergedFrom({ timeline: 4, endLsn: 0, endUncertain: false, history: [], origin: null }, 3, history), true, 'ahead of the leader');
  assert.equal(divergedFrom({ timeline: 5, endLsn: 0, endUncertain: false, history: [], origin: null }, 6, history), true, 'not an ancestor');
  assert.equal(
    divergedFrom({ timeline: 1, endLsn: 0x1000000, endUncertain: true, history: [], origin: null }, 3, history),
    true,
    'a crashed primary is assumed diverged',
  );
  // Two promotions to the same timeline number from different points: told apart by history.
  const theirs = [{ timeline: 1, switchLsn: 0x5000098 }];
  assert.equal(
    divergedFrom({ timeline: 2, endLsn: 0x6000000, endUncertain: false, history: [{ timeline: 1, switchLsn: 0x5000000 }], origin: null }, 2, theirs),
    true,
    'same number, another branch',
  );
  assert.equal(
    divergedFrom({ timeline: 2, endLsn: 0x6000000, endUncertain: false, history: theirs, origin: null }, 2, theirs),
    false,
    'same number, same branch',
  );
  // ... even at the same switch point: the marker says who promoted, the history key who the cluster kept.
  const creators = timelineCreators([{ timeline: 1, newLeader: 'node3' }]);
  assert.equal(
    divergedFrom({ timeline: 2, endLsn: 0x6000000, endUncertain: false, history: theirs, origin: 'node1' }, 2, theirs, creators),
    true,
    "promoted by node1, the cluster kept node3's",
  );
  assert.equal(divergedFrom({ timeline: 2, endLsn: 0x6000000, endUncertain: false, history: theirs, origin: 'node3' }, 2, theirs, creators), false);
});

const member: Member = {
  name: 'node2',
  modRevision: 1,
  leaseId: '1',
  connUrl: 'postgres://h:5432/postgres',
  apiUrl: 'http://h:8008/patroni',
  state: 'running',
  role: 'replica',
  xlogLocation: 100,
  receiveLsn: null,
  replayLsn: null,
  replicationState: null,
  timeline: 1,
  tags: {},
  data: {},
};

test("a peer's GET /patroni answer becomes the race input", () => {
  const replica = peerFromStatusJson(member, {
    state: 'running',
    role: 'replica',
    timeline: 2,
    xlog: { received_location: 500, replayed_location: 400 },
    tags: { failover_priority: 3 },
  });
  assert.deepEqual(replica, {
    name: 'node2',
    reachable: true,
    running: true,
    role: 'replica',
    walPositionBytes: 500,
    timeline: 2,
    nofailover: false,
    failoverPriority: 3,
    watchdogFailed: false,
    streaming: null,
  });
  // Patroni >= 3.1 and keel say whether a replica streams; 3.0.2 does not (null: unknown).
  assert.equal(peerFromStatusJson(member, { state: 'running', role: 'replica', replication_state: 'streaming' }).streaming, true);
  assert.equal(peerFromStatusJson(member, { state: 'running', role: 'replica', replication_state: 'in archive recovery' }).streaming, false);
  assert.equal(peerFromStatusJson(member, { state: 'running', role: 'replica', keel: { replication_state: 'streaming' } }).streaming, true);
  const primary = peerFromStatusJson(member, { state: 'running', role: 'master', timeline: 2, xlog: { location: 900 }, tags: { nofailover: true } });
  assert.equal(primary.role, 'primary');
  assert.equal(primary.walPositionBytes, 900);
  assert.equal(primary.nofailover, true);
  const stopped = peerFromStatusJson(member, { state: 'stopped', role: 'replica', watchdog_failed: true });
  assert.equal(stopped.running, false);
  assert.equal(stopped.walPositionBytes, null);
  assert.equal(stopped.watchdogFailed, true);
});

test('published tags drop the boolean tags that are false, as Patroni does', () => {
  assert.deepEqual(effectiveTags({ nofailover: false, noloadbalance: true, clonefrom: false, nosync: false, zone: 'a', failover_priority: 1 }), {
    noloadbalance: true,
    zone: 'a',
    failover_priority: 1,
  });
});

test('the fence is recognised whether SHOW prints it quoted or not, and nothing else is', async () => {
  const { isFenceSetting, FENCE_STANDBY_NAME } = await import('../../../src/ha/postgres-tracker.js');
  assert.equal(isFenceSetting(FENCE_STANDBY_NAME), true);
  assert.equal(isFenceSetting(FENCE_STANDBY_NAME.slice(1, -1)), true);
  assert.equal(isFenceSetting(''), false);
  assert.equal(isFenceSetting('node2'), false);
});

test("a rewind's outcome counts until a clone, re-clone, bootstrap or promotion after it", async () => {
  const { rewindThatCounts } = await import('../../../src/ha/observe.js');
  const done = (ok: boolean, sequence: number) => ({ ok, sequence });
  const failedRewind = done(false, 5);
  assert.equal(rewindThatCounts({}), null);
  assert.equal(rewindThatCounts({ rewind: failedRewind }), failedRewind);
  assert.equal(rewindThatCounts({ rewind: failedRewind, promote: done(true, 4) }), failedRewind, 'a promotion before the rewind');
  assert.equal(rewindThatCounts({ rewind: failedRewind, promote: done(false, 6) }), failedRewind, 'a promotion that failed');
  assert.equal(rewindThatCounts({ rewind: failedRewind, start: done(true, 6), stop: done(true, 7) }), failedRewind, 'a restart does not make it stale');
  for (const kind of ['promote', 'clone', 'reinit', 'bootstrap'] as const)
    assert.equal(rewindThatCounts({ rewind: failedRewind, [kind]: done(true, 6) }), null, `a ${kind} after it`);
});
