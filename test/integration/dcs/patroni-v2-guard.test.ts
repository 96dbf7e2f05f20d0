/**
 * An agent whose file names etcd with `etcd:` (Patroni's v2 protocol; keel reads it as v3) checks
 * etcd's v2 store first, on a real etcd 3.4 started with --enable-v2: while a Patroni leader key
 * (Patroni's v2 layout, a value with a TTL) exists for the cluster, `keel agent` refuses to start
 * with one line and leaves no data directory; without one it goes on, and an etcd without the v2
 * API (the default since 3.4, the seed's 3.5) answers 404, which lets it through too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshScope, startFixture, type EtcdFixture } from './etcd-fixture.js';
import { refuseLivePatroniV2Cluster } from '../../../src/dcs/patroni-v2-guard.js';
import { freePorts } from '../../../src/sandbox/ports.js';
import { runKeel } from '../../support/sandbox.js';

let withV2: EtcdFixture;
let withoutV2: EtcdFixture;
let dir: string;

before(async () => {
  [withV2, withoutV2] = await Promise.all([startFixture(1, 'v2', ['--enable-v2=true']), startFixture(1, 'no-v2')]);
  dir = await mkdtemp(join(tmpdir(), 'keel-v2-guard-'));
});

after(async () => {
  await Promise.all([withV2?.teardown(), withoutV2?.teardown()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const endpointUrl = (fixture: EtcdFixture): string => {
  const endpoint = fixture.cluster.endpoints[0];
  assert.ok(endpoint !== undefined);
  return `http://${endpoint.host}:${endpoint.port}`;
};

/** The leader key a Patroni 3.0.2 with an `etcd:` section writes: /<namespace>/<scope>/leader = its name, with the ttl. */
async function patroniV2Leader(scope: string, name: string): Promise<void> {
  const response = await fetch(`${endpointUrl(withV2)}/v2/keys/service/${scope}/leader`, {
    method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `value=${name}&ttl=120`,
  });
  assert.equal(response.status, 201, await response.text());
}

function guard(fixture: EtcdFixture, scope: string, warnings: string[] = []): Promise<void> {
  return refuseLivePatroniV2Cluster({
    etcd: { ...fixture.etcd, section: 'etcd' },
    namespace: '/service/',
    scope,
    deadlineMs: 5000,
    warn: (message) => void warnings.push(message),
  });
}

test('a Patroni leader key in the v2 store refuses the check; another scope, or an etcd without v2, passes it', async () => {
  const live = freshScope('patroni');
  await patroniV2Leader(live, 'node9');
  await assert.rejects(guard(withV2, live), (error: Error) => {
    assert.match(error.message, new RegExp(`^etcd's v2 store shows Patroni running cluster '${live}' \\(leader node9, .*/v2/keys/service/${live}/leader\\)`));
    return true;
  });
  const warnings: string[] = [];
  await guard(withV2, freshScope('empty'), warnings);
  await guard(withoutV2, live, warnings);
  assert.deepEqual(warnings, []);
  // the v2 API is really off there: etcd's plain 404, not a v2 "key not found"
  const off = await fetch(`${endpointUrl(withoutV2)}/v2/keys/service/${live}/leader`);
  assert.equal(off.status, 404);
  assert.doesNotMatch(await off.text(), /errorCode/);
});

test('no etcd answering: the check warns and lets the agent go on (it can take no key without etcd either)', async () => {
  const [port] = await freePorts(1);
  const warnings: string[] = [];
  await refuseLivePatroniV2Cluster({
    etcd: { section: 'etcd', protocol: 'http', endpoints: [{ host: '127.0.0.1', port: port ?? 1 }] },
    namespace: '/service/',
    scope: 'nobody',
    deadlineMs: 1500,
    warn: (message) => void warnings.push(message),
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /^could not check etcd's v2 store for a Patroni cluster 'nobody' \(the file names etcd with etcd:\): .*ECONNREFUSED/);
});

test('keel agent with an etcd: section beside a live Patroni v2 cluster exits with one line and creates nothing', { timeout: 60_000 }, async () => {
  const scope = freshScope('seedlike');
  await patroniV2Leader(scope, 'node1');
  const [apiPort, pgPort] = await freePorts(2);
  const dataDir = join(dir, 'data');
  const config = join(dir, 'node2.yml');
  const endpoint = withV2.cluster.endpoints[0];
  await writeFile(
    config,
    [
      `scope: ${scope}`,
      'namespace: /service/',
      'name: node2',
      'restapi:',
      `  listen: 127.0.0.1:${apiPort}`,
      `  connect_address: 127.0.0.1:${apiPort}`,
      'etcd:',
      `  hosts: ${endpoint?.host}:${endpoint?.port}`,
      'postgresql:',
      `  listen: 127.0.0.1:${pgPort}`,
      `  connect_address: 127.0.0.1:${pgPort}`,
      `  data_dir: ${dataDir}`,
      '  authentication:',
      '    superuser: {username: postgres, password: su}',
      '    replication: {username: replicator, password: rep}',
      '',
    ].join('\n'),
  );
  const result = await runKeel(['agent', config], { timeoutMs: 30_000 });
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(
      `^keel: etcd's v2 store shows Patroni running cluster '${scope}' \\(leader node1, [^\\n]*\\nhint: move the Patroni cluster to an etcd3: section first`,
    ),
  );
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  await assert.rejects(access(dataDir), 'no data directory');
});
