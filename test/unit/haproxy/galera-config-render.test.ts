/**
 * `keel haproxy-config` for a Galera cluster (golden): writes to the one node answering 200 on
 * /writer, reads to the nodes answering 200 on /health, sessions shut when a server goes down, a
 * stats page in mode http; nodes read from their etcd registrations, those without addresses left
 * out; and the text is accepted by the real `haproxy -c`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { galeraRoutedNodes, renderGaleraHaproxyConfig, type GaleraHaproxyOptions } from '../../../src/haproxy/galera-config-render.js';

const OPTIONS: GaleraHaproxyOptions = { scope: 'shop', writeBind: '*:5000', readBind: '*:5001', statsBind: '*:7000', inter: '3s', fall: 3, rise: 2 };

const SEED = galeraRoutedNodes([
  { name: 'db3', sql: '10.0.1.33:3306', apiUrl: 'http://10.0.1.33:8008' },
  { name: 'db1', sql: '10.0.1.31:3306', apiUrl: 'http://10.0.1.31:8008' },
  { name: 'db2', sql: '10.0.1.32:3306', apiUrl: 'http://10.0.2.32:9008' },
]).nodes;

const GOLDEN = `# HAProxy for the keel Galera cluster "shop", written by keel haproxy-config from the
# nodes registered in etcd. Regenerate it when nodes join or leave. Health checks ask each
# node's keel agent (its REST API), which reads the node's wsrep status every cycle.

global
    maxconn 1000

defaults
    mode tcp
    # a dead node must not hold a client for long; a refused connect is retried elsewhere
    timeout connect 1s
    # MariaDB sessions idle for long (pools, the mariadb client): 30s would cut them
    timeout client 30m
    timeout server 30m

# writes: one node takes them all, so that two writers never meet in certification (one of two
# conflicting commits would fail). Only the writer answers 200 on GET /writer: a Synced node in a
# Primary component holding the etcd writer key; every other node answers 503 with the reason.
listen galera_write
    bind *:5000
    option httpchk GET /writer
    http-check expect status 200
    # a connection the old writer refused is retried on whichever server is up by then
    option redispatch 1
    # a writer marked down loses its sessions: clients reconnect to the new writer instead of
    # writing on through the old one next to it
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server db1 10.0.1.31:3306 maxconn 100 check port 8008
    server db2 10.0.1.32:3306 maxconn 100 check addr 10.0.2.32 port 9008
    server db3 10.0.1.33:3306 maxconn 100 check port 8008

# reads: every node that answers 200 on GET /health (clustercheck's rule: Synced, Primary,
# wsrep_ready ON, read_only OFF); a joiner, a donor or a Non-Primary node answers 503
listen galera_read
    bind *:5001
    balance leastconn
    option httpchk GET /health
    http-check expect status 200
    # a node that leaves the Primary component would serve stale reads: its sessions go too
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server db1 10.0.1.31:3306 maxconn 100 check port 8008
    server db2 10.0.1.32:3306 maxconn 100 check addr 10.0.2.32 port 9008
    server db3 10.0.1.33:3306 maxconn 100 check port 8008

# the stats page; it needs mode http (under the tcp default HAProxy ignores the stats lines)
listen stats
    mode http
    bind *:7000
    stats enable
    stats uri /
    stats refresh 5s
`;

test('three Galera nodes: writes to /writer, reads to /health, the API on another address where it is', () => {
  assert.equal(renderGaleraHaproxyConfig(SEED, OPTIONS), GOLDEN);
});

test('registrations without a SQL or plain-http API address are left out, by name; an impossible server name is refused', () => {
  const { nodes, skipped } = galeraRoutedNodes([
    { name: 'g2', sql: undefined, apiUrl: 'http://127.0.0.1:8008' },
    { name: 'g1', sql: '[::1]:3306', apiUrl: 'http://[::1]:8008' },
    { name: 'g3', sql: '127.0.0.1:3306', apiUrl: 'https://127.0.0.1:8008' },
    { name: 'g4', sql: 'no-port', apiUrl: 'http://127.0.0.1:8008' },
  ]);
  assert.deepEqual(nodes, [{ name: 'g1', sqlHost: '::1', sqlPort: 3306, apiHost: '::1', apiPort: 8008 }]);
  assert.deepEqual(skipped, ['g2', 'g3', 'g4']);
  assert.match(renderGaleraHaproxyConfig(nodes, OPTIONS), /server g1 \[::1\]:3306 maxconn 100 check port 8008/);
  assert.throws(() => galeraRoutedNodes([{ name: 'bad name', sql: '127.0.0.1:3306', apiUrl: 'http://127.0.0.1:8008' }]), /cannot be an HAProxy server name/);
});

test('no node registered yet: empty backends, said in a comment', () => {
  const text = renderGaleraHaproxyConfig([], OPTIONS);
  assert.match(text, /# no node was registered: every backend is empty/);
  assert.doesNotMatch(text, /^\s+server /m);
});

test('haproxy -c accepts the rendered configuration', { skip: !existsSync('/usr/sbin/haproxy') && 'no /usr/sbin/haproxy' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-galera-haproxy-'));
  try {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(
      file,
      renderGaleraHaproxyConfig(SEED, { ...OPTIONS, writeBind: '127.0.0.1:5000', readBind: '127.0.0.1:5001', statsBind: '127.0.0.1:7000' }),
    );
    const check = spawnSync('/usr/sbin/haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.doesNotMatch(check.stdout + check.stderr, /\[WARNING\]/, 'no warning either');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
