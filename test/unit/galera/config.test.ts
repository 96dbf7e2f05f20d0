/**
 * galera.yml: the shared sections as in patroni.yml, the galera section's defaults, the
 * durability default and its warning, and one-line errors naming the key path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGaleraConfig } from '../../../src/galera/config.js';
import { ConfigError } from '../../../src/errors.js';

const BASE = `
scope: shop
name: db1
restapi:
  listen: 10.0.1.31:8008
etcd3:
  hosts: 10.0.1.11:2379,10.0.1.12:2379
galera:
  node_address: 10.0.1.31
  data_dir: /var/lib/keel-galera/db1/data
  authentication:
    superuser: {username: keel, password: secret}
`;

test('defaults fill every galera key, durable flush included', () => {
  const config = parseGaleraConfig(BASE, null);
  assert.equal(config.scope, 'shop');
  assert.equal(config.namespace, '/service/');
  assert.deepEqual(config.restapi.connectAddress, { host: '10.0.1.31', port: 8008 });
  assert.deepEqual(config.etcd.endpoints, [
    { host: '10.0.1.11', port: 2379 },
    { host: '10.0.1.12', port: 2379 },
  ]);
  const g = config.galera;
  assert.equal(g.clusterName, 'shop');
  assert.equal(g.listenAddress, '10.0.1.31');
  assert.equal(g.port, 3306);
  assert.equal(g.gmcastPort, 4567);
  assert.equal(g.istPort, 4568);
  assert.equal(g.sstPort, 4444);
  assert.equal(g.sstMethod, 'rsync');
  assert.equal(g.socket, '/var/lib/keel-galera/db1/db1.sock');
  assert.equal(g.configDir, '/var/lib/keel-galera/db1/db1.keel');
  assert.equal(g.provider, '/usr/lib/galera/libgalera_smm.so');
  assert.deepEqual(g.parameters, { innodb_flush_log_at_trx_commit: '1' });
  assert.deepEqual(g.superuser, { username: 'keel', password: 'secret' });
  assert.deepEqual(config.warnings, []);
});

test('innodb_flush_log_at_trx_commit 0 or 2 is kept with a warning about lost commits', () => {
  for (const value of ['0', '2']) {
    const config = parseGaleraConfig(`${BASE}  parameters:\n    innodb-flush-log-at-trx-commit: ${value}\n`, null);
    assert.equal(config.galera.parameters['innodb_flush_log_at_trx_commit'], value);
    assert.equal(config.warnings.length, 1);
    assert.match(config.warnings[0] ?? '', /crash together .* acknowledged are lost/);
  }
});

test('explicit ports, sst method, provider options and parameters are taken', () => {
  const config = parseGaleraConfig(
    `${BASE}  port: 13306\n  gmcast_port: 14567\n  ist_port: 14568\n  sst_port: 14444\n  sst_method: mariabackup\n  slave_threads: 8\n  socket: /run/db1.sock\n  provider_options: {gcache.size: 256M}\n  parameters: {innodb_buffer_pool_size: 64M, skip_name_resolve: true}\n  report_timeout: 30\n`,
    null,
  );
  const g = config.galera;
  assert.deepEqual(
    [g.port, g.gmcastPort, g.istPort, g.sstPort, g.sstMethod, g.slaveThreads, g.socket],
    [13306, 14567, 14568, 14444, 'mariabackup', 8, '/run/db1.sock'],
  );
  assert.deepEqual(g.providerOptions, { 'gcache.size': '256M' });
  assert.deepEqual(g.parameters, { innodb_buffer_pool_size: '64M', skip_name_resolve: 'ON', innodb_flush_log_at_trx_commit: '1' });
  assert.equal(g.reportTimeoutMs, 30_000);
  assert.equal(g.availableWhenDonor, false);
  assert.equal(parseGaleraConfig(`${BASE}  available_when_donor: true\n`, null).galera.availableWhenDonor, true);
});

function configError(text: string): ConfigError {
  try {
    parseGaleraConfig(text, null);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('bad input is one error naming the key path', () => {
  assert.equal(configError(BASE.replace('  node_address: 10.0.1.31\n', '')).path, 'galera.node_address');
  assert.equal(configError(`${BASE}  sst_method: xtrabackup\n`).path, 'galera.sst_method');
  assert.match(configError(`${BASE}  sst_method: xtrabackup\n`).message, /expected rsync or mariabackup/);
  assert.equal(configError(`${BASE}  gmcast_port: 70000\n`).path, 'galera.gmcast_port');
  assert.equal(configError(BASE.replace('password: secret', 'password: ""')).path, 'galera.authentication.superuser.password');
  assert.equal(configError(BASE.replace(/etcd3:\n.*\n/, '')).path, 'etcd3');
  const owned = configError(`${BASE}  parameters: {wsrep_provider: /tmp/x.so}\n`);
  assert.equal(owned.path, 'galera.parameters.wsrep_provider');
  assert.match(owned.message, /set by keel/);
});
