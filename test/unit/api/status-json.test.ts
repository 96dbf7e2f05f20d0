/**
 * The shape of GET /patroni: Patroni 3.0.2's keys, in its order, omitted when Patroni omits
 * them, with roles spelled as Patroni 3.0.2 spells them ('master'), datetimes as Python's str(),
 * and keel's additions only under `keel`. (Byte-exact bodies for many states are checked in
 * recorded.test.ts against the real Patroni handler.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patroniStatusJson, pythonDatetimeStr } from '../../../src/api/status.js';
import { baseStatus } from './fixtures.js';

test('a primary reports Patroni 3.0.2 keys in order, role master and xlog.location', () => {
  const json = patroniStatusJson(baseStatus('primary'));
  assert.deepEqual(Object.keys(json), [
    'state',
    'postmaster_start_time',
    'role',
    'server_version',
    'xlog',
    'timeline',
    'replication',
    'dcs_last_seen',
    'database_system_identifier',
    'patroni',
    'keel',
  ]);
  assert.equal(json['role'], 'master');
  assert.deepEqual(json['xlog'], { location: 100663296 });
  assert.equal(json['postmaster_start_time'], '2024-05-01 10:00:00.123456+00:00');
  assert.deepEqual(json['patroni'], { version: '3.0.2', scope: 'demo', name: 'n1' });
  assert.deepEqual(Object.keys((json['replication'] as object[])[0] ?? {}), [
    'usename',
    'application_name',
    'client_addr',
    'state',
    'sync_state',
    'sync_priority',
  ]);
  assert.deepEqual(json['keel'], { name: 'n1', last_why: 'no action. I am (n1), the leader with the lock', local_only_commits: 0 });
});

test('a replica reports received/replayed positions, and omits replication when it has no standbys', () => {
  const json = patroniStatusJson(baseStatus('replica'));
  assert.deepEqual(Object.keys(json), [
    'state',
    'postmaster_start_time',
    'role',
    'server_version',
    'xlog',
    'timeline',
    'dcs_last_seen',
    'database_system_identifier',
    'patroni',
    'keel',
  ]);
  assert.equal(json['role'], 'replica');
  assert.deepEqual(json['xlog'], {
    received_location: 100662272,
    replayed_location: 100662272,
    replayed_timestamp: '2024-05-01 10:30:00.500000+00:00',
    paused: false,
  });
});

test('optional keys appear exactly when their condition holds', () => {
  const status = baseStatus('replica');
  status.tags = { nofailover: false, noloadbalance: true, dc: 'dc1' };
  status.pendingRestart = true;
  status.paused = true;
  status.watchdogFailed = true;
  status.failsafeActive = true;
  status.cluster = { leaderName: null, lastLsn: 0, synchronousMode: 'on', syncStandbys: ['n2'] };
  status.scheduledRestart = { schedule: '2030-01-02T03:04:05Z', postmaster_start_time: 'x', role: 'replica' };
  const json = patroniStatusJson(status);
  assert.deepEqual(Object.keys(json), [
    'state',
    'postmaster_start_time',
    'role',
    'server_version',
    'xlog',
    'sync_standby',
    'timeline',
    'cluster_unlocked',
    'failsafe_mode_is_active',
    'dcs_last_seen',
    'tags',
    'database_system_identifier',
    'pending_restart',
    'patroni',
    'scheduled_restart',
    'watchdog_failed',
    'pause',
    'keel',
  ]);
  assert.deepEqual(json['tags'], { noloadbalance: true, dc: 'dc1' });
  assert.deepEqual(json['scheduled_restart'], { schedule: '2030-01-02T03:04:05+00:00', role: 'replica' });
});

test('without a working status query only state and role are reported; running becomes unknown', () => {
  const status = baseStatus('replica');
  status.postgres = null;
  status.systemIdentifier = null;
  assert.deepEqual(patroniStatusJson(status), {
    state: 'unknown',
    role: 'replica',
    dcs_last_seen: 1714557600,
    patroni: { version: '3.0.2', scope: 'demo', name: 'n2' },
    keel: { name: 'n2', last_why: 'no action. I am (n2), a secondary, and following a leader (n1)', local_only_commits: 0 },
  });
  status.state = 'stopped';
  status.role = 'primary';
  status.cluster = null;
  const stopped = patroniStatusJson(status);
  assert.equal(stopped['state'], 'stopped');
  assert.equal(stopped['role'], 'master');
  assert.equal(stopped['cluster_unlocked'], true);
});

test('PostgreSQL timestamps print as Python str(datetime)', () => {
  assert.equal(pythonDatetimeStr('2024-05-01 10:00:00.000000 +02:00'), '2024-05-01 10:00:00+02:00');
  assert.equal(pythonDatetimeStr('2024-05-01 10:00:00.123400 -07:00'), '2024-05-01 10:00:00.123400-07:00');
  assert.equal(pythonDatetimeStr('2024-05-01T10:00:00Z'), '2024-05-01 10:00:00+00:00');
});
