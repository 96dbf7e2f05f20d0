/**
 * keel explain: the agents' own race rule, run on what the cluster publishes, says for each
 * member whether it would take over (if the leader were lost now) and which rule decides it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainCluster } from '../../../src/ha/explain.js';
import { member, peer, view } from './fixtures.js';

const WALL = '2026-12-02T00:00:00+00:00';
const primary = peer('n1', { role: 'primary', walPositionBytes: 1200 });

test('with a healthy leader: the most advanced replica would take over, the other says why not', () => {
  const explained = explainCluster(view(), [primary, peer('n2', { walPositionBytes: 1100 }), peer('n3', { walPositionBytes: 1000 })], WALL);
  assert.equal(explained.summary, 'n1 holds the key and answers: no failover now.');
  assert.equal(explained.question, 'Would take over if n1 were lost now');
  assert.deepEqual(
    explained.members.map((m) => [m.member, m.wouldTakeOver, m.reason]),
    [
      ['n1', false, 'holds the leader key'],
      ['n2', true, 'the healthiest member: it would take the key'],
      ['n3', false, 'wal position of n2 is ahead of mine'],
    ],
  );
});

test('tags, lag, an agent that does not answer and maintenance mode each name their rule', () => {
  const tagged = view({ members: [member('n1', { role: 'primary' }), member('n2', { tags: { nofailover: true } }), member('n3')] });
  const statuses = [primary, peer('n2', { nofailover: true }), peer('n3', { walPositionBytes: 1000 })];
  assert.deepEqual(
    explainCluster(tagged, statuses, WALL, 'n2').members.map((m) => m.reason),
    ['not allowed to promote'],
  );
  assert.equal(explainCluster(tagged, statuses, WALL, 'n3').members[0]?.wouldTakeOver, true, 'a nofailover peer never blocks');
  const lagging = view({ status: { optime: 50_000_000, slots: {} } });
  assert.equal(explainCluster(lagging, [primary, peer('n2'), peer('n3')], WALL, 'n2').members[0]?.reason, 'my wal position exceeds maximum replication lag');
  assert.equal(explainCluster(view(), [primary, peer('n3')], WALL, 'n2').members[0]?.reason, 'its agent does not answer (GET /patroni)');
  const paused = explainCluster(view({ config: { value: { pause: true }, modRevision: 3 } }), [primary, peer('n2'), peer('n3')], WALL);
  assert.match(paused.summary, /Maintenance mode is on/);
  assert.ok(paused.members.every((m) => !m.wouldTakeOver));
});

test('without a leader the question is "now", and a dead leader is reported as such', () => {
  const leaderless = explainCluster(view({ leader: null }), [peer('n1', { reachable: false }), peer('n2', { walPositionBytes: 900 }), peer('n3')], WALL);
  assert.equal(leaderless.question, 'Would take over now');
  assert.equal(leaderless.members.find((m) => m.member === 'n3')?.wouldTakeOver, true);
  const tie = explainCluster(view(), [primary, peer('n2'), peer('n3')], WALL);
  assert.deepEqual(
    tie.members.filter((m) => m.wouldTakeOver).map((m) => m.reason),
    ['as healthy as n3: the first to reach the key takes it', 'as healthy as n2: the first to reach the key takes it'],
  );
  const dead = explainCluster(view(), [peer('n1', { reachable: false }), peer('n2'), peer('n3')], WALL);
  assert.match(dead.summary, /n1 holds the key but its agent does not answer: a failover follows when the key expires/);
});
