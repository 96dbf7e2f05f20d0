/**
 * Test support: the seed's deployment on three hosts (network namespaces, test/support/netns-lab.ts)
 * — one etcd member, one keel agent and one PostgreSQL per host — configured with the seed's own
 * patroni.yml (test/integration/hosts/fixtures/seed-patroni.yml) where only addresses, ports and
 * paths change, plus a rewind user. Every process is stopped by PID and every namespace removed
 * in `close()`, also when a test fails.
 *
 * Addresses: PostgreSQL listens on 127.0.0.1, the cluster address and the client address;
 * members replicate and talk REST over the cluster network; the test process reaches hosts on the
 * client network only (PostgreSQL, REST on 0.0.0.0:8008, etcd).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EtcdDcs } from '../../src/dcs/etcd-dcs.js';
import { giveToPostgres, postgresRunAs } from '../../src/postgres/os-user.js';
import { startLab, type Lab, type LabHost } from './netns-lab.js';
import { startEtcdOnLab, type LabEtcd } from './netns-etcd.js';
import { KEEL_MAIN, eventually } from './sandbox.js';

export const SEED_SCOPE = 'postgres-cluster';
export const SEED_NAMESPACE = '/db/';
export const SEED_SUPERUSER_PASSWORD = 'super_password_change_me';
const TEMPLATE = new URL('../../../test/integration/hosts/fixtures/seed-patroni.yml', import.meta.url);

export interface SeedNode {
  name: string;
  host: LabHost;
  config: string;
  logFile: string;
  dataDir: string;
  /** PID of the running agent (0 after it was killed and not restarted). */
  agentPid: number;
}

export interface SeedDeployment {
  dir: string;
  lab: Lab;
  etcd: LabEtcd;
  nodes: SeedNode[];
  node(name: string): SeedNode;
  /** (Re)starts a node's agent inside its host. */
  startAgent(node: SeedNode): Promise<void>;
  /** A DCS client from the test process (client network), for reading and writing keys. */
  dcs(): EtcdDcs;
  close(): Promise<void>;
}

interface SeedPaths {
  name: string;
  host: LabHost;
  etcdHosts: string[];
  dataDir: string;
  socketDir: string;
}

/** One exact, single-occurrence replacement in the seed's text; anything else is a broken fixture. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`seed-patroni.yml: expected exactly one ${JSON.stringify(from)}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** The seed's patroni.yml for one host: addresses, ports and paths changed, a rewind user added. */
export function renderSeedConfig(template: string, p: SeedPaths): string {
  const edits: Array<[string, string]> = [
    ['name: node1', `name: ${p.name}`],
    ['  listen: 10.0.1.21:8008', '  listen: 0.0.0.0:8008'],
    ['  connect_address: 10.0.1.21:8008', `  connect_address: ${p.host.clusterAddress}:8008`],
    ['  hosts: 10.0.1.11:2379,10.0.1.12:2379,10.0.1.13:2379', `  hosts: ${p.etcdHosts.join(',')}`],
    ['replicator 10.0.1.0/24 md5', 'replicator 198.18.0.0/16 md5'],
    ['all all 10.0.1.0/24 md5', 'all all 198.18.0.0/16 md5'],
    ['  listen: 10.0.1.21:5432', `  listen: 127.0.0.1,${p.host.clusterAddress},${p.host.clientAddress}:5432`],
    ['  connect_address: 10.0.1.21:5432', `  connect_address: ${p.host.clusterAddress}:5432`],
    ['  data_dir: /var/lib/postgresql/15/main', `  data_dir: ${p.dataDir}\n  parameters:\n    unix_socket_directories: ${p.socketDir}`],
    [
      '      password: super_password_change_me',
      '      password: super_password_change_me\n    rewind:\n      username: rewind_user\n      password: rewind_password_change_me',
    ],
  ];
  return edits.reduce((text, [from, to]) => replaceOnce(text, from, to), template);
}

export interface SeedDeploymentOptions {
  /**
   * A `backup:` section appended to every host's patroni.yml (keel's own section: stanza, config,
   * pgBackRest options spelt as in pgbackrest.conf); the agents then archive WAL.
   */
  backup?: Record<string, string | number | boolean>;
  /**
   * Run each agent as the postgres OS user, as the systemd unit of docs/production.md does
   * (default: root, which keel allows and which switches to postgres for PostgreSQL's programs).
   */
  agentsAsPostgres?: boolean;
  /**
   * Auth methods for bootstrap.initdb (auth-local, auth-host), which the seed's file leaves out:
   * initdb then writes these instead of its trusting local and loopback lines (docs/production.md).
   */
  initdbAuth?: { local: string; host: string };
}

/** The `backup:` section as YAML lines (every value quoted as JSON, which YAML reads as is). */
function backupSection(backup: Record<string, string | number | boolean>): string {
  return ['backup:', ...Object.entries(backup).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`), ''].join('\n');
}

export async function startSeedDeployment(options: SeedDeploymentOptions = {}): Promise<SeedDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-seed-'));
  await chmod(dir, 0o755); // the postgres OS user must reach the data directories below
  const lab = await startLab({ hosts: 3, dir });
  let etcd: LabEtcd | undefined;
  const nodes: SeedNode[] = [];
  const close = async () => {
    await lab.close();
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    etcd = await startEtcdOnLab(lab, { dir: join(dir, 'etcd') });
    const template = await readFile(TEMPLATE, 'utf8');
    for (const [i, host] of lab.hosts.entries()) {
      const home = join(dir, host.name);
      const socketDir = join(home, 'run');
      await mkdir(socketDir, { recursive: true, mode: 0o755 });
      await chmod(home, 0o755);
      await giveToPostgres(socketDir);
      const name = `node${i + 1}`;
      const config = join(home, 'patroni.yml');
      const dataDir = join(home, 'data');
      let rendered = renderSeedConfig(template, { name, host, etcdHosts: etcd.endpointsFor(host), dataDir, socketDir });
      if (options.initdbAuth !== undefined) {
        const { local, host: hostAuth } = options.initdbAuth;
        rendered = replaceOnce(rendered, '  - data-checksums\n', `  - data-checksums\n  - auth-local: ${local}\n  - auth-host: ${hostAuth}\n`);
      }
      // the agent writes its pgpass and pgBackRest files beside the data directory
      if (options.agentsAsPostgres === true) await giveToPostgres(home);
      await writeFile(config, options.backup === undefined ? rendered : `${rendered.trimEnd()}\n${backupSection(options.backup)}`);
      nodes.push({ name, host, config, logFile: join(home, 'keel.log'), dataDir, agentPid: 0 });
    }
  } catch (error) {
    await close();
    throw error;
  }
  const theEtcd = etcd;
  const deployment: SeedDeployment = {
    dir,
    lab,
    etcd: theEtcd,
    nodes,
    node: (name) => {
      const found = nodes.find((n) => n.name === name);
      if (found === undefined) throw new Error(`no node ${name}`);
      return found;
    },
    startAgent: async (node) => {
      const user = options.agentsAsPostgres === true ? postgresRunAs() : null;
      node.agentPid = await lab.spawn(node.host, process.execPath, [KEEL_MAIN, 'agent', node.config], {
        logFile: node.logFile,
        ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
      });
    },
    dcs: () =>
      new EtcdDcs({
        etcd: { endpoints: theEtcd.clientEndpoints.map(hostPort), protocol: 'http' },
        namespace: SEED_NAMESPACE,
        scope: SEED_SCOPE,
        name: 'test-observer',
        retryTimeoutMs: 5000,
        ttlS: 30,
      }),
    close,
  };
  try {
    for (const node of nodes) await deployment.startAgent(node);
  } catch (error) {
    await close();
    throw error;
  }
  return deployment;
}

function hostPort(endpoint: string): { host: string; port: number } {
  const cut = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, cut), port: Number(endpoint.slice(cut + 1)) };
}

/** Runs one statement on a node through its client address, as the seed's superuser. */
export function seedSql<Row extends pg.QueryResultRow = Record<string, unknown>>(node: SeedNode, text: string, params: unknown[] = []): Promise<Row[]> {
  return seedSqlAt<Row>(node.host.clientAddress, 5432, text, params);
}

/** Runs one statement on the PostgreSQL at `host`:`port` (e.g. a restored copy beside a member), as the seed's superuser. */
export async function seedSqlAt<Row extends pg.QueryResultRow = Record<string, unknown>>(
  host: string,
  port: number,
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({
    host,
    port,
    user: 'postgres',
    password: SEED_SUPERUSER_PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<Row>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The leader key's holder, read from etcd through the client network. */
export async function seedLeader(deployment: SeedDeployment): Promise<string | null> {
  const dcs = deployment.dcs();
  try {
    return (await dcs.loadCluster()).leader?.name ?? null;
  } finally {
    await dcs.close();
  }
}

/** Waits for one leader whose two replicas both stream from it; returns the leader's name. */
export async function seedHealthy(deployment: SeedDeployment, timeoutMs: number): Promise<string> {
  return eventually(
    'a leader with two streaming replicas',
    timeoutMs,
    async () => {
      const leader = await seedLeader(deployment);
      if (leader === null) return undefined;
      const rows = await seedSql<{ application_name: string }>(
        deployment.node(leader),
        "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
      );
      const others = deployment.nodes.filter((n) => n.name !== leader).map((n) => n.name);
      return others.every((name) => rows.some((r) => r.application_name === name)) ? leader : undefined;
    },
    1000,
  );
}
