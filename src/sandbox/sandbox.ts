/**
 * `keel sandbox`: a complete local cluster on loopback — a 3-member etcd cluster and one keel
 * agent per PostgreSQL node — started in the background, described in <dir>/sandbox.json, and
 * stopped by PID. Tests, the demo and the benchmarks all build on it.
 *
 * Invariants: every process started is recorded (PID) in sandbox.json before `up` returns, so
 * `down` can always stop it; `up` refuses a directory that already holds a running sandbox.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../errors.js';
import { giveToPostgres, postgresRunAs } from '../postgres/os-user.js';
import { startEtcdCluster, stopPids, stopEtcdPids, isAlive } from './etcd-cluster.js';
import { keelFencePids } from '../engine/process-fence.js';
import { freePorts } from './ports.js';
import { renderNodeConfig, type SandboxPlan, type SandboxTimings } from './node-config.js';
import { findPostgresBinDir } from '../config/load.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import { startHaproxy, type HaproxyCheckTimings, type SandboxHaproxyRecord } from './haproxy.js';

/** Which agent manages the nodes: keel, or Patroni 3.0.2 for side-by-side benchmarks. */
export type AgentRuntime = 'keel' | 'patroni';

export interface SandboxUpOptions {
  dir: string;
  runtime?: AgentRuntime;
  nodes: number;
  basePort?: number;
  timings: SandboxTimings;
  scope?: string;
  host?: string;
  /** Wait until a leader holds the key and every member runs (ms); 0 = do not wait. */
  waitMs: number;
  log?: (line: string) => void;
  /**
   * Tests only: the etcd endpoints one node's config lists (e.g. through a proxy the test can
   * cut). Defaults to the sandbox's etcd cluster.
   */
  nodeEtcdHosts?: (etcdEndpoints: string[], node: string) => Promise<string[]>;
  /** restapi.authentication of every node (unsafe REST methods then need it, as in production). */
  restApiAuth?: { username: string; password: string };
  /**
   * Also start HAProxy routing writes to the leader and reads to the replicas, with these check
   * timings; `runtimeApi` makes the agents tell it about role changes at once.
   */
  haproxy?: { timings: HaproxyCheckTimings; runtimeApi: boolean };
  /** Tags set to true per node name (e.g. { node3: ['noloadbalance'] }). */
  nodeTags?: Record<string, string[]>;
  /** The `backup:` section of every node (stanza, config, pgBackRest options): the agents archive WAL. */
  backup?: Record<string, string | number | boolean>;
}

export interface SandboxNodeRecord {
  name: string;
  config: string;
  logFile: string;
  pid: number;
  pgPort: number;
  apiPort: number;
  dataDir: string;
  /** Galera nodes: where mariadbd writes its PID (the agent leaves mariadbd running when it stops). */
  mariadbPidFile?: string;
}

export interface SandboxRecord {
  /** What the nodes run (absent in records written before Galera sandboxes: postgres). */
  kind?: 'postgres' | 'galera';
  runtime?: AgentRuntime;
  scope: string;
  namespace: string;
  host: string;
  etcd: { endpoints: string[]; pids: number[]; dir: string };
  nodes: SandboxNodeRecord[];
  haproxy?: SandboxHaproxyRecord;
}

const RECORD_FILE = 'sandbox.json';
const AGENT_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export function sandboxRecordPath(dir: string): string {
  return join(resolve(dir), RECORD_FILE);
}

export async function readSandboxRecord(dir: string): Promise<SandboxRecord> {
  const path = sandboxRecordPath(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new KeelError('sandbox.not_found', `no sandbox in ${resolve(dir)} (${RECORD_FILE} is missing)`, {
      hint: `start one with: keel sandbox up --dir ${dir}`,
    });
  }
  return JSON.parse(text) as SandboxRecord;
}

export { isAlive };

/** Ports for etcd (3 client + 3 peer) and each node (PostgreSQL, REST API). */
interface SandboxPorts {
  etcdClient: number[];
  etcdPeer: number[];
  pg: number[];
  api: number[];
  /** HAProxy's write, read and stats listeners. */
  haproxy: { write: number; read: number; stats: number };
}

/** Ports for etcd (3 client + 3 peer), each node (PostgreSQL, REST API) and HAProxy (write, read, stats). */
async function pickPorts(host: string, nodes: number, basePort?: number): Promise<SandboxPorts> {
  if (basePort !== undefined) {
    const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);
    return {
      etcdClient: range(basePort, 3),
      etcdPeer: range(basePort + 3, 3),
      pg: range(basePort + 10, nodes),
      api: range(basePort + 20, nodes),
      haproxy: { write: basePort + 30, read: basePort + 31, stats: basePort + 32 },
    };
  }
  const ports = await freePorts(9 + 2 * nodes, host);
  const at = (i: number) => ports[i] ?? 0;
  return {
    etcdClient: ports.slice(0, 3),
    etcdPeer: ports.slice(3, 6),
    pg: ports.slice(6, 6 + nodes),
    api: ports.slice(6 + nodes, 6 + 2 * nodes),
    haproxy: { write: at(6 + 2 * nodes), read: at(7 + 2 * nodes), stats: at(8 + 2 * nodes) },
  };
}

/**
 * Starts one agent detached, its output appended to logFile. Returns its PID. Patroni (for
 * benchmarks) refuses to run PostgreSQL as root, so it runs as the PostgreSQL OS user.
 * KEEL_AGENT_NODE_ARGS (space-separated) is put before a keel agent's script: node options that
 * NODE_OPTIONS refuses, such as --cpu-prof for profiling an agent in a sandbox.
 */
export async function spawnAgent(configFile: string, logFile: string, runtime: AgentRuntime = 'keel'): Promise<number> {
  const handle = await open(logFile, 'a');
  try {
    const postgres = postgresRunAs();
    if (runtime === 'patroni' && postgres !== null) {
      await chown(configFile, postgres.uid, postgres.gid);
      await chown(logFile, postgres.uid, postgres.gid);
    }
    const child =
      runtime === 'keel'
        ? spawn(process.execPath, [...agentNodeArgs(), AGENT_MAIN, 'agent', configFile], {
            detached: true,
            stdio: ['ignore', handle.fd, handle.fd],
            env: process.env,
          })
        : spawn('/usr/bin/patroni', [configFile], {
            detached: true,
            stdio: ['ignore', handle.fd, handle.fd],
            env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: postgres?.home ?? '/tmp', LANG: 'C.UTF-8' },
            ...(postgres === null ? {} : { uid: postgres.uid, gid: postgres.gid }),
          });
    if (child.pid === undefined) throw new KeelError('sandbox.spawn_failed', `cannot start the agent for ${configFile}`);
    child.unref();
    return child.pid;
  } finally {
    await handle.close();
  }
}

function agentNodeArgs(): string[] {
  return (process.env['KEEL_AGENT_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

function requireBinDir(): string {
  const dir = findPostgresBinDir();
  if (dir === '')
    throw new KeelError('postgres.no_binaries', 'no PostgreSQL server binaries under /usr/lib/postgresql/<version>/bin', {
      hint: 'install postgresql-15 (npm run setup does)',
    });
  return dir;
}

/** `up` refuses a directory whose previous sandbox still has a process running. */
export async function refuseRunningSandbox(dir: string, given: string): Promise<void> {
  if (!existsSync(sandboxRecordPath(dir))) return;
  const previous = await readSandboxRecord(dir);
  if ([...previous.etcd.pids, ...previous.nodes.map((n) => n.pid), previous.haproxy?.pid ?? 0, ...(await mariadbPids(previous))].some(isAlive)) {
    throw new KeelError('sandbox.running', `a sandbox is already running in ${dir}`, { hint: `stop it first: keel sandbox down --dir ${given}` });
  }
}

export async function sandboxUp(options: SandboxUpOptions): Promise<SandboxRecord> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir);
  const host = options.host ?? '127.0.0.1';
  if (options.nodes < 1 || options.nodes > 9) throw new KeelError('sandbox.bad_nodes', `--nodes must be between 1 and 9, got ${options.nodes}`);
  await refuseRunningSandbox(dir, options.dir);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // PostgreSQL runs as another OS user and must traverse this directory
  const ports = await pickPorts(host, options.nodes, options.basePort);
  const scope = options.scope ?? 'keel-sandbox';
  const namespace = '/service/';

  log(`starting etcd (3 members) in ${join(dir, 'etcd')}`);
  const etcd = await startEtcdCluster({ dir: join(dir, 'etcd'), size: 3, host, clientPorts: ports.etcdClient, peerPorts: ports.etcdPeer });
  const record: SandboxRecord = {
    runtime: options.runtime ?? 'keel',
    scope,
    namespace,
    host,
    etcd: { endpoints: etcd.endpoints.map((e) => `${e.host}:${e.port}`), pids: etcd.members.map((m) => m.pid), dir: join(dir, 'etcd') },
    nodes: [],
  };
  await writeRecord(dir, record);

  const plan: SandboxPlan = {
    scope,
    namespace,
    host,
    etcdEndpoints: record.etcd.endpoints,
    timings: options.timings,
    binDir: requireBinDir(),
    superuserPassword: randomBytes(12).toString('hex'),
    replicationPassword: randomBytes(12).toString('hex'),
    rewindPassword: randomBytes(12).toString('hex'),
    ...(options.restApiAuth === undefined ? {} : { restApiAuth: options.restApiAuth }),
    ...(options.haproxy?.runtimeApi === true ? { haproxy: { runtimeSockets: [haproxySocketPath(dir)] } } : {}),
    ...(options.backup === undefined ? {} : { backup: options.backup }),
    nodes: Array.from({ length: options.nodes }, (_, i) => {
      const name = `node${i + 1}`;
      const nodeDir = join(dir, name);
      const tags = options.nodeTags?.[name];
      return {
        name,
        pgPort: ports.pg[i] ?? 0,
        apiPort: ports.api[i] ?? 0,
        dataDir: join(nodeDir, 'data'),
        socketDir: nodeDir,
        ...(tags === undefined ? {} : { tags }),
      };
    }),
  };
  if (options.haproxy !== undefined) {
    // started before the agents, so the first promotion already finds its runtime API
    record.haproxy = await startHaproxy({
      dir,
      host,
      scope,
      members: plan.nodes.map((n) => ({
        name: n.name,
        pgHost: host,
        pgPort: n.pgPort,
        apiHost: host,
        apiPort: n.apiPort,
        apiTls: false,
        noloadbalance: n.tags?.includes('noloadbalance') === true,
      })),
      ports: ports.haproxy,
      timings: options.haproxy.timings,
      runtimeSocket: options.haproxy.runtimeApi ? haproxySocketPath(dir) : null,
    });
    await writeRecord(dir, record);
    log(
      `started HAProxy: pid ${record.haproxy.pid}, writes ${host}:${ports.haproxy.write}, reads ${host}:${ports.haproxy.read}, stats http://${host}:${ports.haproxy.stats}/`,
    );
  }
  for (const node of plan.nodes) {
    await mkdir(node.socketDir, { recursive: true, mode: 0o755 });
    await giveToPostgres(node.socketDir);
    const config = join(dir, `${node.name}.yml`);
    const etcdHosts = options.nodeEtcdHosts === undefined ? plan.etcdEndpoints : await options.nodeEtcdHosts(plan.etcdEndpoints, node.name);
    await writeFile(config, renderNodeConfig({ ...plan, etcdEndpoints: etcdHosts }, node), { mode: 0o600 });
    const logFile = join(dir, `${node.name}.log`);
    const pid = await spawnAgent(config, logFile, options.runtime ?? 'keel');
    record.nodes.push({ name: node.name, config, logFile, pid, pgPort: node.pgPort, apiPort: node.apiPort, dataDir: node.dataDir });
    await writeRecord(dir, record);
    log(`started ${node.name}: agent pid ${pid}, PostgreSQL ${host}:${node.pgPort}, REST API http://${host}:${node.apiPort}`);
  }
  return record;
}

/** Where the sandbox's HAProxy opens its runtime API. */
export function haproxySocketPath(dir: string): string {
  return join(resolve(dir), 'haproxy.sock');
}

export async function writeRecord(dir: string, record: SandboxRecord): Promise<void> {
  await writeFile(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** PIDs of postmasters still running on the sandbox's data directories. */
async function postmasterPids(record: SandboxRecord): Promise<number[]> {
  const pids: number[] = [];
  for (const node of record.nodes) {
    try {
      const text = await readFile(join(node.dataDir, 'postmaster.pid'), 'utf8');
      const pid = Number(text.split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) pids.push(pid);
    } catch {
      // no postmaster.pid: nothing runs there
    }
  }
  return pids;
}

/** PIDs of Galera nodes' mariadbd still running (read from the pid files their option files name). */
async function mariadbPids(record: SandboxRecord): Promise<number[]> {
  const pids: number[] = [];
  for (const node of record.nodes) {
    if (node.mariadbPidFile === undefined) continue;
    const pid = Number((await readFile(node.mariadbPidFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) pids.push(pid);
  }
  return pids;
}

/**
 * Stops everything the sandbox started: agents first (SIGTERM: a PostgreSQL agent shuts its
 * server down and releases its keys; a Galera agent leaves mariadbd running, as in production),
 * then any postmaster or mariadbd left behind (SIGTERM: a clean shutdown, so the next start
 * needs no recovery), then HAProxy, then etcd.
 */
export async function sandboxDown(dir: string, log: (line: string) => void = () => undefined): Promise<void> {
  const record = await readSandboxRecord(dir);
  const agents = record.nodes.map((n) => n.pid).filter(isAlive);
  if (agents.length > 0) log(`stopping agents: ${agents.join(', ')}`);
  await stopPids(agents, 60_000);
  const leftovers = await postmasterPids(record);
  if (leftovers.length > 0) log(`stopping PostgreSQL left running: ${leftovers.join(', ')}`);
  await stopPids(leftovers, 20_000);
  const mariadbs = await mariadbPids(record);
  if (mariadbs.length > 0) log(`stopping mariadbd: ${mariadbs.join(', ')}`);
  await stopPids(mariadbs, 60_000);
  // keel-fence processes of agents that were killed (a clean agent stop ends its own).
  const fences = keelFencePids(record.nodes.map((n) => n.dataDir));
  if (fences.length > 0) log(`stopping keel-fence: ${fences.join(', ')}`);
  await stopPids(fences, 5_000);
  const haproxy = record.haproxy?.pid;
  if (haproxy !== undefined && isAlive(haproxy)) {
    log(`stopping HAProxy: ${haproxy}`);
    await stopPids([haproxy], 10_000);
  }
  const etcd = record.etcd.pids.filter(isAlive);
  if (etcd.length > 0) log(`stopping etcd: ${etcd.join(', ')}`);
  await stopEtcdPids(etcd, 10_000);
}

/** Lists the node config files of a sandbox directory (for `keel -c` hints). */
export async function sandboxConfigs(dir: string): Promise<string[]> {
  return (await readdir(resolve(dir))).filter((f) => /^node\d+\.yml$/.test(f)).map((f) => join(resolve(dir), f));
}

/** A DCS client on the sandbox's etcd, for tools and tests that read or edit its keys. */
export function sandboxDcs(record: SandboxRecord, name = 'keel-observer'): EtcdDcs {
  const endpoints = record.etcd.endpoints.map((e) => {
    const colon = e.lastIndexOf(':');
    return { host: e.slice(0, colon), port: Number(e.slice(colon + 1)) };
  });
  return new EtcdDcs({ etcd: { endpoints, protocol: 'http' }, namespace: record.namespace, scope: record.scope, name, retryTimeoutMs: 5000 });
}

async function fetchJson(url: string, timeoutMs: number): Promise<Record<string, unknown> | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Status of one node as its REST API reports it (null when the API does not answer). */
export async function nodeStatus(record: SandboxRecord, name: string): Promise<Record<string, unknown> | null> {
  const node = record.nodes.find((n) => n.name === name);
  if (node === undefined) return null;
  return fetchJson(`http://${record.host}:${node.apiPort}/patroni`, 2000);
}

/**
 * Waits until one node is a running primary and every other node's PostgreSQL streams from it
 * (seen in the primary's pg_stat_replication through its REST API, by application_name). Fails
 * with the agents' last log lines when the deadline passes.
 */
export async function waitForCluster(record: SandboxRecord, timeoutMs: number, expectedReplicas = record.nodes.length - 1): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastSeen = 'no agent answered yet';
  while (Date.now() < deadline) {
    const statuses = await Promise.all(record.nodes.map(async (n) => ({ name: n.name, status: await nodeStatus(record, n.name) })));
    const primaries = statuses.filter((s) => s.status?.['role'] === 'master' || s.status?.['role'] === 'primary');
    lastSeen = statuses.map((s) => `${s.name}=${String(s.status?.['role'] ?? 'down')}/${String(s.status?.['state'] ?? '-')}`).join(' ');
    const primary = primaries[0];
    if (primaries.length === 1 && primary !== undefined && primary.status?.['state'] === 'running') {
      // Only the other members count: while a replica clones, its pg_basebackup's WAL stream is a
      // walsender too ('pg_basebackup', state 'streaming'), and the cluster is not up until the
      // replica's own server streams.
      const others = new Set(record.nodes.map((n) => n.name).filter((n) => n !== primary.name));
      const replication = primary.status['replication'];
      const streaming = Array.isArray(replication)
        ? replication.filter((r) => {
            const row = r as { state?: unknown; application_name?: unknown };
            return row.state === 'streaming' && typeof row.application_name === 'string' && others.has(row.application_name);
          }).length
        : 0;
      if (streaming >= expectedReplicas) return primary.name;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const tails = await Promise.all(
    record.nodes.map(async (n) => `${n.name}: ${(await readFile(n.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ')}`),
  );
  throw new KeelError('sandbox.timeout', `the cluster did not come up within ${Math.round(timeoutMs / 1000)}s (${lastSeen})\n${tails.join('\n')}`);
}
