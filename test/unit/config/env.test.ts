/**
 * PATRONI_* environment overrides: the variables Patroni 3.0.2's
 * _build_environment_configuration reads, in its formats, winning over the file; plus
 * KEEL_LOG_FORMAT. The environment itself is never modified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentOverrides } from '../../../src/config/env.js';
import { TLS_CA, load, minimal, setPath } from './helpers.js';

test('global, REST API and PostgreSQL variables override the file', () => {
  const env = {
    PATRONI_NAME: 'n9',
    PATRONI_SCOPE: 'prod',
    PATRONI_NAMESPACE: 'keel',
    PATRONI_RESTAPI_LISTEN: '0.0.0.0:9008',
    PATRONI_RESTAPI_CONNECT_ADDRESS: '10.9.9.9:9008',
    PATRONI_RESTAPI_USERNAME: 'admin',
    PATRONI_RESTAPI_PASSWORD: 'secret',
    PATRONI_POSTGRESQL_LISTEN: '0.0.0.0:6432',
    PATRONI_POSTGRESQL_CONNECT_ADDRESS: '10.9.9.9:6432',
    PATRONI_POSTGRESQL_DATA_DIR: '/data/pg',
    PATRONI_POSTGRESQL_BIN_DIR: '/opt/pg/bin',
    PATRONI_POSTGRESQL_CONFIG_DIR: '/etc/pg',
    PATRONI_POSTGRESQL_PGPASS: '/tmp/pgpass',
    PATRONI_SUPERUSER_USERNAME: 'su',
    PATRONI_SUPERUSER_PASSWORD: 'sp',
    PATRONI_REPLICATION_USERNAME: 'ru',
    PATRONI_REPLICATION_PASSWORD: 'rp',
    PATRONI_REWIND_USERNAME: 'wu',
    PATRONI_REWIND_PASSWORD: 'wp',
    PATRONI_LOG_LEVEL: 'DEBUG',
  };
  const before = { ...env };
  const config = load(minimal(), env);
  assert.deepEqual(env, before, 'the environment is not modified');
  assert.equal(config.name, 'n9');
  assert.equal(config.scope, 'prod');
  assert.equal(config.namespace, '/keel/');
  assert.deepEqual(config.restapi, {
    listen: { host: '0.0.0.0', port: 9008 },
    connectAddress: { host: '10.9.9.9', port: 9008 },
    authentication: { username: 'admin', password: 'secret' },
    allowlist: [],
    allowlistIncludeMembers: false,
    verifyClient: 'none',
  });
  const pg = config.postgresql;
  assert.deepEqual(pg.listen, { hosts: ['0.0.0.0'], port: 6432 });
  assert.deepEqual(pg.connectAddress, { host: '10.9.9.9', port: 6432 });
  assert.equal(pg.dataDir, '/data/pg');
  assert.equal(pg.binDir, '/opt/pg/bin');
  assert.equal(pg.configDir, '/etc/pg');
  assert.equal(pg.pgpass, '/tmp/pgpass');
  assert.deepEqual(pg.authentication, {
    superuser: { username: 'su', password: 'sp' },
    replication: { username: 'ru', password: 'rp' },
    rewind: { username: 'wu', password: 'wp' },
  });
  assert.equal(config.log.level, 'debug');
  assert.deepEqual(config.warnings, []);
});

test('a variable overrides one key and leaves its siblings from the file', () => {
  const config = load(minimal(), { PATRONI_SUPERUSER_PASSWORD: 'new' });
  assert.deepEqual(config.postgresql.authentication.superuser, { username: 'postgres', password: 'new' });
  assert.equal(load(minimal(), { PATRONI_NAME: '' }).name, 'n1', 'an empty variable counts as unset');
});

test("PATRONI_ETCD3_HOSTS in each of Patroni's list formats", () => {
  const formats = ['a:2379,b:2380', "'a:2379','b:2380'", '[a:2379, b:2380]', '["a:2379", "b:2380"]', '- a:2379\n- b:2380'];
  for (const hosts of formats) {
    assert.deepEqual(
      load(minimal(), { PATRONI_ETCD3_HOSTS: hosts }).etcd.endpoints,
      [
        { host: 'a', port: 2379 },
        { host: 'b', port: 2380 },
      ],
      hosts,
    );
  }
});

test('PATRONI_ETCD3_* and PATRONI_ETCD_* variables fill their sections', () => {
  const etcd3 = load(setPath(minimal(), 'etcd3', undefined), {
    PATRONI_ETCD3_HOST: 'e1:2381',
    PATRONI_ETCD3_PROTOCOL: 'https',
    PATRONI_ETCD3_USERNAME: 'u',
    PATRONI_ETCD3_PASSWORD: 'p',
    PATRONI_ETCD3_CACERT: TLS_CA,
  }).etcd;
  assert.deepEqual(etcd3, { section: 'etcd3', endpoints: [{ host: 'e1', port: 2381 }], protocol: 'https', username: 'u', password: 'p', cacert: TLS_CA });
  const url = load(setPath(minimal(), 'etcd3', undefined), { PATRONI_ETCD_URL: 'http://e2:2379' }).etcd;
  assert.deepEqual(url, { section: 'etcd', endpoints: [{ host: 'e2', port: 2379 }], protocol: 'http' });
  // Unlike Patroni, a lone PATRONI_ETCD3_PASSWORD still reaches an etcd3 section from the file
  const alone = load(minimal(), { PATRONI_ETCD3_PASSWORD: 'only' });
  assert.equal(alone.etcd.password, 'only');
  const noSection = load(minimal(), { PATRONI_ETCD_PASSWORD: 'x' });
  assert.ok(noSection.warnings.some((w) => w.includes('PATRONI_ETCD_USERNAME/PASSWORD: ignored')));
  const port = load(setPath(minimal(), 'etcd3', { hosts: 'a,b' }), { PATRONI_ETCD3_PORT: '2390' }).etcd;
  assert.deepEqual(port.endpoints, [
    { host: 'a', port: 2390 },
    { host: 'b', port: 2390 },
  ]);
});

test('log level: PATRONI_LOG_LEVEL, the legacy PATRONI_LOGLEVEL, and KEEL_LOG_FORMAT', () => {
  assert.equal(load(minimal(), { PATRONI_LOGLEVEL: 'WARNING' }).log.level, 'warning');
  assert.equal(load(minimal(), { PATRONI_LOGLEVEL: 'WARNING', PATRONI_LOG_LEVEL: 'ERROR' }).log.level, 'error');
  assert.equal(load(setPath(minimal(), 'log.level', 'CRITICAL')).log.level, 'critical');
  assert.equal(load(minimal(), { KEEL_LOG_FORMAT: 'json' }).log.format, 'json');
  assert.equal(load(setPath(minimal(), 'log.type', 'json')).log.format, 'json');
  assert.equal(load(setPath(minimal(), 'log.type', 'json'), { KEEL_LOG_FORMAT: 'text' }).log.format, 'text');
});

test('PATRONI_<user>_PASSWORD (bootstrap.users) is reported as unsupported instead of being ignored silently', () => {
  const config = load(minimal(), { PATRONI_admin_PASSWORD: 'x', PATRONI_admin_OPTIONS: 'createdb' });
  assert.ok(
    config.warnings.some((w) => w.startsWith('PATRONI_admin_PASSWORD:') && w.includes('"admin"')),
    config.warnings.join('\n'),
  );
});

test('environmentOverrides converts values as Patroni does and records which variable set each key', () => {
  const result = environmentOverrides({
    PATRONI_RESTAPI_ALLOWLIST: '10.0.0.0/8,127.0.0.1',
    PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'on',
    PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: 'X-A: 1',
    PATRONI_LOG_FILE_NUM: '4',
    PATRONI_KUBERNETES_USE_ENDPOINTS: 'true',
    PATRONI_KUBERNETES_LABELS: '{app: pg}',
    PATRONI_CITUS_GROUP: '1',
    PATRONI_CITUS_HOST: 'dropped',
    UNRELATED: 'x',
  });
  assert.deepEqual(result.config, {
    restapi: { allowlist: ['10.0.0.0/8', '127.0.0.1'], allowlist_include_members: true, http_extra_headers: { 'X-A': 1 } },
    log: { file_num: 4 },
    kubernetes: { use_endpoints: true, labels: { app: 'pg' } },
    citus: { group: 1 },
  });
  assert.equal(result.sources.get('restapi.allowlist'), 'PATRONI_RESTAPI_ALLOWLIST');
  assert.equal(result.sources.get('kubernetes.labels'), 'PATRONI_KUBERNETES_LABELS');
});
