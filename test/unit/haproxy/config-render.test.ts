/**
 * `keel haproxy-config`'s text (golden): the seed's layout with a stats listener that works,
 * noloadbalance honoured, the ?lag= bound, the runtime socket, TLS and split API addresses; and
 * the CLI's option parsing, which refuses bad input before anything is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHaproxyConfig, routedMembers, runtimeSocketAddress, type HaproxyRenderOptions, type RoutedMember } from '../../../src/haproxy/config-render.js';
import { parseBind, parseHaproxyTime, parseMaxLag, parseRuntimeSocket, renderOptionsFromFlags } from '../../../src/cli/haproxy-command.js';
import type { ClusterView, Member } from '../../../src/dcs/types.js';

const OPTIONS: HaproxyRenderOptions = {
  scope: 'demo',
  writeBind: '*:5000',
  readBind: '*:5001',
  statsBind: '*:7000',
  inter: '3s',
  fall: 3,
  rise: 2,
  maxLag: null,
  runtimeSocket: null,
};

function member(name: string, ip: string, extra: Partial<RoutedMember> = {}): RoutedMember {
  return { name, pgHost: ip, pgPort: 5432, apiHost: ip, apiPort: 8008, apiTls: false, noloadbalance: false, ...extra };
}

const SEED = [member('node1', '10.0.1.21'), member('node2', '10.0.1.22'), member('node3', '10.0.1.23')];

test("the seed's three nodes, default options", () => {
  assert.equal(
    renderHaproxyConfig(SEED, OPTIONS),
    `# HAProxy for the keel cluster "demo", written by keel haproxy-config from the members
# registered in etcd. Regenerate it when members join or leave. Health checks ask each
# member's REST API; the agents' runtime-API announcements (when configured) only make them faster.

global
    maxconn 1000

defaults
    mode tcp
    # a TCP handshake to a live server on the LAN takes under a millisecond; a dead host must not
    # hold a client for long (a failed connect is retried after min(timeout connect, 1s))
    timeout connect 1s
    # PostgreSQL sessions idle for long (pools, psql): 30s would cut them
    timeout client 30m
    timeout server 30m

# writes: only the leader answers 200 on GET /primary (a replica, a fenced or a stopped leader: 503)
listen postgres_write
    bind *:5000
    option httpchk GET /primary
    # a connection the dead leader refused is retried on whichever server is up by then
    option redispatch 1
    http-check expect status 200
    # a leader marked down loses its sessions: clients reconnect to the new one instead of
    # writing on into a server that no longer holds the leader key
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server node1 10.0.1.21:5432 maxconn 100 check port 8008
    server node2 10.0.1.22:5432 maxconn 100 check port 8008
    server node3 10.0.1.23:5432 maxconn 100 check port 8008

# reads: running replicas answer 200 on GET /replica
listen postgres_read
    bind *:5001
    balance roundrobin
    option httpchk GET /replica
    http-check expect status 200
    default-server inter 3s fall 3 rise 2
    server node1 10.0.1.21:5432 maxconn 100 check port 8008
    server node2 10.0.1.22:5432 maxconn 100 check port 8008
    server node3 10.0.1.23:5432 maxconn 100 check port 8008

# the stats page; it needs mode http (under the tcp default HAProxy ignores the stats lines)
listen stats
    mode http
    bind *:7000
    stats enable
    stats uri /
    stats refresh 5s
`,
  );
});

test('a noloadbalance member is a write target but gets no reads', () => {
  const text = renderHaproxyConfig([SEED[0]!, member('node2', '10.0.1.22', { noloadbalance: true })], OPTIONS);
  const write = text.slice(text.indexOf('listen postgres_write'), text.indexOf('listen postgres_read'));
  const read = text.slice(text.indexOf('listen postgres_read'), text.indexOf('listen stats'));
  assert.match(write, /server node2 10\.0\.1\.22:5432/);
  assert.doesNotMatch(read, /server node2/);
  assert.match(read, /# node2 is tagged noloadbalance: it gets no reads/);
  assert.match(read, /server node1 /);
});

test('--max-lag, fast checks, loopback binds and a runtime socket', () => {
  const text = renderHaproxyConfig(SEED, {
    ...OPTIONS,
    writeBind: '127.0.0.1:15000',
    inter: '1s',
    fall: 2,
    rise: 1,
    maxLag: '16MB',
    runtimeSocket: '/run/haproxy/keel.sock',
  });
  assert.match(text, /\n    bind 127\.0\.0\.1:15000\n/);
  assert.match(text, /\n    option httpchk GET \/replica\?lag=16MB\n/);
  assert.match(text, /# reads: running replicas that stream and replay within 16MB of the leader/);
  assert.match(text, /\n    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions\n/);
  assert.match(text, /\n    stats socket \/run\/haproxy\/keel\.sock mode 600 level admin\n/);
});

test('runtime socket addresses: a path, host:port and [v6]:port', () => {
  assert.equal(runtimeSocketAddress('/run/haproxy/admin.sock'), '/run/haproxy/admin.sock');
  assert.equal(runtimeSocketAddress('127.0.0.1:9999'), 'ipv4@127.0.0.1:9999');
  assert.equal(runtimeSocketAddress('[::1]:9999'), 'ipv6@::1:9999');
});

test('a REST API on another address or over TLS is checked there, in TLS', () => {
  const text = renderHaproxyConfig([member('a', '10.0.0.1', { apiHost: '10.0.9.1', apiPort: 8443, apiTls: true })], OPTIONS);
  assert.match(text, /server a 10\.0\.0\.1:5432 maxconn 100 check check-ssl verify none addr 10\.0\.9\.1 port 8443\n/);
});

function viewOf(members: Partial<Member>[]): ClusterView {
  const full = members.map((m): Member => ({
    name: 'x',
    modRevision: 1,
    leaseId: null,
    connUrl: null,
    apiUrl: null,
    state: 'running',
    role: 'replica',
    xlogLocation: null,
    receiveLsn: null,
    replayLsn: null,
    replicationState: null,
    timeline: null,
    tags: {},
    data: {},
    ...m,
  }));
  return { revision: 1, initialize: null, config: null, leader: null, members: full, failover: null, sync: null, history: null, status: null, failsafe: null };
}

test('members from etcd: sorted, tags read as Patroni publishes them, half-registered ones skipped', () => {
  const { members, skipped } = routedMembers(
    viewOf([
      { name: 'n2', connUrl: 'postgres://127.0.0.1:6002/postgres', apiUrl: 'http://127.0.0.1:8002/patroni', tags: { noloadbalance: true } },
      { name: 'n1', connUrl: 'postgres://[::1]:6001/postgres', apiUrl: 'https://[::1]:8001/patroni' },
      { name: 'n3', connUrl: null, apiUrl: 'http://127.0.0.1:8003/patroni' },
    ]),
  );
  assert.deepEqual(skipped, ['n3']);
  assert.deepEqual(members, [
    { name: 'n1', pgHost: '::1', pgPort: 6001, apiHost: '::1', apiPort: 8001, apiTls: true, noloadbalance: false },
    { name: 'n2', pgHost: '127.0.0.1', pgPort: 6002, apiHost: '127.0.0.1', apiPort: 8002, apiTls: false, noloadbalance: true },
  ]);
  assert.match(renderHaproxyConfig(members, OPTIONS), /server n1 \[::1\]:6001 /);
});

test('a member name HAProxy cannot take is a clear error', () => {
  assert.throws(
    () => routedMembers(viewOf([{ name: 'bad name', connUrl: 'postgres://h:1/postgres', apiUrl: 'http://h:2/patroni' }])),
    /member "bad name" cannot be an HAProxy server name/,
  );
});

test('options: ports, durations, counts, lag and sockets are checked before anything is read', () => {
  assert.equal(parseBind('--write-port', '5000'), '*:5000');
  assert.equal(parseBind('--write-port', '127.0.0.1:5000'), '127.0.0.1:5000');
  assert.throws(() => parseBind('--write-port', '70000'), /--write-port must be a TCP port/);
  assert.throws(() => parseBind('--read-port', 'abc'), /--read-port must be/);
  assert.equal(parseHaproxyTime('--inter', '500ms'), '500ms');
  assert.throws(() => parseHaproxyTime('--inter', '3 seconds'), /--inter must be a positive duration/);
  assert.throws(() => parseHaproxyTime('--inter', '0s'), /--inter must be a positive duration/);
  assert.equal(parseMaxLag('16MB'), '16MB');
  assert.throws(() => parseMaxLag('16mb'), /--max-lag must be a size/);
  assert.throws(() => parseMaxLag('-1'), /--max-lag must be a size/);
  assert.equal(parseRuntimeSocket('/run/haproxy/admin.sock'), '/run/haproxy/admin.sock');
  assert.equal(parseRuntimeSocket('10.0.1.100:9999'), '10.0.1.100:9999');
  assert.throws(() => parseRuntimeSocket('admin.sock'), /--runtime-socket must be/);
  const flags = { writePort: '5000', readPort: '5001', statsPort: '7000', inter: '3s', fall: '3', rise: '2' };
  assert.equal(renderOptionsFromFlags('s', flags).fall, 3);
  assert.throws(() => renderOptionsFromFlags('s', { ...flags, fall: '0' }), /--fall must be a whole number/);
  assert.throws(() => renderOptionsFromFlags('s', { ...flags, rise: '2.5' }), /--rise must be a whole number/);
});
