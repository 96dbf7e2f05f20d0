/**
 * Loading patroni.yml into LocalConfig: the seed's file loads unchanged with the expected
 * values, Patroni's defaults are filled in, etcd endpoints and initdb/basebackup options are
 * read in every format Patroni accepts, and unknown keys warn without failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfig, findPostgresBinDir } from '../../../src/config/load.js';
import { SEED_FILE, TEST_FILE, TLS_CA, TLS_CERT, TLS_KEY, assertConfigError, load, minimal, setPath, toYaml } from './helpers.js';

test('the seed patroni.yml loads unchanged, with the values it states', () => {
  const config = loadConfigFile(SEED_FILE, {});
  assert.equal(config.file, SEED_FILE);
  assert.equal(config.scope, 'postgres-cluster');
  assert.equal(config.namespace, '/db/');
  assert.equal(config.name, 'node1');
  assert.deepEqual(config.restapi, {
    listen: { host: '10.0.1.21', port: 8008 },
    connectAddress: { host: '10.0.1.21', port: 8008 },
    allowlist: [],
    allowlistIncludeMembers: false,
    verifyClient: 'none',
  });
  assert.deepEqual(config.etcd, {
    section: 'etcd',
    endpoints: [
      { host: '10.0.1.11', port: 2379 },
      { host: '10.0.1.12', port: 2379 },
      { host: '10.0.1.13', port: 2379 },
    ],
    protocol: 'http',
  });
  assert.deepEqual(config.bootstrap.initdbArgs, ['--encoding=UTF8', '--data-checksums']);
  assert.deepEqual(config.bootstrap.pgHba, ['host replication replicator 10.0.1.0/24 md5', 'host all all 10.0.1.0/24 md5', 'host all all 0.0.0.0/0 reject']);
  // bootstrap.dcs is kept as written (YAML 1.1: `hot_standby: on` is a boolean, as PyYAML reads it)
  assert.deepEqual(config.bootstrap.dcs, {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    maximum_lag_on_failover: 1048576,
    postgresql: {
      use_pg_rewind: true,
      parameters: {
        max_connections: 200,
        shared_buffers: '256MB',
        effective_cache_size: '1GB',
        wal_level: 'replica',
        max_wal_senders: 10,
        max_replication_slots: 10,
        hot_standby: true,
      },
    },
  });
  const pg = config.postgresql;
  assert.deepEqual(pg.listen, { hosts: ['10.0.1.21'], port: 5432 });
  assert.deepEqual(pg.connectAddress, { host: '10.0.1.21', port: 5432 });
  assert.equal(pg.dataDir, '/var/lib/postgresql/15/main');
  assert.equal(pg.binDir, '/usr/lib/postgresql/15/bin');
  assert.equal(pg.configDir, '/var/lib/postgresql/15/main');
  assert.equal(pg.pgpass, '/var/lib/postgresql/15/.pgpass.node1');
  assert.deepEqual(pg.authentication, {
    superuser: { username: 'postgres', password: 'super_password_change_me' },
    replication: { username: 'replicator', password: 'rep_password_change_me' },
  });
  assert.deepEqual(config.tags, {
    nofailover: false,
    noloadbalance: false,
    clonefrom: false,
    nosync: false,
    nostream: false,
    raw: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  });
  assert.deepEqual(config.watchdog, { mode: 'automatic', device: '/dev/watchdog', safetyMarginMs: 5000 });
  assert.deepEqual(config.log, { level: 'info', format: 'text' });
  assert.deepEqual(config.warnings, []);
});

test('Patroni defaults are filled in for a minimal file', () => {
  const config = load(minimal());
  assert.equal(config.file, TEST_FILE);
  assert.equal(config.namespace, '/service/');
  assert.deepEqual(config.restapi.connectAddress, { host: '10.0.0.1', port: 8008 });
  assert.equal(config.restapi.authentication, undefined);
  const pg = config.postgresql;
  assert.deepEqual(pg.connectAddress, { host: '10.0.0.1', port: 5432 });
  assert.equal(pg.configDir, pg.dataDir);
  assert.equal(pg.binDir, '/usr/lib/postgresql/16/bin');
  assert.equal(pg.pgpass, '/var/lib/postgresql/16/.pgpass.n1');
  assert.equal(pg.useUnixSocket, false);
  assert.equal(pg.useUnixSocketRepl, false);
  assert.equal(pg.pgCtlTimeoutMs, 60_000);
  assert.deepEqual(pg.basebackupArgs, []);
  assert.deepEqual(pg.callbacks, {});
  assert.deepEqual(pg.parameters, {});
  assert.equal(pg.pgHba, undefined);
  assert.equal(pg.usePgRewind, undefined);
  assert.equal(pg.removeDataDirectoryOnRewindFailure, false);
  assert.equal(pg.removeDataDirectoryOnDivergedTimelines, false);
  assert.equal(pg.authentication.rewind, undefined);
  assert.deepEqual(config.bootstrap, { dcs: {}, initdbArgs: [], pgHba: [] });
  assert.deepEqual(config.tags, { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, nostream: false, raw: {} });
  assert.deepEqual(config.watchdog, { mode: 'automatic', device: '/dev/watchdog', safetyMarginMs: 5000 });
  assert.deepEqual(config.warnings, []);
});

test('namespace is normalised to a leading and a trailing slash', () => {
  for (const [given, expected] of [
    ['db', '/db/'],
    ['/db', '/db/'],
    ['db/', '/db/'],
    ['//a//b//', '/a/b/'],
    ['/', '/'],
  ]) {
    assert.equal(load(setPath(minimal(), 'namespace', given)).namespace, expected, given);
  }
});

test('connect_address is required when listen is a wildcard, and defaults to listen otherwise', () => {
  assertConfigError(() => load(setPath(minimal(), 'restapi.listen', '0.0.0.0:8008')), 'restapi.connect_address', 'wildcard');
  assertConfigError(() => load(setPath(minimal(), 'postgresql.listen', '*:5432')), 'postgresql.connect_address', 'wildcard');
  const ok = load(setPath(setPath(minimal(), 'postgresql.listen', '0.0.0.0:5433'), 'postgresql.connect_address', '10.0.0.1'));
  assert.deepEqual(ok.postgresql.connectAddress, { host: '10.0.0.1', port: 5433 }, 'without a port, the listen port');
});

test('postgresql.listen takes a comma list of hosts before the port, and IPv6 in brackets', () => {
  const config = load(setPath(minimal(), 'postgresql.listen', '127.0.0.1, 10.0.0.1:5433'));
  assert.deepEqual(config.postgresql.listen, { hosts: ['127.0.0.1', '10.0.0.1'], port: 5433 });
  assert.deepEqual(config.postgresql.connectAddress, { host: '127.0.0.1', port: 5433 });
  const v6 = load(setPath(setPath(minimal(), 'restapi.listen', '[::1]:8008'), 'postgresql.listen', '[::1]:5432'));
  assert.deepEqual(v6.restapi.listen, { host: '::1', port: 8008 });
  assert.deepEqual(v6.postgresql.listen, { hosts: ['::1'], port: 5432 });
});

test('booleans accept on/off/true/false/yes/no, numbers accept strings', () => {
  const config = minimal();
  setPath(config, 'tags', { nofailover: 'yes', noloadbalance: 'on', clonefrom: 'TRUE', nosync: 'no', nostream: 'off' });
  setPath(config, 'postgresql.use_unix_socket', 'true');
  setPath(config, 'postgresql.pg_ctl_timeout', '90');
  setPath(config, 'watchdog.safety_margin', '-1');
  setPath(config, 'etcd3', { hosts: ['10.0.0.11', '10.0.0.12'], port: '2380' });
  const loaded = load(config);
  assert.deepEqual(
    [loaded.tags.nofailover, loaded.tags.noloadbalance, loaded.tags.clonefrom, loaded.tags.nosync, loaded.tags.nostream],
    [true, true, true, false, false],
  );
  assert.equal(loaded.postgresql.useUnixSocket, true);
  assert.equal(loaded.postgresql.pgCtlTimeoutMs, 90_000);
  assert.equal(loaded.watchdog.safetyMarginMs, -1);
  assert.deepEqual(loaded.etcd.endpoints, [
    { host: '10.0.0.11', port: 2380 },
    { host: '10.0.0.12', port: 2380 },
  ]);
  // YAML 1.1 plain scalars, as in a hand-written patroni.yml
  const text = toYaml(minimal()) + 'tags:\n  nofailover: on\n  nosync: off\nwatchdog:\n  mode: off\n';
  const fromText = load(text);
  assert.equal(fromText.tags.nofailover, true);
  assert.equal(fromText.tags.nosync, false);
  assert.equal(fromText.watchdog.mode, 'off');
});

test('tags: failover_priority 0 means nofailover unless nofailover says otherwise; raw keeps custom tags', () => {
  const config = load(setPath(minimal(), 'tags', { failover_priority: 0, zone: 'eu-1', replicatefrom: 'n2' }));
  assert.equal(config.tags.nofailover, true);
  assert.equal(config.tags.failoverPriority, 0);
  assert.equal(config.tags.replicatefrom, 'n2');
  assert.deepEqual(config.tags.raw, { failover_priority: 0, zone: 'eu-1', replicatefrom: 'n2' });
  assert.equal(load(setPath(minimal(), 'tags', { failover_priority: 0, nofailover: false })).tags.nofailover, false);
  assert.equal(load(setPath(minimal(), 'tags', { failover_priority: 3 })).tags.nofailover, false);
  assert.deepEqual(config.warnings, [], 'custom tags are not unknown keys');
});

test('watchdog modes use Patroni spellings', () => {
  for (const [given, expected] of [
    ['off', 'off'],
    ['disabled', 'off'],
    ['auto', 'automatic'],
    ['automatic', 'automatic'],
    ['require', 'required'],
    ['Required', 'required'],
  ]) {
    assert.equal(load(setPath(minimal(), 'watchdog', { mode: given, device: '/dev/watchdog1', safety_margin: 7 })).watchdog.mode, expected, given);
  }
  assert.deepEqual(load(setPath(minimal(), 'watchdog', { mode: 'required', device: '/dev/watchdog1', safety_margin: 7 })).watchdog, {
    mode: 'required',
    device: '/dev/watchdog1',
    safetyMarginMs: 7000,
  });
});

test('etcd endpoints: hosts as a comma string or a list, host, url, proxy; default port 2379', () => {
  const with3 = (etcd3: Record<string, unknown>) => load(setPath(minimal(), 'etcd3', etcd3)).etcd;
  assert.deepEqual(with3({ hosts: 'a:2379, b:2380,c' }).endpoints, [
    { host: 'a', port: 2379 },
    { host: 'b', port: 2380 },
    { host: 'c', port: 2379 },
  ]);
  assert.deepEqual(with3({ hosts: ['a:2379', 'b'] }).endpoints, [
    { host: 'a', port: 2379 },
    { host: 'b', port: 2379 },
  ]);
  assert.deepEqual(with3({ host: 'a' }).endpoints, [{ host: 'a', port: 2379 }]);
  assert.deepEqual(with3({ host: 'a:1234' }).endpoints, [{ host: 'a', port: 1234 }]);
  assert.deepEqual(with3({ host: 'a:1234', port: 4321 }).endpoints, [{ host: 'a', port: 4321 }], 'Patroni: the port key wins');
  assert.deepEqual(with3({ hosts: 'a,b', protocol: 'https', username: 'u', password: 'p', cacert: TLS_CA }), {
    section: 'etcd3',
    endpoints: [
      { host: 'a', port: 2379 },
      { host: 'b', port: 2379 },
    ],
    protocol: 'https',
    username: 'u',
    password: 'p',
    cacert: TLS_CA,
  });
  assert.deepEqual(with3({ url: 'https://user:s%40cret@etcd.example:2381' }), {
    section: 'etcd3',
    endpoints: [{ host: 'etcd.example', port: 2381 }],
    protocol: 'https',
    username: 'user',
    password: 's@cret',
  });
  assert.deepEqual(with3({ url: 'http://e1', hosts: 'ignored:1' }).endpoints, [{ host: 'e1', port: 2379 }], 'url before hosts');
  assert.deepEqual(with3({ proxy: 'http://proxy:8080', url: 'http://e1' }).endpoints, [{ host: 'proxy', port: 8080 }], 'proxy before url');
});

test('etcd and etcd3 sections: etcd wins as in Patroni, other DCS sections warn, none is an error', () => {
  const both = setPath(minimal(), 'etcd', { hosts: 'v2:2379' });
  const config = load(both);
  assert.deepEqual(config.etcd.endpoints, [{ host: 'v2', port: 2379 }]);
  assert.ok(
    config.warnings.some((w) => w.startsWith('etcd3: ignored')),
    config.warnings.join('\n'),
  );
  const withConsul = load(setPath(minimal(), 'consul', { host: 'c:8500' }));
  assert.ok(withConsul.warnings.some((w) => w.startsWith('consul: ignored')));
  assertConfigError(() => load(setPath(minimal(), 'etcd3', undefined)), 'etcd3', 'is required');
  assertConfigError(() => load(setPath(setPath(minimal(), 'etcd3', undefined), 'zookeeper', { hosts: ['z:2181'] })), 'etcd3', 'zookeeper');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { srv: 'example.org' })), 'etcd3.srv', 'SRV');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { protocol: 'https' })), 'etcd3.hosts', 'is required');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { hosts: ['a:2379', 'b:99999'] })), 'etcd3.hosts[1]', '"b:99999"');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { hosts: 'a:2379,b:x' })), 'etcd3.hosts', '"b:x"');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { url: 'etcd:2379' })), 'etcd3.url', 'http(s)://');
  assertConfigError(() => load(setPath(minimal(), 'etcd3', { hosts: 'a', protocol: 'grpc' })), 'etcd3.protocol', 'expected http or https, got "grpc"');
});

test('bootstrap.initdb and postgresql.basebackup render as command-line flags', () => {
  const config = minimal();
  setPath(config, 'bootstrap.initdb', ['data-checksums', { encoding: 'UTF8' }, { locale: 'en_US.UTF-8' }, { 'wal-segsize': 64 }]);
  setPath(config, 'postgresql.basebackup', [{ 'max-rate': '100M' }, 'checkpoint=fast', 'verbose']);
  const loaded = load(config);
  assert.deepEqual(loaded.bootstrap.initdbArgs, ['--data-checksums', '--encoding=UTF8', '--locale=en_US.UTF-8', '--wal-segsize=64']);
  assert.deepEqual(loaded.postgresql.basebackupArgs, ['--max-rate=100M', '--checkpoint=fast', '--verbose']);
  const mapping = load(setPath(minimal(), 'postgresql.basebackup', { 'max-rate': '100M', checkpoint: 'fast', verbose: true, progress: false }));
  assert.deepEqual(mapping.postgresql.basebackupArgs, ['--max-rate=100M', '--checkpoint=fast', '--verbose']);
  assertConfigError(() => load(setPath(minimal(), 'bootstrap.initdb', ['data-checksums', 'pgdata'])), 'bootstrap.initdb[1]', '"pgdata" is set by keel');
  assertConfigError(() => load(setPath(minimal(), 'bootstrap.initdb', [{ encoding: 'UTF8', locale: 'C' }])), 'bootstrap.initdb[0]', 'one-key mapping');
  assertConfigError(() => load(setPath(minimal(), 'bootstrap.initdb', 'data-checksums')), 'bootstrap.initdb', 'expected a list of initdb options');
  assertConfigError(() => load(setPath(minimal(), 'postgresql.basebackup', { 'wal-method': 'fetch' })), 'postgresql.basebackup.wal-method', 'set by keel');
});

test('other postgresql settings: callbacks, pg_hba, parameters, rewind user, use_pg_rewind', () => {
  const config = minimal();
  setPath(config, 'postgresql.callbacks', { on_role_change: '/usr/local/bin/vip.sh', on_start: '/bin/true' });
  setPath(config, 'postgresql.pg_hba', ['local all all trust']);
  setPath(config, 'postgresql.parameters', { shared_buffers: '1GB', work_mem: 4096, jit: false, unix_socket_directories: '/run/pg', dropped: null });
  setPath(config, 'postgresql.authentication.rewind', { username: 'rewind_user', password: 'x' });
  setPath(config, 'postgresql.use_pg_rewind', true);
  setPath(config, 'postgresql.config_dir', '/etc/postgresql/16/main');
  setPath(config, 'postgresql.pgpass', '/tmp/pgpass');
  setPath(config, 'restapi.authentication', { username: 'admin', password: 'pw' });
  const pg = load(config).postgresql;
  assert.deepEqual(pg.callbacks, { on_role_change: '/usr/local/bin/vip.sh', on_start: '/bin/true' });
  assert.deepEqual(pg.pgHba, ['local all all trust']);
  assert.deepEqual(pg.parameters, { shared_buffers: '1GB', work_mem: 4096, jit: false, unix_socket_directories: '/run/pg' });
  assert.deepEqual(pg.authentication.rewind, { username: 'rewind_user', password: 'x' });
  assert.equal(pg.usePgRewind, true);
  assert.equal(pg.configDir, '/etc/postgresql/16/main');
  assert.equal(pg.pgpass, '/tmp/pgpass');
  assert.deepEqual(load(config).restapi.authentication, { username: 'admin', password: 'pw' });
  assert.deepEqual(load(setPath(minimal(), 'restapi.auth', 'admin:pw:x')).restapi.authentication, { username: 'admin', password: 'pw:x' });
});

test('unknown keys warn with their path and the file still loads; real Patroni keys do not warn', () => {
  const config = minimal();
  setPath(config, 'postgresql.paramters', { work_mem: '4MB' });
  setPath(config, 'restapi.listne', '1.2.3.4:1');
  setPath(config, 'frobnicate', 1);
  const loaded = load(config);
  assert.deepEqual(
    loaded.warnings.filter((w) => w.includes('unknown key')),
    [
      'restapi.listne: unknown key, ignored (check the spelling)',
      'postgresql.paramters: unknown key, ignored (check the spelling)',
      'frobnicate: unknown key, ignored (check the spelling)',
    ],
  );

  const rich = minimal();
  Object.assign(rich, {
    log: {
      level: 'DEBUG',
      traceback_level: 'ERROR',
      format: '%(message)s',
      dateformat: '%Y',
      max_queue_size: 1000,
      file_num: 4,
      file_size: 1,
      loggers: { urllib3: 'DEBUG' },
    },
    ctl: { insecure: true, cacert: TLS_CA, certfile: TLS_CERT, keyfile: TLS_KEY },
    kubernetes: { labels: { app: 'x' }, use_endpoints: true },
    watchdog: { mode: 'off', device: '/dev/watchdog', safety_margin: 5, driver: 'default' },
  });
  setPath(rich, 'restapi.certfile', TLS_CERT);
  setPath(rich, 'restapi.keyfile', TLS_KEY);
  setPath(rich, 'restapi.http_extra_headers', { 'X-Frame-Options': 'SAMEORIGIN' });
  setPath(rich, 'bootstrap.dcs', {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    maximum_lag_on_failover: 1,
    maximum_lag_on_syncnode: -1,
    max_timelines_history: 0,
    primary_start_timeout: 300,
    primary_stop_timeout: 0,
    synchronous_mode: false,
    synchronous_mode_strict: false,
    synchronous_node_count: 1,
    failsafe_mode: false,
    check_timeline: false,
    slots: { s1: { type: 'physical' } },
    ignore_slots: [{ name: 'x' }],
    standby_cluster: {
      host: 'h',
      port: 5432,
      primary_slot_name: 'p',
      create_replica_methods: ['basebackup'],
      restore_command: 'x',
      archive_cleanup_command: 'y',
      recovery_min_apply_delay: '0',
    },
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: { x: 1 }, pg_hba: ['local all all trust'], recovery_conf: { a: 1 } },
  });
  setPath(rich, 'postgresql.create_replica_methods', ['basebackup', 'wal_e']);
  setPath(rich, 'postgresql.wal_e', { command: '/bin/x', no_master: 1 });
  setPath(rich, 'postgresql.pg_ctl_timeout', 60);
  setPath(rich, 'postgresql.remove_data_directory_on_rewind_failure', true);
  setPath(rich, 'postgresql.remove_data_directory_on_diverged_timelines', true);
  setPath(rich, 'postgresql.proxy_address', '10.0.0.1:6432');
  setPath(rich, 'postgresql.use_unix_socket_repl', false);
  const richLoaded = load(rich);
  assert.deepEqual(
    richLoaded.warnings.filter((w) => w.includes('unknown key')),
    [],
  );
});

test('restapi.allowlist: addresses, CIDR networks and host names load without a warning; a bad network is an error', () => {
  const config = setPath(
    setPath(minimal(), 'restapi.allowlist', ['10.0.1.0/24', '127.0.0.1', 'fd00::/8', 'app.example']),
    'restapi.allowlist_include_members',
    'on',
  );
  const loaded = load(config);
  assert.deepEqual(loaded.restapi.allowlist, ['10.0.1.0/24', '127.0.0.1', 'fd00::/8', 'app.example']);
  assert.equal(loaded.restapi.allowlistIncludeMembers, true);
  assert.ok(!loaded.warnings.some((w) => w.includes('allowlist')), loaded.warnings.join('\n'));
  assert.deepEqual([load(minimal()).restapi.allowlist, load(minimal()).restapi.allowlistIncludeMembers], [[], false]);
  for (const bad of ['10.0.0.0/33', 'app.example/24', '10.0.0.0/8/1', '10.0.0.0/x']) {
    assertConfigError(() => load(setPath(minimal(), 'restapi.allowlist', [bad])), 'restapi.allowlist', 'CIDR');
  }
});

test('settings Patroni ignores in the local file, and settings keel does not implement, warn', () => {
  const config = minimal();
  setPath(config, 'ttl', 30);
  setPath(config, 'postgresql.use_slots', false);
  setPath(config, 'postgresql.parameters', { max_connections: 500, work_mem: '8MB' });
  setPath(config, 'bootstrap.method', 'wal_g');
  setPath(config, 'bootstrap.wal_g', { command: '/bin/restore' });
  const warnings = load(config).warnings;
  const has = (prefix: string) =>
    assert.ok(
      warnings.some((w) => w.startsWith(prefix)),
      `no warning for ${prefix}:\n${warnings.join('\n')}`,
    );
  has('ttl: ignored in the local file');
  has('postgresql.use_slots: ignored in the local file');
  has('postgresql.parameters.max_connections: ignored in the local file');
  has('bootstrap.method: custom bootstrap');
  assert.ok(!warnings.some((w) => w.startsWith('bootstrap.wal_g')), 'the custom method section itself is known');
  assert.ok(!warnings.some((w) => w.includes('work_mem')));
});

test('duplicate keys are accepted as PyYAML does (last wins) with a warning naming the line', () => {
  const text = `${toYaml(minimal())}scope: second\n`;
  const config = load(text);
  assert.equal(config.scope, 'second');
  assert.ok(
    config.warnings.some((w) => /^scope: duplicate key .*line \d+/.test(w)),
    config.warnings.join('\n'),
  );
});

test('the pre-1.0 layout (users directly under postgresql) still loads, with a warning', () => {
  const config = minimal();
  const pg = config['postgresql'] as Record<string, unknown>;
  delete pg['authentication'];
  pg['superuser'] = { username: 'postgres' };
  pg['replication'] = { username: 'rep', password: 'r' };
  const loaded = load(config);
  assert.deepEqual(loaded.postgresql.authentication, { superuser: { username: 'postgres' }, replication: { username: 'rep', password: 'r' } });
  assert.ok(loaded.warnings.some((w) => w.includes('old Patroni layout')));
});

test('a directory of *.yml files is merged in name order, as Patroni does', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '00-base.yml'), toYaml(minimal()));
  writeFileSync(join(dir, '10-node.yaml'), 'name: n7\npostgresql:\n  parameters:\n    work_mem: 8MB\n');
  writeFileSync(join(dir, 'README.txt'), 'not yaml: [');
  mkdirSync(join(dir, 'sub.yml'));
  const config = loadConfigFile(dir, {}, { findBinDir: () => '' });
  assert.equal(config.name, 'n7');
  assert.equal(config.postgresql.authentication.superuser.username, 'postgres', 'deep merge keeps the base');
  assert.deepEqual(config.postgresql.parameters, { work_mem: '8MB' });
  assert.equal(config.postgresql.binDir, '', 'no binaries found: PATH');
});

test('PATRONI_CONFIGURATION replaces a missing file, and then other PATRONI_* variables are not read', () => {
  const env = { PATRONI_CONFIGURATION: toYaml(minimal()), PATRONI_NAME: 'ignored', KEEL_LOG_FORMAT: 'json' };
  const config = loadConfigFile('/nonexistent/patroni.yml', env, { findBinDir: () => '' });
  assert.equal(config.name, 'n1');
  assert.equal(config.log.format, 'json', "KEEL_LOG_FORMAT is keel's own and still applies");
  assert.equal(config.file, null);
  assertConfigError(() => loadConfigFile('/nonexistent/patroni.yml', {}), '', 'no such file');
});

test('findPostgresBinDir picks the newest version that has a postgres binary', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'keel-bin-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const v of ['9.6', '13', '16', '17']) mkdirSync(join(root, 'lib', v, 'bin'), { recursive: true });
  for (const v of ['9.6', '13', '16']) writeFileSync(join(root, 'lib', v, 'bin', 'postgres'), '');
  mkdirSync(join(root, 'usr', 'pgsql-15', 'bin'), { recursive: true });
  writeFileSync(join(root, 'usr', 'pgsql-15', 'bin', 'postgres'), '');
  assert.equal(findPostgresBinDir({ debian: join(root, 'lib'), rpmParent: join(root, 'usr') }), join(root, 'lib', '16', 'bin'));
  assert.equal(findPostgresBinDir({ debian: join(root, 'none'), rpmParent: join(root, 'usr') }), join(root, 'usr', 'pgsql-15', 'bin'));
  assert.equal(findPostgresBinDir({ debian: join(root, 'none'), rpmParent: join(root, 'none') }), '');
});

test('parseConfig with empty text builds the configuration from the environment alone', () => {
  const env = {
    PATRONI_SCOPE: 'envonly',
    PATRONI_NAME: 'e1',
    PATRONI_RESTAPI_LISTEN: '10.1.1.1:8008',
    PATRONI_ETCD3_HOSTS: 'e:2379',
    PATRONI_POSTGRESQL_LISTEN: '10.1.1.1:5432',
    PATRONI_POSTGRESQL_DATA_DIR: '/data/pg',
    PATRONI_SUPERUSER_USERNAME: 'postgres',
    PATRONI_REPLICATION_USERNAME: 'rep',
  };
  const config = parseConfig('', null, env, { findBinDir: () => '' });
  assert.equal(config.scope, 'envonly');
  assert.equal(config.file, null);
  assert.deepEqual(config.etcd.endpoints, [{ host: 'e', port: 2379 }]);
  assertConfigError(() => parseConfig('', null, {}), '', 'empty');
});
