/**
 * The agent's recent decisions (GET /decisions, the status page): a decision repeated cycle
 * after cycle is one entry that moves on, a change starts a new one, newest first, bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECISIONS_KEPT, DecisionLog } from '../../../src/ha/decision-log.js';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);

test('repeats fold into one entry; changes are listed newest first', () => {
  const log = new DecisionLog();
  log.record('followingNoAction', 'no action. I am (n2), a secondary, and following a leader (n1)', T0);
  log.record('followingNoAction', 'no action. I am (n2), a secondary, and following a leader (n1)', T0 + 2000);
  log.record('promotedByAcquiring', 'promoted self to leader by acquiring session lock', T0 + 4500);
  assert.deepEqual(log.recent(), [
    {
      kind: 'promotedByAcquiring',
      why: 'promoted self to leader by acquiring session lock',
      first_at: '2026-12-02T12:00:04.500000+00:00',
      last_at: '2026-12-02T12:00:04.500000+00:00',
      cycles: 1,
    },
    {
      kind: 'followingNoAction',
      why: 'no action. I am (n2), a secondary, and following a leader (n1)',
      first_at: '2026-12-02T12:00:00+00:00',
      last_at: '2026-12-02T12:00:02+00:00',
      cycles: 2,
    },
  ]);
});

test('the same kind with another sentence is another entry; at most DECISIONS_KEPT are kept', () => {
  const log = new DecisionLog();
  for (let i = 0; i < DECISIONS_KEPT + 5; i++) log.record('followingNoAction', `following a leader (n${i})`, T0 + i);
  const recent = log.recent();
  assert.equal(recent.length, DECISIONS_KEPT);
  assert.equal(recent[0]?.why, `following a leader (n${DECISIONS_KEPT + 4})`);
  recent[0]!.cycles = 99;
  assert.equal(log.recent()[0]?.cycles, 1, 'recent() hands out copies');
});
