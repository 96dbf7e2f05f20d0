/**
 * An agent whose file names etcd with `etcd:` (Patroni's v2 protocol; keel reads it as v3) checks
 * etcd's v2 store first, on a real etcd 3.4 started with --enable-v2: while a Patroni leader key
 * (Patroni's v2 layout, a value with a TTL) exists for the cluster, `keel agent` refuses to start
 * with one line and leaves no data directory; without one it goes on, and an etcd without the v2
 * API (the default since 3.4, the seed's 3.5) answers 404, which lets it through too. The last
 * test runs a real Patroni 3.0.2 with an `etcd:` file (it bootstraps PostgreSQL and leads on v2
 * keys) and starts keel beside it with the same kind of file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshScope, startFixture, type EtcdFixture } from './etcd-fixture.js';
import { refuseLivePatroniV2Cluster } from '../../../src/dcs/patroni-v2-guard.js';
import { freePorts } from '../../../src/sandbox/ports.js';
import { isAlive } from '../../../src/sandbox/process-alive.js';
import { eventually, postmasterPidOf, runKeel } from '../../support/sandbox.js';
import { renderNodeConfig, type SandboxPlan } from '../../../src/sandbox/node-config.js';
import { spawnAgent } from '../../../src/sandbox/sandbox.js';
import { findPostgresBinDir } from '../../../src/config/load.js';
import { giveToPostgres } from '../../../src/postgres/os-user.js';

let withV2: EtcdFixture;
let withoutV2: EtcdFixture;
let dir: string;
/** The real Patroni of the last test (0: none), and its PostgreSQL: stopped by PID in after(). */
let patroniPid = 0;

before(async () => {
  [withV2, withoutV2] = await Promise.all([startFixture(1, 'v2', ['--enable-v2=true']), startFixture(1, 'no-v2')]);
  dir = await mkdtemp(join(tmpdir(), 'keel-v2-guard-'));
  await chmod(dir, 0o755); // Patroni runs as the postgres OS user, which must reach its files below
});

after(async () => {
  // Patroni first (it would start PostgreSQL again), then its postmaster by a fast shutdown, which
  // reaps its own children
  const postmaster = dir === undefined ? null : await postmasterPidOf(join(dir, 'node1', 'data'));
  signal(patroniPid, 'SIGKILL');
  if (postmaster !== null) {
    signal(postmaster, 'SIGINT');
    for (let i = 0; i < 100 && isAlive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
    signal(postmaster, 'SIGKILL');
  }
  await Promise.all([withV2?.teardown(), withoutV2?.teardown()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    if (pid > 0) process.kill(pid, name);
  } catch {
    // already gone
  }
}

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

test(
  'keel agent with an etcd: section beside a real Patroni 3.0.2 leading on v2 keys exits with one line and creates nothing',
  { timeout: 180_000 },
  async () => {
    const scope = freshScope('seedlike');
    const endpoint = withV2.cluster.endpoints[0];
    assert.ok(endpoint !== undefined);
    const ports = await freePorts(4);
    const plan: SandboxPlan = {
      scope,
      namespace: '/service/',
      host: '127.0.0.1',
      etcdEndpoints: [`${endpoint.host}:${endpoint.port}`],
      timings: { ttlS: 30, loopWaitS: 2, retryTimeoutS: 10 },
      binDir: findPostgresBinDir(),
      superuserPassword: 'su-pass',
      replicationPassword: 'rep-pass',
      rewindPassword: 'rewind-pass',
      nodes: ['node1', 'node2'].map((name, i) => ({
        name,
        pgPort: ports[2 * i] ?? 0,
        apiPort: ports[2 * i + 1] ?? 0,
        dataDir: join(dir, name, 'data'),
        socketDir: join(dir, name),
      })),
    };
    // both files as the seed writes them: `etcd:`, which Patroni speaks as v2
    const configs: string[] = [];
    for (const node of plan.nodes) {
      await mkdir(node.socketDir, { recursive: true, mode: 0o755 });
      await giveToPostgres(node.socketDir);
      const text = renderNodeConfig(plan, node).replace(/^etcd3:/m, 'etcd:');
      assert.match(text, /^etcd:\n {2}hosts: /m);
      configs.push(join(node.socketDir, `${node.name}.yml`));
      await writeFile(configs.at(-1) ?? '', text);
    }
    const [first, second] = plan.nodes;
    assert.ok(first !== undefined && second !== undefined);
    patroniPid = await spawnAgent(configs[0] ?? '', join(dir, 'patroni.log'), 'patroni');
    const leader = await eventually(
      'Patroni holding the v2 leader key',
      120_000,
      async () => {
        const response = await fetch(`${endpointUrl(withV2)}/v2/keys/service/${scope}/leader`).catch(() => null);
        if (response?.status !== 200) return undefined;
        return ((await response.json()) as { node?: { value?: string } }).node?.value;
      },
      500,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${(await readFile(join(dir, 'patroni.log'), 'utf8').catch(() => '')).slice(-3000)}`);
    });
    assert.equal(leader, 'node1');

    const result = await runKeel(['agent', configs[1] ?? ''], { timeoutMs: 30_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^keel: etcd's v2 store shows Patroni running cluster '${scope}' \\(leader node1, [^\\n]*\\nhint: move the Patroni cluster to an etcd3: section first`,
      ),
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    await assert.rejects(access(second.dataDir), 'no data directory');
    // Patroni's own bootstrap ends with its PostgreSQL running as the primary: after() then stops
    // exactly two processes by PID (no initdb of its left running)
    await eventually(
      "Patroni's PostgreSQL up as the primary",
      120_000,
      async () => ((await fetch(`http://127.0.0.1:${first.apiPort}/primary`).catch(() => null))?.status === 200 ? true : undefined),
      500,
    );
  },
);
