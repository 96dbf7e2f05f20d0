/**
 * etcd over TLS (Patroni's etcd3 protocol: https, cacert, cert, key), against a real etcd
 * serving https on loopback:
 *  - with --client-cert-auth, an EtcdDcs built from a patroni.yml's etcd3 section (CA + client
 *    certificate) loads the cluster, writes and watches;
 *  - a wrong CA, or no client certificate, fails at once with a one-line error that names TLS,
 *    instead of retrying until the deadline as for an unreachable etcd;
 *  - username/password (etcd auth) work over TLS too, the token travelling on the TLS connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig } from '../../../src/config/load.js';
import { DcsUnavailableError, EtcdError } from '../../../src/engine/etcd/etcd-errors.js';
import type { WatchEvent } from '../../../src/dcs/types.js';
import { freshScope, startFixture, waitFor, type EtcdFixture } from '../dcs/etcd-fixture.js';
import { makeTestCertificates, removeTestCertificates, type TestCertificates } from '../../support/tls-certs.js';

const run = promisify(execFile);
let certs: TestCertificates;
/** etcd requiring client certificates. */
let mutual: EtcdFixture;
/** etcd over https with username/password auth enabled (no client certificates). */
let withAuth: EtcdFixture;

async function etcdctl(fixture: EtcdFixture, ...args: string[]): Promise<void> {
  const endpoints = fixture.cluster.endpoints.map((e) => `https://${e.host}:${e.port}`).join(',');
  await run('etcdctl', [`--endpoints=${endpoints}`, `--cacert=${certs.caCert}`, ...args], { timeout: 20_000, env: { ...process.env, ETCDCTL_API: '3' } });
}

before(async () => {
  certs = makeTestCertificates();
  const server = { ca: certs.caCert, cert: certs.serverCert, key: certs.serverKey };
  mutual = await startFixture(1, 'tls-mutual', [], {
    server: { ...server, clientCertAuth: { cert: certs.clientCert, key: certs.clientKey } },
    client: { cacert: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
  });
  withAuth = await startFixture(1, 'tls-auth', [], { server, client: { cacert: certs.caCert } });
  await etcdctl(withAuth, 'user', 'add', 'root:rootpw');
  await etcdctl(withAuth, 'user', 'add', 'keel:keelpw');
  await etcdctl(withAuth, 'role', 'add', 'keel');
  await etcdctl(withAuth, 'role', 'grant-permission', 'keel', '--prefix=true', 'readwrite', '/service/');
  await etcdctl(withAuth, 'user', 'grant-role', 'keel', 'keel');
  await etcdctl(withAuth, 'auth', 'enable');
});

after(async () => {
  await mutual?.teardown();
  await withAuth?.teardown();
  removeTestCertificates(certs);
});

/** The etcd3 section of a patroni.yml pointing at `fixture`, loaded the way the agent loads it. */
function etcdFromConfig(fixture: EtcdFixture, section: string, hosts = fixture.cluster.endpoints.map((e) => `${e.host}:${e.port}`).join(',')) {
  const text = `scope: s
name: n1
restapi: {listen: "127.0.0.1:8008"}
etcd3:
  hosts: "${hosts}"
${section}
postgresql:
  listen: "127.0.0.1:5432"
  data_dir: /tmp/keel-unused
  authentication: {superuser: {username: postgres, password: p}, replication: {username: r, password: r}}
`;
  return parseConfig(text, '/etc/keel/tls.yml', {}, { findBinDir: () => '' }).etcd;
}

test('with CA and client certificate from etcd3 (protocol https, cacert, cert, key) EtcdDcs loads, writes and watches', async () => {
  const etcd = etcdFromConfig(mutual, `  protocol: https\n  cacert: ${certs.caCert}\n  cert: ${certs.clientCert}\n  key: ${certs.clientKey}`);
  assert.equal(etcd.protocol, 'https');
  const scope = freshScope('tls');
  const writer = mutual.dcs('n1', { scope, etcd });
  const watcher = mutual.dcs('n2', { scope, etcd });
  const view = await watcher.loadCluster();
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  try {
    watcher.watch(view.revision, (event) => events.push(event), controller.signal);
    assert.equal(await writer.attemptToAcquireLeader(), true);
    await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader)), 10_000, 'a watch event over TLS');
    assert.equal((await watcher.loadCluster()).leader?.name, 'n1');
  } finally {
    controller.abort();
  }
});

test('a certificate and key in one file (etcd3.cert alone, as python-etcd allows) work too', async () => {
  const etcd = etcdFromConfig(mutual, `  protocol: https\n  ca_cert: ${certs.caCert}\n  cert: ${certs.clientCombined}`);
  const dcs = mutual.dcs('n1', { scope: freshScope('tls-combined'), etcd });
  assert.equal((await dcs.loadCluster()).leader, null);
});

test('https:// in etcd3.hosts selects TLS as protocol: https does', async () => {
  const hosts = mutual.cluster.endpoints.map((e) => `https://${e.host}:${e.port}`).join(',');
  const etcd = etcdFromConfig(mutual, `  cacert: ${certs.caCert}\n  cert: ${certs.clientCert}\n  key: ${certs.clientKey}`, hosts);
  assert.equal(etcd.protocol, 'https');
  const dcs = mutual.dcs('n1', { scope: freshScope('tls-scheme'), etcd });
  assert.equal((await dcs.loadCluster()).leader, null);
});

test('a wrong CA fails at once with an error that names TLS verification', async () => {
  const dcs = mutual.dcs('n1', {
    scope: freshScope('tls-wrong-ca'),
    retryTimeoutMs: 20_000,
    etcd: { ...mutual.etcd, cacert: certs.otherCaCert },
  });
  const started = performance.now();
  await assert.rejects(dcs.loadCluster(), (error: unknown) => {
    assert.ok(error instanceof DcsUnavailableError, String(error));
    assert.match(error.message, /TLS verification of the server's certificate failed/);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
  // Not a retry loop until the 20 s deadline: a certificate does not get better by retrying.
  assert.ok(performance.now() - started < 10_000, `took ${Math.round(performance.now() - started)} ms`);
});

test('without a client certificate etcd --client-cert-auth refuses, and the error says a certificate is wanted', async () => {
  const dcs = mutual.dcs('n1', {
    scope: freshScope('tls-no-cert'),
    retryTimeoutMs: 20_000,
    etcd: { endpoints: mutual.etcd.endpoints, protocol: 'https', cacert: certs.caCert },
  });
  await assert.rejects(dcs.loadCluster(), (error: unknown) => {
    assert.ok(error instanceof DcsUnavailableError, String(error));
    assert.match(error.message, /client certificate/);
    return true;
  });
});

test('a TLS file that cannot be read is a clear error when the client is made', () => {
  assert.throws(
    () => mutual.dcs('n1', { etcd: { ...mutual.etcd, cacert: `${certs.dir}/missing.crt` } }),
    (error: unknown) => error instanceof EtcdError && /etcd TLS: cannot read .*missing\.crt: no such file/.test(error.message),
  );
});

test('username and password work over TLS, and a wrong password is still auth_failed', async () => {
  const scope = freshScope('tls-auth');
  const etcd = etcdFromConfig(withAuth, `  protocol: https\n  cacert: ${certs.caCert}\n  username: keel\n  password: keelpw`);
  const dcs = withAuth.dcs('n1', { scope, etcd });
  const watcher = withAuth.dcs('n2', { scope, etcd });
  const view = await watcher.loadCluster();
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  try {
    watcher.watch(view.revision, (event) => events.push(event), controller.signal);
    assert.equal(await dcs.attemptToAcquireLeader(), true);
    await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader)), 10_000, 'a watch event with auth over TLS');
  } finally {
    controller.abort();
  }
  const wrong = withAuth.dcs('n3', { scope, etcd: { ...etcd, password: 'wrong' } });
  await assert.rejects(wrong.loadCluster(), (error: unknown) => error instanceof EtcdError && error.kind === 'auth_failed');
});
