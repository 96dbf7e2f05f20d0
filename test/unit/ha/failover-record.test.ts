/** Failover records (core/failover-record.ts) and their rendering (cli/failover-records-render.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAILOVER_RECORDS_KEPT,
  appendRecord,
  awaitingRejoin,
  completeRecord,
  consideredMembers,
  failoverKind,
  parseRecords,
  withRejoin,
  type FailoverDraft,
  type FailoverRecord,
} from '../../../src/ha/core/failover-record.js';
import { makeCtx } from '../../../src/ha/core/rules/context.js';
import { renderFailoverRecords } from '../../../src/cli/failover-records-render.js';
import { member, obs, peer, tags, view } from './fixtures.js';

const draft: FailoverDraft = {
  kind: 'failover',
  newLeader: 'n2',
  oldLeader: 'n1',
  oldLeaderLastSeenAt: '2026-12-01T00:00:00.000Z',
  leaderKeyGoneSeenAt: '2026-12-01T00:00:10.000Z',
  keyTakenAt: '2026-12-01T00:00:10.100Z',
  oldLeaderLastLsn: 5000,
  considered: [],
};

test('the kind follows the failover key: none, a candidate only, a leader named', () => {
  assert.equal(failoverKind(null), 'failover');
  assert.equal(failoverKind({ candidate: 'n2' }), 'manual failover');
  assert.equal(failoverKind({ leader: 'n1', candidate: 'n2' }), 'switchover');
});

test('every member weighed, the winner first, each with the reason it lost', () => {
  const o = obs({
    postgres: { walPositionBytes: 1000 },
    peers: [
      peer('n1', { reachable: false }),
      peer('n3', { walPositionBytes: 900 }),
      peer('n4', { nofailover: true }),
      peer('n5', { walPositionBytes: 1000, failoverPriority: 0 }),
      peer('n6', { walPositionBytes: 1000 }),
    ],
  });
  const ctx = makeCtx(o, view({ members: ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((n) => member(n)) }));
  const considered = consideredMembers(ctx);
  assert.deepEqual(
    considered.map((m) => [m.name, m.chosen]),
    [
      ['n2', true],
      ['n1', false],
      ['n3', false],
      ['n4', false],
      ['n5', false],
      ['n6', false],
    ],
  );
  const why = Object.fromEntries(considered.map((m) => [m.name, m.reason]));
  assert.match(why['n1'] ?? '', /did not answer/);
  assert.equal(why['n3'], '100 bytes of WAL behind');
  assert.equal(why['n4'], 'tagged nofailover');
  assert.equal(why['n5'], 'failover_priority 0');
  assert.match(why['n6'] ?? '', /as advanced: the first to take the leader key wins/);
  const priority = consideredMembers(makeCtx(obs({ self: { tags: tags({ failoverPriority: 5 }) }, peers: [peer('n3', { walPositionBytes: 1000 })] }), view()));
  assert.equal(priority[1]?.reason, 'as advanced, lower failover_priority');
});

test('bytes possibly lost: what the old leader wrote past the new timeline start; a switchover loses none', () => {
  const done = { promotedAt: '2026-12-01T00:00:10.300Z', acceptingWritesAt: '2026-12-01T00:00:10.300Z', timeline: 2, timelineStartLsn: 4200 };
  assert.equal(completeRecord(draft, done).bytesPossiblyLost, 800);
  assert.equal(completeRecord(draft, { ...done, timelineStartLsn: 6000 }).bytesPossiblyLost, 0);
  assert.equal(completeRecord(draft, { ...done, timelineStartLsn: null }).bytesPossiblyLost, null);
  assert.equal(completeRecord({ ...draft, kind: 'switchover' }, done).bytesPossiblyLost, 0);
  assert.equal(completeRecord(draft, done).rejoin, null);
});

test('records are bounded; the rejoin goes to the newest record naming us the old leader, unless we led since', () => {
  const record = (n: number, from: string, to: string): FailoverRecord =>
    completeRecord(
      { ...draft, oldLeader: from, newLeader: to, keyTakenAt: `t${n}` },
      { promotedAt: null, acceptingWritesAt: null, timeline: n, timelineStartLsn: 0 },
    );
  let records: FailoverRecord[] = [];
  for (let i = 0; i < FAILOVER_RECORDS_KEPT + 5; i++) records = appendRecord(records, record(i, 'n1', 'n2'));
  assert.equal(records.length, FAILOVER_RECORDS_KEPT);
  assert.equal(records[0]?.timeline, 5, 'the oldest were dropped');
  const history = [record(1, 'n1', 'n2'), record(2, 'n2', 'n3')];
  assert.equal(awaitingRejoin(history, 'n2'), 1);
  assert.equal(awaitingRejoin(history, 'n1'), 0, 'n1 has not rejoined since it lost the lead');
  assert.equal(
    awaitingRejoin([record(1, 'n1', 'n2'), record(2, 'n3', 'n1'), record(3, 'n2', 'n3')], 'n1'),
    -1,
    'n1 led again since: the old record is history',
  );
  assert.equal(awaitingRejoin(history, 'n9'), -1);
  const rejoined = withRejoin(history, 1, { method: 'rewind', at: 'x', afterPromotionMs: 1200 });
  assert.equal(awaitingRejoin(rejoined, 'n2'), -1, 'said once');
  assert.equal(rejoined[0]?.rejoin, null);
});

test('stored text read tolerantly; rendered as blocks with a table of who was weighed, or as JSON', () => {
  assert.deepEqual(parseRecords(null), []);
  assert.deepEqual(parseRecords('not json'), []);
  assert.deepEqual(parseRecords('{"a":1}'), []);
  const record = completeRecord(
    {
      ...draft,
      considered: [
        { name: 'n2', chosen: true, reason: 'took the leader key', walPositionBytes: 4200, timeline: 1, failoverPriority: null },
        { name: 'n3', chosen: false, reason: '100 bytes of WAL behind', walPositionBytes: 4100, timeline: 1, failoverPriority: 1 },
      ],
    },
    { promotedAt: '2026-12-01T00:00:10.300Z', acceptingWritesAt: '2026-12-01T00:00:10.300Z', timeline: 2, timelineStartLsn: 4200 },
  );
  assert.deepEqual(parseRecords(JSON.stringify([record, 5])), [record]);
  const text = renderFailoverRecords([record], 'pretty');
  assert.match(text, /^failover n1 -> n2, timeline 2 from 0\/1068$/m);
  assert.match(text, /800 bytes possibly lost/);
  assert.match(text, /rejoin +not yet/);
  assert.match(text, /\| n3 +\| no +\| 0\/1004 \| 1 +\| 1 +\| 100 bytes of WAL behind \|/);
  assert.deepEqual(JSON.parse(renderFailoverRecords([record], 'json')), [record]);
  assert.equal(renderFailoverRecords([], 'pretty'), 'no failover or switchover recorded yet\n');
});
