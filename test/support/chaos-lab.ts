/**
 * Test and bench support: the chaos lab — three hosts (network namespaces, test/support/netns-lab.ts),
 * each running one etcd member, one agent (keel, or Patroni 3.0.2 for the bench) and PostgreSQL 15,
 * with the timings of issue 10 (ttl 10, loop_wait 2, retry_timeout 4), md5 authentication and
 * addresses as on real hosts: replication and REST on the cluster network, clients on the client
 * network. The faults the chaos scenarios inject live here too: link cuts, SIGSTOP, etcd killed,
 * and an nftables rule that drops only the agent's traffic to etcd.
 *
 * Cutting one process's traffic: every agent is started inside its own cgroup (v2), created by the
 * lab, and the cut is `socket cgroupv2` in the host's nftables output hook, so etcd itself, the
 * other agents and PostgreSQL's replication keep flowing. The agent joins the cgroup before it
 * execs (a shell wrapper), so no socket of it is ever created outside. nft resolves the cgroup path
 * under /sys/fs/cgroup, which `ip netns exec` remounts; the lab therefore runs nft with
 * `nsenter --net` (network namespace only) and the wrapper reaches the cgroup tree through
 * /proc/<test process>/root.
 *
 * Every process runs under the lab (stopped by close(), also on failure); cgroups are removed in
 * close() once their processes are gone.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { EtcdDcs } from '../../src/dcs/etcd-dcs.js';
import type { ClusterView } from '../../src/dcs/types.js';
import { lookupUser } from '../../src/postgres/os-user.js';
import { isAlive } from '../../src/sandbox/etcd-cluster.js';
import { startEtcdOnLab, type LabEtcd } from './netns-etcd.js';
import { startLab, type Lab, type LabHost } from './netns-lab.js';
import { KEEL_MAIN } from './sandbox.js';

export type ChaosSystem = 'keel' | 'patroni';
/** Replication mode: asynchronous, or synchronous_mode on (switched with PATCH /config). */
export type ChaosMode = 'async' | 'on';

/** Issue 10's timings. */
export const CHAOS_TIMINGS = { ttlS: 10, loopWaitS: 2, retryTimeoutS: 4 } as const;
export const CHAOS_SCOPE = 'chaos';
export const CHAOS_NAMESPACE = '/service/';
export const PG_PORT = 5432;
export const API_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
const SUPERUSER_PASSWORD = 'chaos_super_password';
const BIN_DIR = '/usr/lib/postgresql/15/bin';
const PATRONI = '/usr/bin/patroni';
const NFT_TABLE = 'keel_chaos';
/** netns-lab.ts's records: <id>.json for every lab alive. */
const LAB_RECORDS = '/run/keel-labs';
const SQL_TIMEOUT_MS = 5_000;
const REST_TIMEOUT_MS = 5_000;
const LOG_TAIL_LINES = 40;
const POLL_MS = 250;

export interface ChaosNode {
  name: string;
  host: LabHost;
  home: string;
  config: string;
  logFile: string;
  dataDir: string;
  /** PID of the agent process itself (SIGSTOP target); 0 when killed and not restarted. */
  agentPid: number;
  /** cgroup (v2) directory the agent runs in. */
  cgroupDir: string;
}

export interface ChaosLab {
  system: ChaosSystem;
  dir: string;
  lab: Lab;
  etcd: LabEtcd;
  nodes: ChaosNode[];
  superuserPassword: string;
  node(name: string): ChaosNode;
  startAgent(node: ChaosNode): Promise<void>;
  /** kill -9 of the agent (its PID) and of the postmaster on its data directory. */
  killNode(node: ChaosNode): Promise<void>;
  /** Drops (true) or restores (false) the agent's TCP traffic to every etcd member, inside its host. */
  cutAgentFromEtcd(node: ChaosNode, cut: boolean): Promise<void>;
  /** A snapshot of the cluster's keys (throws while etcd is unreachable). */
  view(): Promise<ClusterView>;
  /** PATCH /config on a node's REST API (the leader's, as an operator would). */
  patchConfig(node: ChaosNode, body: Record<string, unknown>): Promise<void>;
  /** One statement on a node's client address as the superuser. */
  sql<Row extends pg.QueryResultRow = Record<string, unknown>>(node: ChaosNode, text: string, params?: unknown[]): Promise<Row[]>;
  /** Live postmaster PID on a node's data directory, or null. */
  postmasterPid(node: ChaosNode): Promise<number | null>;
  /** The last lines of every agent's log, for failure messages. */
  logTails(lines?: number): Promise<string>;
  close(): Promise<void>;
}

export interface ChaosLabOptions {
  system: ChaosSystem;
  /** Parent of the lab's directory (default: the OS temporary directory). */
  parentDir?: string;
  log?: (line: string) => void;
}

// ---- configuration ----

export interface ChaosConfigInput {
  system: ChaosSystem;
  name: string;
  host: LabHost;
  etcdHosts: string[];
  home: string;
  superuserPassword: string;
}

/**
 * The patroni.yml of one host (pure): the same file for keel and for Patroni 3.0.2, so both run
 * under identical settings. md5 everywhere, the rewind user, and nodes that re-clone when a
 * rewind cannot work (so every scenario can end with the old leader streaming).
 */
export function renderChaosConfig(c: ChaosConfigInput): string {
  const document = {
    scope: CHAOS_SCOPE,
    namespace: CHAOS_NAMESPACE,
    name: c.name,
    restapi: { listen: `0.0.0.0:${API_PORT}`, connect_address: `${c.host.clusterAddress}:${API_PORT}` },
    etcd3: { hosts: c.etcdHosts.join(',') },
    bootstrap: {
      dcs: {
        ttl: CHAOS_TIMINGS.ttlS,
        loop_wait: CHAOS_TIMINGS.loopWaitS,
        retry_timeout: CHAOS_TIMINGS.retryTimeoutS,
        maximum_lag_on_failover: 1048576,
        failsafe_mode: false,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            max_connections: 100,
            shared_buffers: '32MB',
            wal_level: 'replica',
            hot_standby: 'on',
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '128MB',
            password_encryption: 'md5',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums', { 'auth-host': 'md5' }, { 'auth-local': 'md5' }],
      pg_hba: [
        'local all all md5',
        'host all all 127.0.0.1/32 md5',
        'host replication replicator 198.18.0.0/16 md5',
        'host all all 198.18.0.0/16 md5',
        'host all all 0.0.0.0/0 reject',
      ],
    },
    postgresql: {
      listen: `127.0.0.1,${c.host.clusterAddress},${c.host.clientAddress}:${PG_PORT}`,
      connect_address: `${c.host.clusterAddress}:${PG_PORT}`,
      data_dir: join(c.home, 'data'),
      pgpass: join(c.home, 'pgpass'),
      bin_dir: BIN_DIR,
      use_unix_socket: true,
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
      authentication: {
        replication: { username: 'replicator', password: 'chaos_replication_password' },
        superuser: { username: 'postgres', password: c.superuserPassword },
        rewind: { username: 'rewind_user', password: 'chaos_rewind_password' },
      },
      // PostgreSQL's own log in a file beside the data: Patroni would pass it to its stderr, where
      // the pinned writers' refused INSERTs on replicas would bury the agent's lines.
      parameters: {
        unix_socket_directories: join(c.home, 'run'),
        logging_collector: 'on',
        log_directory: join(c.home, 'pglog'),
        log_filename: 'postgresql.log',
      },
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    watchdog: { mode: 'off' },
  };
  return `# chaos lab (${c.system}), written by test/support/chaos-lab.ts\n${stringify(document, { version: '1.1' })}`;
}

// ---- cgroups and nftables ----

/** Where cgroup v2 is mounted (from /proc/self/mountinfo); the lab needs it under /sys/fs/cgroup. */
export function cgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string {
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'cgroup2') {
      const mountPoint = before?.split(' ')[4];
      if (mountPoint !== undefined) return mountPoint;
    }
  }
  throw new Error('chaos lab: no cgroup2 file system mounted (needed to cut one agent from etcd with nftables)');
}

/** The nftables rule set that drops TCP to etcd's client port from sockets of one cgroup (pure). */
export function etcdCutRules(cgroupPath: string, level: number): string {
  return [
    `table inet ${NFT_TABLE} {`,
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    `    tcp dport ${ETCD_CLIENT_PORT} socket cgroupv2 level ${level} ${JSON.stringify(cgroupPath)} drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    const child = execFile(command, args, { timeout: 10_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolveOutput(stdout);
      else reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** nft inside a host's network namespace only (see the module comment: not `ip netns exec`). */
const nftIn = (host: LabHost, args: string[], input?: string) => run('nsenter', [`--net=/run/netns/${host.netns}`, 'nft', ...args], input);

/**
 * Removes the cgroups of chaos labs whose lab record is gone (a run killed before close()): the
 * lab's own sweep has already killed their processes. One still in use cannot be removed (EBUSY)
 * and is left alone.
 */
async function sweepStaleCgroups(cgroupRoot: string): Promise<void> {
  const labs = new Set((await readdir(LAB_RECORDS).catch(() => [])).map((f) => f.replace(/\.json$/, '')));
  for (const entry of await readdir(cgroupRoot)) {
    const id = /^keel-chaos-([0-9a-f]{4})-h\d+$/.exec(entry)?.[1];
    if (id !== undefined && !labs.has(id)) await rmdir(join(cgroupRoot, entry)).catch(() => undefined);
  }
}

// ---- the lab ----

export async function startChaosLab(options: ChaosLabOptions): Promise<ChaosLab> {
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), `keel-chaos-${options.system}-`));
  await chmod(dir, 0o755); // the postgres OS user must reach the data directories below
  const postgres = lookupUser('postgres');
  if (postgres === null) throw new Error('chaos lab: no "postgres" OS user');
  const cgroupRoot = cgroup2Mount();
  if (relative('/sys/fs/cgroup', cgroupRoot).startsWith('..'))
    throw new Error(`chaos lab: cgroup2 is mounted at ${cgroupRoot}, nft looks under /sys/fs/cgroup`);
  await sweepStaleCgroups(cgroupRoot);
  const lab = await startLab({ hosts: 3, dir });
  const nodes: ChaosNode[] = [];
  const closeAll = async () => {
    const failures: unknown[] = [];
    await lab.close().catch((error: unknown) => failures.push(error));
    for (const node of nodes) await rmdir(node.cgroupDir).catch((error: NodeJS.ErrnoException) => error.code !== 'ENOENT' && failures.push(error));
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
    else log(`chaos lab kept in ${dir}`);
    if (failures.length > 0) throw new AggregateError(failures, `chaos lab: teardown incomplete: ${failures.map(String).join('; ')}`);
  };
  let etcd: LabEtcd;
  try {
    etcd = await startEtcdOnLab(lab, { dir: join(dir, 'etcd'), clientPort: ETCD_CLIENT_PORT });
    for (const [i, host] of lab.hosts.entries()) {
      const name = `node${i + 1}`;
      const home = join(dir, host.name);
      for (const sub of ['run', 'pglog']) await mkdir(join(home, sub), { recursive: true });
      const config = join(home, 'patroni.yml');
      await writeFile(
        config,
        renderChaosConfig({ system: options.system, name, host, etcdHosts: etcd.endpointsFor(host), home, superuserPassword: SUPERUSER_PASSWORD }),
        {
          mode: 0o600,
        },
      );
      // keel (root) gives PostgreSQL what it creates; Patroni runs as postgres and creates it all.
      const owned = [join(home, 'run'), join(home, 'pglog'), ...(options.system === 'patroni' ? [home, config] : [])];
      for (const path of owned) await chown(path, postgres.uid, postgres.gid);
      await chmod(home, 0o755);
      const cgroupDir = join(cgroupRoot, `keel-chaos-${lab.id}-${host.name}`);
      await mkdir(cgroupDir);
      nodes.push({ name, host, home, config, logFile: join(home, `${options.system}.log`), dataDir: join(home, 'data'), agentPid: 0, cgroupDir });
    }
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
  const theEtcd = etcd;
  const dcs = new EtcdDcs({
    etcd: { endpoints: theEtcd.clientEndpoints.map(hostPort), protocol: 'http' },
    namespace: CHAOS_NAMESPACE,
    scope: CHAOS_SCOPE,
    name: 'chaos-observer',
    retryTimeoutMs: 3000,
    ttlS: 30,
  });
  const node = (name: string): ChaosNode => {
    const found = nodes.find((n) => n.name === name);
    if (found === undefined) throw new Error(`chaos lab: no node ${name}`);
    return found;
  };
  const startAgent = async (n: ChaosNode): Promise<void> => {
    // The wrapper joins the host's cgroup, then execs: the returned PID is the agent's own.
    const joinCgroup = ['/bin/sh', '-c', 'echo $$ > "$KEEL_CHAOS_CGROUP_PROCS" && exec "$@"', 'join-cgroup'];
    const procs = join(`/proc/${process.pid}/root`, n.cgroupDir, 'cgroup.procs');
    const agent =
      options.system === 'keel'
        ? [process.execPath, KEEL_MAIN, 'agent', n.config]
        : [
            'setpriv',
            `--reuid=${postgres.uid}`,
            `--regid=${postgres.gid}`,
            '--clear-groups',
            '--',
            'env',
            '-i',
            'PATH=/usr/bin:/bin',
            `HOME=${n.home}`,
            'LANG=C.UTF-8',
            PATRONI,
            n.config,
          ];
    const [command, ...args] = [...joinCgroup, ...agent] as [string, ...string[]];
    n.agentPid = await lab.spawn(n.host, command, args, { logFile: n.logFile, env: { KEEL_CHAOS_CGROUP_PROCS: procs } });
  };
  const postmasterPid = async (n: ChaosNode): Promise<number | null> => {
    try {
      const pid = Number((await readFile(join(n.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      return isAlive(pid) ? pid : null;
    } catch {
      return null;
    }
  };
  const sql = async <Row extends pg.QueryResultRow = Record<string, unknown>>(n: ChaosNode, text: string, params: unknown[] = []): Promise<Row[]> => {
    const client = new pg.Client({
      host: n.host.clientAddress,
      port: PG_PORT,
      user: 'postgres',
      password: SUPERUSER_PASSWORD,
      database: 'postgres',
      connectionTimeoutMillis: 2000,
      query_timeout: SQL_TIMEOUT_MS,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<Row>(text, params)).rows;
    } finally {
      await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    }
  };
  const chaos: ChaosLab = {
    system: options.system,
    dir,
    lab,
    etcd: theEtcd,
    nodes,
    superuserPassword: SUPERUSER_PASSWORD,
    node,
    startAgent,
    killNode: async (n) => {
      const pgPid = await postmasterPid(n);
      if (n.agentPid > 0 && isAlive(n.agentPid)) process.kill(n.agentPid, 'SIGKILL');
      if (pgPid !== null) process.kill(pgPid, 'SIGKILL');
      n.agentPid = 0;
    },
    cutAgentFromEtcd: async (n, cut) => {
      if (cut) {
        const path = relative('/sys/fs/cgroup', n.cgroupDir);
        await nftIn(n.host, ['-f', '-'], etcdCutRules(path, relative(cgroupRoot, n.cgroupDir).split('/').length));
      } else {
        const tables = await nftIn(n.host, ['list', 'tables']);
        if (tables.includes(`inet ${NFT_TABLE}`)) await nftIn(n.host, ['delete', 'table', 'inet', NFT_TABLE]);
      }
    },
    view: () => dcs.loadCluster(),
    patchConfig: async (n, body) => {
      const response = await fetch(`http://${n.host.clientAddress}:${API_PORT}/config`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REST_TIMEOUT_MS),
      });
      if (response.status !== 200) throw new Error(`PATCH /config on ${n.name}: ${response.status} ${await response.text()}`);
    },
    sql,
    postmasterPid,
    logTails: async (lines = LOG_TAIL_LINES) => {
      const tails = await Promise.all(
        nodes.map(async (n) => {
          const text = await readFile(n.logFile, 'utf8').catch(() => '(no log)');
          return `--- ${n.name} (${options.system}) log, last ${lines} lines ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
        }),
      );
      return tails.join('\n');
    },
    close: async () => {
      await dcs.close().catch(() => undefined);
      await closeAll();
    },
  };
  try {
    for (const n of nodes) await startAgent(n);
    log(`chaos lab ${lab.id} (${options.system}) in ${dir}: agents started`);
  } catch (error) {
    await chaos.close().catch(() => undefined);
    throw error;
  }
  return chaos;
}

function hostPort(endpoint: string): { host: string; port: number } {
  const cut = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, cut), port: Number(endpoint.slice(cut + 1)) };
}

// ---- cluster state ----

/** Whether `replica` streams from `leader` right now (pg_stat_replication on the leader). */
export async function streamsFrom(chaos: ChaosLab, replica: string, leader: string): Promise<boolean> {
  const rows = await chaos.sql<{ application_name: string }>(chaos.node(leader), "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
  return rows.some((r) => r.application_name === replica);
}

export interface HealthState {
  leader: string;
  /** The sync key's standbys (synchronous mode), else []. */
  syncStandbys: string[];
}

/**
 * One state check: one leader key holder whose PostgreSQL is a primary, every other member in
 * recovery and streaming from it, every agent alive, and in synchronous mode a sync key naming
 * the leader and at least one standby. Returns a description of what is missing, or the state.
 */
export async function healthCheck(chaos: ChaosLab, mode: ChaosMode): Promise<HealthState | string> {
  const view = await chaos.view();
  const leader = view.leader?.name;
  if (leader === undefined) return 'no leader key';
  const dead = chaos.nodes.filter((n) => n.agentPid === 0 || !isAlive(n.agentPid));
  if (dead.length > 0) return `agent not running on ${dead.map((n) => n.name).join(', ')}`;
  const [state] = await chaos.sql<{ in_recovery: boolean }>(chaos.node(leader), 'SELECT pg_is_in_recovery() AS in_recovery');
  if (state?.in_recovery !== false) return `${leader} holds the key but is in recovery`;
  for (const other of chaos.nodes.filter((n) => n.name !== leader)) {
    const [row] = await chaos.sql<{ in_recovery: boolean }>(other, 'SELECT pg_is_in_recovery() AS in_recovery');
    if (row?.in_recovery !== true) return `${other.name} is not in recovery`;
    if (!(await streamsFrom(chaos, other.name, leader))) return `${other.name} does not stream from ${leader}`;
  }
  const sync = view.sync?.value;
  if (mode === 'on' && (sync === undefined || sync.leader !== leader || sync.syncStandbys.length === 0)) return `the sync key names no standby of ${leader}`;
  return { leader, syncStandbys: mode === 'on' ? (sync?.syncStandbys ?? []) : [] };
}

/** Polls healthCheck until healthy; throws with the last reason and the agents' logs. */
export async function waitHealthy(chaos: ChaosLab, mode: ChaosMode, timeoutMs: number): Promise<HealthState> {
  const deadline = performance.now() + timeoutMs;
  let last = 'not checked yet';
  for (;;) {
    try {
      const state = await healthCheck(chaos, mode);
      if (typeof state !== 'string') return state;
      last = state;
    } catch (error) {
      last = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    }
    if (performance.now() >= deadline) throw new Error(`chaos lab not healthy (${mode}) after ${timeoutMs} ms: ${last}\n${await chaos.logTails()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Switches the replication mode with PATCH /config on the leader and waits until it holds. */
export async function setMode(chaos: ChaosLab, mode: ChaosMode, timeoutMs: number): Promise<HealthState> {
  const { leader } = await waitHealthy(chaos, 'async', timeoutMs);
  await chaos.patchConfig(chaos.node(leader), { synchronous_mode: mode === 'on' });
  if (mode === 'async') {
    // Patroni and keel drop the sync key when synchronous_mode goes off.
    const deadline = performance.now() + timeoutMs;
    while ((await chaos.view()).sync !== null && performance.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return waitHealthy(chaos, mode, timeoutMs);
}

/** failsafe_mode on or off with PATCH /config; on: waits until the failsafe key lists every member. */
export async function setFailsafe(chaos: ChaosLab, on: boolean, timeoutMs: number): Promise<void> {
  const view = await chaos.view();
  const leader = view.leader?.name;
  if (leader === undefined) throw new Error('setFailsafe: no leader');
  await chaos.patchConfig(chaos.node(leader), { failsafe_mode: on });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const current = await chaos.view().catch(() => null);
    const failsafe = current?.failsafe ?? null;
    const configured = current?.config?.value['failsafe_mode'] === on;
    const listed = failsafe !== null && chaos.nodes.every((n) => n.name in failsafe);
    if (configured && (!on || listed)) return;
    if (performance.now() >= deadline) throw new Error(`failsafe_mode ${on ? 'on' : 'off'} not in effect after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The size of a file now (0 when missing): where a scenario starts reading an agent's log. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

/** A file's text from byte `offset` on. */
export async function readFrom(path: string, offset: number): Promise<string> {
  const text = await readFile(path).catch(() => Buffer.alloc(0));
  return text.subarray(offset).toString('utf8');
}

/** Sends a signal to an agent PID (SIGSTOP/SIGCONT), ignoring one already gone. */
export function signalAgent(node: ChaosNode, signal: NodeJS.Signals): void {
  if (node.agentPid <= 0) return;
  try {
    process.kill(node.agentPid, signal);
  } catch {
    // gone: nothing to stop or resume
  }
}
