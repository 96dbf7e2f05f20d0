/**
 * Patroni 3.0.2's key layout and value formats: keel must write byte-for-byte what Patroni
 * writes (expected strings below were produced by Python's json.dumps(..., separators=(',', ':'))
 * on the dicts Patroni builds) and read Patroni's values, including malformed ones, without
 * throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildClusterView,
  clusterKeys,
  clusterPrefix,
  isFailoverPending,
  normalizeNamespace,
  parseConfig,
  parseFailover,
  parseFailsafe,
  parseHistory,
  parseMember,
  parseStatus,
  parseSync,
  renderFailover,
  renderHistory,
  renderMemberValue,
  renderStatus,
  renderSync,
  type StoredKey,
} from '../../../src/patroni/dcs-layout.js';
import type { MemberData } from '../../../src/dcs/types.js';

test('cluster prefix collapses slashes like Patroni _base_path', () => {
  assert.equal(clusterPrefix('/service/', 'pg'), '/service/pg/');
  assert.equal(clusterPrefix('service', 'pg'), '/service/pg/');
  assert.equal(clusterPrefix('//a//b//', 'pg'), '/a/b/pg/');
  assert.equal(normalizeNamespace('service'), '/service/');
  assert.equal(normalizeNamespace('/service'), '/service/');
  assert.equal(normalizeNamespace('/'), '/');
  const keys = clusterKeys('/service/', 'demo');
  assert.equal(keys.leader, '/service/demo/leader');
  assert.equal(keys.member('n1'), '/service/demo/members/n1');
  assert.equal(keys.leaderOptime, '/service/demo/optime/leader');
  assert.equal(keys.initialize, '/service/demo/initialize');
  assert.equal(keys.failsafe, '/service/demo/failsafe');
});

test('member value of a replica is byte-for-byte Patroni touch_member output', () => {
  const data: MemberData = {
    connUrl: 'postgres://10.0.0.1:5432/postgres',
    apiUrl: 'http://10.0.0.1:8008/patroni',
    state: 'running',
    role: 'replica',
    version: '3.0.2',
    xlogLocation: 50331808,
    timeline: 2,
    tags: { nofailover: false, clonefrom: true },
  };
  assert.equal(
    renderMemberValue(data),
    '{"conn_url":"postgres://10.0.0.1:5432/postgres","api_url":"http://10.0.0.1:8008/patroni","state":"running","role":"replica","version":"3.0.2","tags":{"nofailover":false,"clonefrom":true},"xlog_location":50331808,"timeline":2}',
  );
});

test('member extras land at the positions Patroni gives them; empty tags and timeline 0 are omitted', () => {
  const data: MemberData = {
    connUrl: 'postgres://127.0.0.1:5433/postgres',
    apiUrl: 'http://127.0.0.1:8009/patroni',
    state: 'running',
    role: 'master',
    version: '3.0.2',
    xlogLocation: 67108864,
    timeline: 3,
    tags: {},
    extra: {
      pause: true,
      scheduled_restart: { schedule: '2024-01-02T03:04:05+00:00', postgres_version: '15.4' },
      pending_restart: true,
      checkpoint_after_promote: false,
    },
  };
  assert.equal(
    renderMemberValue(data),
    '{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"master","version":"3.0.2","checkpoint_after_promote":false,"pending_restart":true,"xlog_location":67108864,"timeline":3,"scheduled_restart":{"schedule":"2024-01-02T03:04:05+00:00","postgres_version":"15.4"},"pause":true}',
  );
  const stopped = renderMemberValue({
    connUrl: 'c',
    apiUrl: 'a',
    state: 'stopped',
    role: 'replica',
    version: '3.0.2',
    timeline: 0,
    tags: {},
    extra: { keel_extra: 1 },
  });
  assert.equal(stopped, '{"conn_url":"c","api_url":"a","state":"stopped","role":"replica","version":"3.0.2","keel_extra":1}');
});

test('member parsing reads JSON, the legacy Governor URL, and survives garbage', () => {
  const member = parseMember(
    'n1',
    7,
    '123',
    '{"conn_url":"postgres://h:5432/postgres","api_url":"http://h:8008/patroni","state":"running","role":"replica","xlog_location":100,"timeline":2,"tags":{"nosync":true},"replication_state":"streaming"}',
  );
  assert.equal(member.name, 'n1');
  assert.equal(member.modRevision, 7);
  assert.equal(member.leaseId, '123');
  assert.equal(member.connUrl, 'postgres://h:5432/postgres');
  assert.equal(member.apiUrl, 'http://h:8008/patroni');
  assert.equal(member.xlogLocation, 100);
  assert.equal(member.timeline, 2);
  assert.equal(member.replicationState, 'streaming');
  assert.deepEqual(member.tags, { nosync: true });

  const legacy = parseMember('old', 1, null, 'postgres://u:p@h:5432/postgres?application_name=http://h:8008/patroni');
  assert.equal(legacy.connUrl, 'postgres://u:p@h:5432/postgres');
  assert.equal(legacy.apiUrl, 'http://h:8008/patroni');

  for (const bad of ['{', '[]', '"x"', '', 'null']) {
    const parsed = parseMember('x', 1, null, bad);
    assert.equal(parsed.state, 'unknown');
    assert.equal(parsed.role, '');
    assert.equal(parsed.connUrl, null);
    assert.deepEqual(parsed.data, {});
  }
  const kwargs = parseMember('k', 1, null, '{"conn_kwargs":{"host":"10.1.1.1","port":5433}}');
  assert.equal(kwargs.connUrl, 'postgresql://10.1.1.1:5433');
});

test('failover uses "member" for the candidate and reads the legacy "leader:candidate" form', () => {
  assert.equal(
    renderFailover({ leader: 'n1', candidate: 'n2', scheduledAt: '2024-01-02T03:04:05+00:00' }),
    '{"leader":"n1","member":"n2","scheduled_at":"2024-01-02T03:04:05+00:00"}',
  );
  assert.equal(renderFailover({}), '{}');
  assert.deepEqual(parseFailover('{"leader":"n1","member":"n2"}'), { leader: 'n1', candidate: 'n2' });
  assert.deepEqual(parseFailover('n1:n2'), { leader: 'n1', candidate: 'n2' });
  assert.deepEqual(parseFailover('{}'), {});
  assert.deepEqual(parseFailover('[1]'), {});
  assert.equal(isFailoverPending(parseFailover('{}')), false);
  assert.equal(isFailoverPending(parseFailover('{"member":"n3"}')), true);
});

test('sync is {"leader","quorum","sync_standby"} (Patroni 4) with sorted comma-joined names, null when none; Patroni 3 keys read with quorum 0', () => {
  assert.equal(renderSync({ leader: 'n1', syncStandbys: ['n3', 'n2'], quorum: 1 }), '{"leader":"n1","quorum":1,"sync_standby":"n2,n3"}');
  assert.equal(renderSync({ leader: 'n1', syncStandbys: [], quorum: 0 }), '{"leader":"n1","quorum":0,"sync_standby":null}');
  assert.deepEqual(parseSync('{"leader":"n1","sync_standby":"n2, n3,"}'), { leader: 'n1', syncStandbys: ['n2', 'n3'], quorum: 0 });
  assert.deepEqual(parseSync('{"leader":"n1","quorum":2,"sync_standby":"n2,n3,n4"}'), { leader: 'n1', syncStandbys: ['n2', 'n3', 'n4'], quorum: 2 });
  assert.deepEqual(parseSync('{"leader":"n1","quorum":-1,"sync_standby":null}'), { leader: 'n1', syncStandbys: [], quorum: 0 });
  assert.deepEqual(parseSync('{'), { leader: null, syncStandbys: [], quorum: 0 });
  assert.deepEqual(parseSync('[]'), { leader: null, syncStandbys: [], quorum: 0 });
});

test('history is a JSON list of [timeline, lsn, reason, timestamp, new leader]', () => {
  const text = '[[1,50331808,"no recovery target specified","2024-01-02T03:04:05.123456+00:00","n2"]]';
  const entries = parseHistory(text);
  assert.deepEqual(entries, [
    { timeline: 1, lsn: 50331808, reason: 'no recovery target specified', timestamp: '2024-01-02T03:04:05.123456+00:00', newLeader: 'n2' },
  ]);
  assert.equal(renderHistory(entries), text);
  assert.equal(renderHistory([{ timeline: 1, lsn: 5, reason: 'r' }]), '[[1,5,"r"]]');
  assert.deepEqual(parseHistory('[["a"],[2,"x","y"],[3,7,"ok"]]'), [{ timeline: 3, lsn: 7, reason: 'ok' }]);
  assert.deepEqual(parseHistory('{'), []);
  assert.deepEqual(parseHistory('2'), []);
});

test('status is {"optime":N,"slots":{...}}, slots only when present', () => {
  assert.equal(renderStatus({ optime: 67108864, slots: { n2: 67108864 } }), '{"optime":67108864,"slots":{"n2":67108864}}');
  assert.equal(renderStatus({ optime: 5, slots: {} }), '{"optime":5}');
  assert.deepEqual(parseStatus('{"optime":5,"slots":{"a":1,"b":"x"}}'), { optime: 5, slots: { a: 1 } });
  assert.deepEqual(parseStatus('garbage'), { optime: null, slots: {} });
});

test('config and failsafe tolerate malformed JSON', () => {
  assert.deepEqual(parseConfig('{"ttl":30,"loop_wait":10}'), { ttl: 30, loop_wait: 10 });
  assert.deepEqual(parseConfig('{'), {});
  assert.deepEqual(parseConfig('[1,2]'), {});
  assert.deepEqual(parseFailsafe('{"n1":"http://h:8008/patroni"}'), { n1: 'http://h:8008/patroni' });
  assert.equal(parseFailsafe('{'), null);
});

test('cluster view is built from a range response like Etcd3._cluster_from_nodes', () => {
  const prefix = '/service/demo/';
  const kv = (key: string, value: string, modRevision: number, lease: string | null = null): StoredKey => ({ key: prefix + key, value, modRevision, lease });
  const view = buildClusterView(prefix, 42, [
    kv('config', '{"ttl":30}', 3),
    kv('failover', '{"leader":"n1","member":"n2"}', 40),
    kv('history', '[[1,100,"no recovery target specified"]]', 20),
    kv('initialize', '7234567890123456789', 2),
    kv('leader', 'n1', 10, '999'),
    kv(
      'members/n1',
      '{"conn_url":"postgres://h1:5432/postgres","api_url":"http://h1:8008/patroni","state":"running","role":"master","version":"3.0.2","xlog_location":200,"timeline":2}',
      41,
      '999',
    ),
    kv(
      'members/n2',
      '{"conn_url":"postgres://h2:5432/postgres","api_url":"http://h2:8008/patroni","state":"running","role":"replica","version":"3.0.2","xlog_location":150,"timeline":2}',
      39,
      '888',
    ),
    kv('members/n2/extra', 'ignored', 5),
    kv('optime/leader', '1', 4),
    kv('status', '{"optime":200}', 38),
    kv('sync', '{"leader":"n1","sync_standby":"n2"}', 30),
    kv('failsafe', '{', 31),
    { key: '/service/other/leader', value: 'x', modRevision: 1, lease: null },
  ]);
  assert.equal(view.revision, 42);
  assert.equal(view.initialize, '7234567890123456789');
  assert.deepEqual(view.config, { value: { ttl: 30 }, modRevision: 3 });
  assert.deepEqual(view.leader, { name: 'n1', modRevision: 10, leaseId: '999' });
  assert.deepEqual(
    view.members.map((m) => [m.name, m.role, m.leaseId]),
    [
      ['n1', 'master', '999'],
      ['n2', 'replica', '888'],
    ],
  );
  assert.deepEqual(view.failover, { value: { leader: 'n1', candidate: 'n2' }, modRevision: 40 });
  assert.deepEqual(view.sync, { value: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 }, modRevision: 30 });
  assert.equal(view.history?.value.length, 1);
  assert.deepEqual(view.status, { optime: 200, slots: {} });
  assert.equal(view.failsafe, null);

  const empty = buildClusterView(prefix, 1, [kv('optime/leader', '12345', 2), kv('initialize', '', 1)]);
  assert.equal(empty.initialize, '');
  assert.equal(empty.leader, null);
  assert.equal(empty.config, null);
  assert.deepEqual(empty.status, { optime: 12345, slots: {} });
  assert.deepEqual(buildClusterView(prefix, 1, []).status, null);
});
