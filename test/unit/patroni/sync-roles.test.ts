/**
 * Synchronous mode as patronictl shows it: members listed in the sync key are 'sync_standby'
 * ('Sync Standby'), or 'quorum_standby' ('Quorum Standby', Patroni 4) when synchronous_mode is
 * quorum; and keel's footer when the leader's key lists no standby (non-strict: it acknowledges
 * alone; strict: commits wait).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterView, Member } from '../../../src/dcs/types.js';
import { clusterAsJson } from '../../../src/patroni/cluster-json.js';
import { renderList } from '../../../src/patroni/list-render.js';

function member(name: string, role: string): Member {
  return {
    name,
    modRevision: 1,
    leaseId: null,
    connUrl: `postgres://10.0.0.${name.slice(1)}:5432/postgres`,
    apiUrl: `http://10.0.0.${name.slice(1)}:8008/patroni`,
    state: role === 'primary' ? 'running' : 'streaming',
    role,
    xlogLocation: 1000,
    receiveLsn: null,
    replayLsn: null,
    replicationState: role === 'primary' ? null : 'streaming',
    timeline: 1,
    tags: {},
    data: { state: 'running', role, xlog_location: 1000, timeline: 1 },
  };
}

function view(config: Record<string, unknown>, standbys: string[], quorum = 0): ClusterView {
  return {
    revision: 20,
    initialize: '7300000000000000001',
    config: { value: config, modRevision: 3 },
    leader: { name: 'n1', modRevision: 4, leaseId: null },
    members: [member('n1', 'primary'), member('n2', 'replica'), member('n3', 'replica')],
    failover: null,
    sync: { value: { leader: 'n1', syncStandbys: standbys, quorum }, modRevision: 5 },
    history: null,
    status: { optime: 1000, slots: {} },
    failsafe: null,
  };
}

test('synchronous_mode on: the listed standby is sync_standby, shown "Sync Standby"', () => {
  const v = view({ synchronous_mode: true }, ['n2']);
  assert.deepEqual(
    clusterAsJson(v).members.map((m) => [m.name, m.role]),
    [
      ['n1', 'leader'],
      ['n2', 'sync_standby'],
      ['n3', 'replica'],
    ],
  );
  assert.match(renderList(v, 'pretty', { scope: 'demo' }), /\| n2 +\| 10\.0\.0\.2 \| Sync Standby \|/);
});

test('synchronous_mode quorum: listed standbys are quorum_standby, shown "Quorum Standby"', () => {
  const v = view({ synchronous_mode: 'quorum' }, ['n2', 'n3'], 1);
  assert.deepEqual(
    clusterAsJson(v).members.map((m) => m.role),
    ['leader', 'quorum_standby', 'quorum_standby'],
  );
  const table = renderList(v, 'pretty', { scope: 'demo' });
  assert.match(table, /\| n3 +\| 10\.0\.0\.3 \| Quorum Standby \|/);
  assert.doesNotMatch(table, /Synchronous replication:/);
});

test('a leader whose key lists no standby: the footer says it acknowledges alone (non-strict) or that commits wait (strict)', () => {
  assert.match(
    renderList(view({ synchronous_mode: true }, []), 'pretty', { scope: 'demo' }),
    /^ Synchronous replication: no synchronous standby, the leader acknowledges commits alone$/m,
  );
  assert.match(
    renderList(view({ synchronous_mode: true, synchronous_mode_strict: true }, []), 'pretty', { scope: 'demo' }),
    /^ Synchronous replication: no synchronous standby yet, commits wait \(synchronous_mode_strict\)$/m,
  );
  assert.doesNotMatch(renderList(view({}, []), 'pretty', { scope: 'demo' }), /Synchronous replication/, 'asynchronous: nothing to say');
});
