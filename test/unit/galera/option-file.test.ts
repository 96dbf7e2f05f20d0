/** The option file keel renders: the seed's Galera settings, keel's addresses, the operator's parameters last. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGaleraConfig } from '../../../src/galera/config.js';
import { clusterAddress, renderOptionFile } from '../../../src/galera/option-file.js';

const config = parseGaleraConfig(
  `
scope: shop
name: db1
restapi: {listen: 127.0.0.1:8008}
etcd3: {hosts: 127.0.0.1:2379}
galera:
  node_address: 127.0.0.1
  port: 13306
  gmcast_port: 14567
  ist_port: 14568
  sst_port: 14444
  data_dir: /tmp/g/db1/data
  provider_options: {gcache.size: 64M}
  parameters: {innodb_buffer_pool_size: 32M}
  authentication: {superuser: {username: keel, password: "p w"}}
`,
  null,
);

test('the rendered file carries the seed settings and keel-owned addresses', () => {
  const text = renderOptionFile({
    name: 'db1',
    node: config.galera,
    peers: [
      { host: '127.0.0.1', port: 14577 },
      { host: '127.0.0.1', port: 14587 },
    ],
    errorLog: '/tmp/g/db1/db1.keel/error.log',
    pidFile: '/tmp/g/db1/db1.keel/mariadbd.pid',
  });
  const lines = text.split('\n');
  for (const expected of [
    '[mariadbd]',
    'datadir=/tmp/g/db1/data',
    'port=13306',
    'wsrep_on=ON',
    'wsrep_provider=/usr/lib/galera/libgalera_smm.so',
    'wsrep_cluster_name=shop',
    'wsrep_cluster_address=gcomm://127.0.0.1:14577,127.0.0.1:14587',
    'wsrep_node_name=db1',
    'wsrep_node_address=127.0.0.1:14567',
    'wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:14567;ist.recv_addr=127.0.0.1:14568;gcache.size=64M"',
    'wsrep_sst_receive_address=127.0.0.1:14444',
    'wsrep_sst_method=rsync',
    'wsrep_slave_threads=4',
    'wsrep_sst_auth="keel:p w"',
    'binlog_format=ROW',
    'default_storage_engine=InnoDB',
    'innodb_autoinc_lock_mode=2',
    'innodb_flush_log_at_trx_commit=1',
    'innodb_buffer_pool_size=32M',
  ]) {
    assert.ok(lines.includes(expected), `missing ${expected} in\n${text}`);
  }
});

test('a new cluster has an empty gcomm address; the address list is stable', () => {
  assert.equal(clusterAddress([]), 'gcomm://');
  assert.equal(
    clusterAddress([
      { host: 'b', port: 1 },
      { host: 'a', port: 2 },
      { host: 'a', port: 2 },
      { host: '::1', port: 3 },
    ]),
    'gcomm://[::1]:3,a:2,b:1',
  );
});
