/** clustercheck semantics: 200 only when Synced, Primary, ready and writable; otherwise the reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHealth, outOfGroup, wsrepStatusFrom } from '../../../src/galera/health.js';

const SYNCED_ROWS = [
  { name: 'wsrep_local_state', value: '4' },
  { name: 'wsrep_local_state_comment', value: 'Synced' },
  { name: 'wsrep_cluster_status', value: 'Primary' },
  { name: 'wsrep_cluster_size', value: '3' },
  { name: 'wsrep_ready', value: 'ON' },
  { name: 'wsrep_connected', value: 'ON' },
  { name: 'wsrep_last_committed', value: '42' },
];

function rows(change: Record<string, string>): Array<{ name: string; value: string }> {
  return SYNCED_ROWS.map((row) => ({ name: row.name, value: change[row.name] ?? row.value }));
}

test('a Synced, Primary, ready, writable node is healthy', () => {
  const status = wsrepStatusFrom(SYNCED_ROWS, false);
  assert.equal(status.lastCommitted, 42);
  assert.equal(status.replLatencyAvgMs, null);
  assert.equal(wsrepStatusFrom([{ name: 'wsrep_evs_repl_latency', value: '0.000226/0.0012/0.00262/0.00064/14' }], false).replLatencyAvgMs, 1.2);
  assert.deepEqual(checkHealth(status), { ok: true, reason: 'Synced in a Primary component of 3' });
});

test('every other state is unhealthy with its reason', () => {
  assert.match(checkHealth(null).reason, /not running/);
  assert.match(
    checkHealth(wsrepStatusFrom(rows({ wsrep_local_state: '2', wsrep_local_state_comment: 'Donor/Desynced' }), false)).reason,
    /not Synced.*2 \(Donor\/Desynced\)/,
  );
  assert.match(checkHealth(wsrepStatusFrom(rows({ wsrep_cluster_status: 'non-Primary' }), false)).reason, /non-Primary, not Primary/);
  assert.match(checkHealth(wsrepStatusFrom(rows({ wsrep_ready: 'OFF' }), false)).reason, /wsrep_ready is OFF/);
  assert.match(checkHealth(wsrepStatusFrom(SYNCED_ROWS, true)).reason, /read_only is ON/);
  assert.equal(checkHealth(wsrepStatusFrom([], false)).ok, false);
});

test('a donor takes traffic only with available_when_donor', () => {
  const donor = wsrepStatusFrom(rows({ wsrep_local_state: '2', wsrep_local_state_comment: 'Donor/Desynced' }), false);
  assert.equal(checkHealth(donor).ok, false);
  assert.deepEqual(checkHealth(donor, true), { ok: true, reason: 'a donor (available_when_donor) in a Primary component of 3' });
  assert.equal(checkHealth(wsrepStatusFrom(rows({ wsrep_local_state: '1', wsrep_local_state_comment: 'Joining' }), false), true).ok, false);
});

test('in no group: not connected, or Disconnected (a failed join); a joiner in the Primary component, or a non-Primary member, is in one', () => {
  assert.equal(outOfGroup(null), false, 'not answering: not known to be out');
  assert.equal(
    outOfGroup(wsrepStatusFrom(rows({ wsrep_cluster_status: 'Disconnected', wsrep_local_state_comment: 'Initialized', wsrep_cluster_size: '0' }), false)),
    true,
  );
  assert.equal(outOfGroup(wsrepStatusFrom(rows({ wsrep_connected: 'OFF' }), false)), true);
  assert.equal(outOfGroup(wsrepStatusFrom(rows({ wsrep_local_state: '1', wsrep_local_state_comment: 'Joining' }), false)), false);
  assert.equal(outOfGroup(wsrepStatusFrom(rows({ wsrep_cluster_status: 'non-Primary' }), false)), false);
  assert.equal(outOfGroup(wsrepStatusFrom(SYNCED_ROWS, false)), false);
});
