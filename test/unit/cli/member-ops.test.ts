/**
 * The member-operation verbs' input handling (restart, reinit, reload, flush): which members a
 * command line names (patronictl's get_members), roles, the optional cluster word, and
 * --scheduled times. Every refusal is a one-line KeelError raised before any request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRole, selectMembers, splitClusterAndMembers } from '../../../src/cli/member-ops.js';
import { parseScheduled } from '../../../src/cli/restart-command.js';
import type { ClusterView, Member } from '../../../src/dcs/types.js';
import { KeelError } from '../../../src/errors.js';

function member(name: string): Member {
  return {
    name,
    modRevision: 1,
    leaseId: null,
    connUrl: `postgres://127.0.0.1:5432/postgres`,
    apiUrl: `http://127.0.0.1:8008/patroni`,
    state: 'running',
    role: 'replica',
    xlogLocation: null,
    receiveLsn: null,
    replayLsn: null,
    replicationState: null,
    timeline: 1,
    tags: {},
    data: {},
  };
}

const VIEW: ClusterView = {
  revision: 1,
  initialize: '1',
  config: null,
  leader: { name: 'n2', modRevision: 1, leaseId: null },
  members: [member('n3'), member('n1'), member('n2')],
  failover: null,
  sync: null,
  history: null,
  status: null,
  failsafe: null,
};

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof KeelError && message.test(error.message) && !error.message.includes('\n'));
}

test('roles fold as patronictl folds them', () => {
  assert.equal(parseRole('primary'), 'leader');
  assert.equal(parseRole('master'), 'leader');
  assert.equal(parseRole('standby'), 'replica');
  assert.equal(parseRole('any'), 'any');
  refused(() => parseRole('witness'), /--role must be/);
});

test('the cluster word is optional, and another cluster is refused', () => {
  assert.deepEqual(splitClusterAndMembers(['demo', 'n1'], 'demo', VIEW), ['n1']);
  assert.deepEqual(splitClusterAndMembers(['n1', 'n3'], 'demo', VIEW), ['n1', 'n3']);
  assert.deepEqual(splitClusterAndMembers([], 'demo', VIEW), []);
  refused(() => splitClusterAndMembers(['other', 'n1'], 'demo', VIEW), /"other" is neither the cluster/);
});

test('members: all with the role (leader first), or the named ones, which must exist and have the role', () => {
  assert.deepEqual(
    selectMembers(VIEW, 'demo', [], 'any', 'restart').map((m) => m.name),
    ['n2', 'n1', 'n3'],
  );
  assert.deepEqual(
    selectMembers(VIEW, 'demo', [], 'replica', 'restart').map((m) => m.name),
    ['n1', 'n3'],
  );
  assert.deepEqual(
    selectMembers(VIEW, 'demo', ['n3'], 'any', 'restart').map((m) => m.name),
    ['n3'],
  );
  refused(() => selectMembers(VIEW, 'demo', ['n9'], 'any', 'restart'), /^n9 is not a member of cluster$/);
  refused(() => selectMembers(VIEW, 'demo', ['n2'], 'replica', 'reinitialize'), /^No replica among provided members$/);
  refused(() => selectMembers(VIEW, 'demo', [], 'replica', 'reinitialize'), /name the member/);
});

test('--scheduled: ISO 8601; without an offset it is local time; garbage is refused', () => {
  assert.equal(Date.parse(parseScheduled('2030-01-02T03:04:05+02:00')), Date.parse('2030-01-02T01:04:05Z'));
  assert.equal(Date.parse(parseScheduled('2030-01-02T03:04')), new Date(2030, 0, 2, 3, 4).getTime());
  assert.match(parseScheduled('2030-01-02T03:04:05Z'), /[+-]\d{2}:\d{2}$/);
  refused(() => parseScheduled('next tuesday'), /Unable to parse scheduled timestamp \(next tuesday\)/);
});
