/**
 * A network partition on three Galera hosts (network namespaces, test/support/netns-lab.ts): each
 * host runs one etcd member, one keel agent and one MariaDB + Galera node, talking over the
 * cluster network; the test reaches them on the client network.
 *
 * The writer's host loses its cluster link (the minority of one). Its node goes Non-Primary and
 * stays so for the whole partition — well past non_primary_timeout and the agents' lease ttl — and
 * is never re-bootstrapped with pc.bootstrap: its agent cannot reach an etcd majority, so it never
 * holds the bootstrap lock (read from the majority's etcd) and says so in its log. The majority
 * stays a Primary component of 2, elects a new writer among itself and keeps acknowledging writes.
 * Once the link is back the node rejoins by IST (same mariadbd, no SST), the cluster is 3 again,
 * and the rows written during the partition are on it.
 *
 * Then the writer's agent alone loses etcd (nftables drops its host's traffic to etcd's client
 * port; Galera's links stay up): its node stays Synced in the Primary component, but the agent
 * stops answering 200 on /writer before its lease can expire, and another node takes the key —
 * at no moment do two nodes answer 200 on /writer.
 * Every process runs in the lab's namespaces and is stopped by lab.close(), also on failure.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startLab, type Lab, type LabHost } from '../../support/netns-lab.js';
import { startEtcdOnLab, type LabEtcd } from '../../support/netns-etcd.js';
import { GALERA_USER, KEEL_MAIN, isAlive } from '../../support/galera-lab.js';
import { waitFor } from '../dcs/etcd-fixture.js';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';

const SQL_PORT = 3306;
const API_PORT = 8008;
const TTL_S = 5;
const NON_PRIMARY_TIMEOUT_S = 3;
/** How long the minority stays cut off: several times non_primary_timeout and the lease ttl. */
const PARTITION_MS = 15_000;
const NFT_TABLE = 'keel_galera_cut';
const PREFIX = '/service/shop/galera/';

interface HostNode {
  name: string;
  host: LabHost;
  home: string;
  config: string;
  log: string;
}

let dir = '';
let lab: Lab | null = null;
let etcd: LabEtcd | null = null;
const nodes: HostNode[] = [];

function galeraYml(node: HostNode, etcdHosts: string[]): string {
  return [
    'scope: shop',
    `name: ${node.name}`,
    'loop_wait: 1',
    `ttl: ${TTL_S}`,
    `restapi: {listen: "0.0.0.0:${API_PORT}", connect_address: "${node.host.clusterAddress}:${API_PORT}"}`,
    `etcd3: {hosts: "${etcdHosts.join(',')}"}`,
    'galera:',
    `  node_address: ${node.host.clusterAddress}`,
    '  listen_address: 0.0.0.0',
    `  port: ${SQL_PORT}`,
    `  data_dir: ${join(node.home, 'data')}`,
    `  config_dir: ${join(node.home, 'conf')}`,
    `  socket: ${join(node.home, 'mysqld.sock')}`,
    '  slave_threads: 2',
    '  report_timeout: 5',
    `  non_primary_timeout: ${NON_PRIMARY_TIMEOUT_S}`,
    '  provider_options: {gcache.size: 32M}',
    '  parameters: {innodb_buffer_pool_size: 32M, innodb_log_file_size: 16M, performance_schema: "OFF"}',
    `  authentication: {superuser: {username: ${GALERA_USER.user}, password: ${GALERA_USER.password}}}`,
    '',
  ].join('\n');
}

async function sqlOn<T>(node: HostNode, body: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ host: node.host.clientAddress, port: SQL_PORT, ...GALERA_USER, connectTimeout: 3_000 });
  try {
    return await body(connection);
  } finally {
    connection.destroy();
  }
}

/** wsrep_cluster_status / size / local state as the server itself reports them ('' when it does not answer). */
async function wsrep(node: HostNode): Promise<{ status: string; size: number; state: string }> {
  try {
    return await sqlOn(node, async (c) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_cluster_size', 'wsrep_local_state_comment')",
      );
      const value = (name: string) => String(rows.find((row) => row['Variable_name'] === name)?.['Value'] ?? '');
      return { status: value('wsrep_cluster_status'), size: Number(value('wsrep_cluster_size')), state: value('wsrep_local_state_comment') };
    });
  } catch {
    return { status: '', size: 0, state: '' };
  }
}

async function apiStatus(node: HostNode, path: string): Promise<number> {
  try {
    return (await fetch(`http://${node.host.clientAddress}:${API_PORT}${path}`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

async function logs(): Promise<string> {
  const parts: string[] = [];
  for (const node of nodes) {
    const agent = await readFile(node.log, 'utf8').catch(() => '');
    const server = await readFile(join(node.home, 'conf', 'error.log'), 'utf8').catch(() => '');
    parts.push(`--- ${node.name} agent\n${agent.split('\n').slice(-25).join('\n')}\n--- ${node.name} mariadbd\n${server.split('\n').slice(-10).join('\n')}`);
  }
  return parts.join('\n');
}

async function waitWithLogs(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(check, timeoutMs, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await logs()}`);
  }
}

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'keel-galera-hosts-'));
    await chmod(dir, 0o755); // mariadbd runs as the mysql OS user and must reach its directories
    lab = await startLab({ hosts: 3, dir });
    etcd = await startEtcdOnLab(lab, { dir: join(dir, 'etcd') });
    for (const [index, host] of lab.hosts.entries()) {
      const home = join(dir, host.name);
      await mkdir(home, { mode: 0o755 });
      const chown = spawnSync('chown', ['mysql:mysql', home]);
      if (chown.status !== 0) throw new Error(`chown failed: ${String(chown.stderr)}`);
      const node: HostNode = { name: `g${index + 1}`, host, home, config: join(dir, `${host.name}.yml`), log: join(dir, `${host.name}.agent.log`) };
      await writeFile(node.config, galeraYml(node, etcd.endpointsFor(host)));
      nodes.push(node);
    }
    for (const node of nodes) await lab.spawn(node.host, process.execPath, [KEEL_MAIN, 'agent', node.config], { logFile: node.log });
  },
  { timeout: 90_000 },
);

after(
  async () => {
    await lab?.close();
    if (dir !== '' && process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  },
  { timeout: 90_000 },
);

test('a partitioned node stays Non-Primary and is never re-bootstrapped; the majority writes on; healed, it rejoins by IST', { timeout: 300_000 }, async () => {
  assert.ok(lab !== null && etcd !== null);
  await waitWithLogs(
    async () => (await Promise.all(nodes.map(async (n) => (await apiStatus(n, '/health')) === 200 && (await wsrep(n)).size === 3))).every(Boolean),
    150_000,
    'three Synced nodes in a Primary component of 3',
  );
  const first = nodes[0] as HostNode;
  await sqlOn(first, (c) => c.query('CREATE DATABASE shop'));
  await sqlOn(first, (c) => c.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))'));

  // the minority is the writer's host: the majority must also elect a new writer
  let writers: HostNode[] = [];
  await waitWithLogs(
    async () => {
      writers = (await Promise.all(nodes.map(async (n) => ((await apiStatus(n, '/writer')) === 200 ? n : null)))).filter((n): n is HostNode => n !== null);
      return writers.length === 1;
    },
    20_000,
    'one writer',
  );
  const minority = writers[0] as HostNode;
  const majority = nodes.filter((n) => n !== minority);
  const minorityPid = Number((await readFile(join(minority.home, 'conf', 'mariadbd.pid'), 'utf8')).trim());
  const agentLogStart = (await readFile(minority.log, 'utf8')).length;
  const errorLogStart = (await readFile(join(minority.home, 'conf', 'error.log'), 'utf8')).length;
  const majorityEtcd = new EtcdClient({
    endpoints: majority.map((n) => ({ host: n.host.clientAddress, port: 2379 })),
    protocol: 'http',
    requestTimeoutMs: 3_000,
  });
  try {
    await lab.setLink(minority.host, 'cluster', false);
    const cutAt = performance.now();
    await waitWithLogs(async () => (await wsrep(minority)).status === 'non-Primary', 30_000, `${minority.name} Non-Primary`);
    await waitWithLogs(
      async () => (await Promise.all(majority.map(async (n) => (await wsrep(n)).status === 'Primary' && (await wsrep(n)).size === 2))).every(Boolean),
      30_000,
      'the majority a Primary component of 2',
    );
    let newWriter: HostNode | null = null;
    await waitWithLogs(
      async () => {
        for (const n of majority) if ((await apiStatus(n, '/writer')) === 200) newWriter = n;
        return newWriter !== null;
      },
      TTL_S * 1000 + 20_000,
      'a writer in the majority',
    );
    // its agent reads the server every second, apart from its cycle (which waits on an etcd without quorum)
    await waitWithLogs(async () => (await apiStatus(minority, '/health')) === 503, 5_000, `${minority.name}'s /health answering 503`);
    assert.equal(await apiStatus(minority, '/writer'), 503, `${minority.name} no longer claims to be the writer`);
    // for the whole partition: the minority never Primary, never holding the bootstrap lock; the majority acknowledges writes
    const acknowledged: number[] = [];
    const seen = new Set<string>();
    let id = 100;
    while (performance.now() - cutAt < PARTITION_MS) {
      const state = await wsrep(minority);
      seen.add(state.status);
      assert.notEqual(state.status, 'Primary', `${minority.name} became Primary during the partition\n${await logs()}`);
      assert.notEqual(await apiStatus(minority, '/health'), 200, `${minority.name} reported healthy during the partition`);
      const lock = await majorityEtcd.range(`${PREFIX}bootstrap-lock`);
      assert.deepEqual(lock.kvs, [], `nobody holds the bootstrap lock: ${lock.kvs.map((kv) => kv.value).join()}`);
      id += 1;
      await sqlOn(newWriter as unknown as HostNode, (c) => c.query('INSERT INTO shop.orders VALUES (?, ?)', [id, 'majority']));
      acknowledged.push(id);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    assert.deepEqual([...seen], ['non-Primary'], 'the minority answered SQL and said non-Primary every time');
    assert.ok(acknowledged.length >= 3, `the majority acknowledged writes during the partition (${acknowledged.length})`);
    const during = (await readFile(minority.log, 'utf8')).slice(agentLogStart);
    assert.doesNotMatch(during, /pc\.bootstrap=YES/, 'the minority agent never re-bootstrapped its component');
    assert.match(
      during,
      /Non-Primary component and no etcd majority answers: waiting; pc\.bootstrap needs the bootstrap lock/,
      'the minority agent says why it does not bootstrap',
    );
    const errorDuring = (await readFile(join(minority.home, 'conf', 'error.log'), 'utf8')).slice(errorLogStart);
    assert.doesNotMatch(errorDuring, /pc\.bootstrap/i, 'mariadbd was never told pc.bootstrap');

    await lab.setLink(minority.host, 'cluster', true);
    await waitWithLogs(
      async () => (await Promise.all(nodes.map(async (n) => (await apiStatus(n, '/health')) === 200 && (await wsrep(n)).size === 3))).every(Boolean),
      120_000,
      'the cluster back to 3 after the heal',
    );
    assert.ok(isAlive(minorityPid), `${minority.name}'s mariadbd was not restarted: it rejoined as it ran`);
    const errorAfter = (await readFile(join(minority.home, 'conf', 'error.log'), 'utf8')).slice(errorLogStart);
    assert.match(errorAfter, /IST received/, `${minority.name} caught up by IST`);
    assert.doesNotMatch(errorAfter, /rsync SST completed/, 'no full SST');
    const present = await sqlOn(minority, async (c) => {
      await c.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id FROM shop.orders');
      return new Set(rows.map((row) => Number(row['id'])));
    });
    assert.deepEqual(
      acknowledged.filter((row) => !present.has(row)),
      [],
      `${minority.name} has every row the majority acknowledged during the partition`,
    );
  } finally {
    majorityEtcd.close();
    // the next test needs the whole cluster, also when this one failed
    await lab.setLink(minority.host, 'cluster', true);
  }
});

/** nft in one host's network namespace only. */
function nftIn(host: LabHost, args: string[], input?: string): void {
  const result = spawnSync('nsenter', [`--net=/run/netns/${host.netns}`, 'nft', ...args], { input, encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`nft ${args.join(' ')} in ${host.name} failed: ${result.stderr}`);
}

async function writersNow(): Promise<HostNode[]> {
  return (await Promise.all(nodes.map(async (n) => ((await apiStatus(n, '/writer')) === 200 ? n : null)))).filter((n): n is HostNode => n !== null);
}

test("the writer's agent cut from etcd alone: it gives up /writer before its lease can expire, never two writers", { timeout: 120_000 }, async () => {
  assert.ok(lab !== null);
  await waitWithLogs(
    async () => (await Promise.all(nodes.map(async (n) => (await apiStatus(n, '/health')) === 200 && (await wsrep(n)).size === 3))).every(Boolean),
    90_000,
    'three Synced nodes in a Primary component of 3',
  );
  let writers: HostNode[] = [];
  await waitWithLogs(
    async () => {
      writers = await writersNow();
      return writers.length === 1;
    },
    20_000,
    'one writer',
  );
  const old = writers[0] as HostNode;
  const logStart = (await readFile(old.log, 'utf8')).length;
  // only the agent talks to etcd's client port from this host (etcd's peers use 2380)
  nftIn(
    old.host,
    ['-f', '-'],
    `table inet ${NFT_TABLE} {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    tcp dport 2379 drop\n  }\n}\n`,
  );
  try {
    const cutAt = performance.now();
    let successor: HostNode | null = null;
    while (successor === null) {
      assert.ok(performance.now() - cutAt < TTL_S * 1000 + 30_000, `no other writer within ${TTL_S} s + 30 s\n${await logs()}`);
      const now = await writersNow();
      assert.ok(now.length <= 1, `two writers at once: ${now.map((n) => n.name).join(', ')}`);
      if (now.length === 1 && now[0] !== old) successor = now[0] as HostNode;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Galera never noticed: the old writer's server is still Synced in the Primary component of 3
    const state = await wsrep(old);
    assert.deepEqual([state.status, state.size, state.state], ['Primary', 3, 'Synced'], `${old.name} stayed in the cluster`);
    assert.equal(await apiStatus(old, '/health'), 200, `${old.name} still serves reads`);
    assert.match((await readFile(old.log, 'utf8')).slice(logStart), /lease keepalive failed/);
  } finally {
    nftIn(old.host, ['delete', 'table', 'inet', NFT_TABLE]);
  }
  // etcd back: the old writer's agent sees the new holder and does not take the key back
  await new Promise((resolve) => setTimeout(resolve, (TTL_S + 2) * 1000));
  const holders = await writersNow();
  assert.equal(holders.length, 1, `one writer after the cut: ${holders.map((n) => n.name).join(', ')}`);
  assert.notEqual(holders[0], old, `${old.name} did not take the writer key back`);
});
