/**
 * The recovery planner over tables of reported positions: who bootstraps after a total outage,
 * and why the others wait. Each row is a situation an operator meets after a power cut.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RecoveryInput, type ReportedPosition, describeDecision, planRecovery } from '../../../src/galera/core/recovery-plan.js';
import { ZERO_UUID } from '../../../src/galera/core/position.js';

const U = '066d30c3-ee0c-11f1-9bd3-36e714e8bf10';
const OTHER = '7a1f0000-ee0c-11f1-9bd3-36e714e8bf10';
const at = (seqno: number, safeToBootstrap = false, uuid = U): ReportedPosition => ({ uuid, seqno, safeToBootstrap });

function input(over: Partial<RecoveryInput>): RecoveryInput {
  return {
    nodes: ['a', 'b', 'c'],
    primaryMembers: [],
    positions: {},
    clusterUuid: U,
    bootstrapLockHolder: null,
    override: null,
    waitingMs: 0,
    reportTimeoutMs: 60_000,
    ...over,
  };
}

interface Row {
  name: string;
  input: Partial<RecoveryInput>;
  expect: string; // 'bootstrap:<node>:<by>' | 'join' | 'wait:<reason kind>'
}

const rows: Row[] = [
  { name: 'all reported: the highest seqno bootstraps', input: { positions: { a: at(10), b: at(12), c: at(11) } }, expect: 'bootstrap:b:all_reported' },
  { name: 'a tie: safe_to_bootstrap wins', input: { positions: { a: at(12), b: at(12), c: at(12, true) } }, expect: 'bootstrap:c:all_reported' },
  { name: 'a tie without safe_to_bootstrap: the smallest name', input: { positions: { c: at(12), b: at(12), a: at(3) } }, expect: 'bootstrap:b:all_reported' },
  {
    name: 'safe_to_bootstrap never outranks a more advanced node',
    input: { positions: { a: at(12, true), b: at(13), c: at(1) } },
    expect: 'bootstrap:b:all_reported',
  },
  { name: 'a Primary member exists: join it', input: { primaryMembers: ['c'], positions: { a: at(10), b: at(12) } }, expect: 'join' },
  {
    name: 'a bootstrap is under way',
    input: { bootstrapLockHolder: 'b', positions: { a: at(10), b: at(12), c: at(11) } },
    expect: 'wait:bootstrap_in_progress',
  },
  { name: 'one node silent, before the timeout', input: { positions: { a: at(10), b: at(12) }, waitingMs: 59_000 }, expect: 'wait:not_all_reported' },
  {
    name: 'one node silent, after the timeout, no override',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 60_000 },
    expect: 'wait:override_needed',
  },
  {
    name: 'one node silent, after the timeout, override of the most advanced',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 60_000, override: 'b' },
    expect: 'bootstrap:b:operator_override',
  },
  {
    name: 'override of a node behind a reported peer is refused',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 60_000, override: 'a' },
    expect: 'wait:override_refused',
  },
  {
    name: 'override before the timeout changes nothing',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 1_000, override: 'b' },
    expect: 'wait:not_all_reported',
  },
  {
    name: 'override without a majority is refused',
    input: { positions: { b: at(12) }, waitingMs: 120_000, override: 'b' },
    expect: 'wait:no_majority',
  },
  {
    name: 'override of a silent node is refused',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 60_000, override: 'c' },
    expect: 'wait:override_refused',
  },
  {
    name: 'override of a stranger is refused',
    input: { positions: { a: at(10), b: at(12) }, waitingMs: 60_000, override: 'z' },
    expect: 'wait:override_refused',
  },
  {
    name: 'override of a node with no history is refused',
    input: { positions: { a: at(-1, false, ZERO_UUID), b: at(-1) }, waitingMs: 60_000, override: 'a' },
    expect: 'wait:override_refused',
  },
  {
    name: 'the all-zero UUID never bootstraps',
    input: { positions: { a: at(-1, true, ZERO_UUID), b: at(-1, false, ZERO_UUID), c: at(-1, false, ZERO_UUID) } },
    expect: 'wait:no_known_position',
  },
  {
    name: 'a node of another history is not a candidate',
    input: { positions: { a: at(500, true, OTHER), b: at(12), c: at(11) } },
    expect: 'bootstrap:b:all_reported',
  },
  {
    name: 'unknown cluster UUID and two histories: an operator must choose',
    input: { clusterUuid: null, positions: { a: at(500, false, OTHER), b: at(12), c: at(11) } },
    expect: 'wait:histories_differ',
  },
  {
    name: 'unknown cluster UUID, one history: the most advanced',
    input: { clusterUuid: null, positions: { a: at(5), b: at(12), c: at(-1, false, ZERO_UUID) } },
    expect: 'bootstrap:b:all_reported',
  },
  { name: 'seqno -1 after recovery is not a candidate', input: { positions: { a: at(-1), b: at(3), c: at(2) } }, expect: 'bootstrap:b:all_reported' },
  {
    name: "five nodes, two silent, override of the majority's best",
    input: { nodes: ['a', 'b', 'c', 'd', 'e'], positions: { a: at(9), c: at(40), e: at(39) }, waitingMs: 61_000, override: 'c' },
    expect: 'bootstrap:c:operator_override',
  },
  { name: 'a single-node cluster', input: { nodes: ['a'], positions: { a: at(7) } }, expect: 'bootstrap:a:all_reported' },
  { name: 'no nodes registered', input: { nodes: [], positions: {} }, expect: 'wait:not_all_reported' },
];

for (const row of rows) {
  test(row.name, () => {
    const decision = planRecovery(input(row.input));
    const got =
      decision.kind === 'bootstrap' ? `bootstrap:${decision.node}:${decision.by}` : decision.kind === 'wait' ? `wait:${decision.reason.kind}` : 'join';
    assert.equal(got, row.expect, describeDecision(decision));
    assert.ok(describeDecision(decision).length > 0);
  });
}

test('the decision does not depend on the order the nodes and positions are listed in', () => {
  const positions = { a: at(12), b: at(12, true), c: at(11) };
  const one = planRecovery(input({ nodes: ['a', 'b', 'c'], positions }));
  const two = planRecovery(input({ nodes: ['c', 'b', 'a'], positions: { c: positions.c, b: positions.b, a: positions.a } }));
  assert.deepEqual(one, two);
});
