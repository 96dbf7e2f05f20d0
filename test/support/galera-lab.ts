/**
 * Test and bench support: a real Galera lab on loopback — one etcd and N MariaDB + Galera nodes,
 * each with its own SQL, gmcast, IST and SST ports and its own data directory under a temporary
 * directory, driven by keel agents spawned as `keel agent gN.yml`. Every process is tracked by
 * PID (agents as children, mariadbd through the pid file keel's option file names) and stopped
 * by `stop()`, which callers run in after()/finally also when a step failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { startEtcdCluster, type EtcdCluster } from '../../src/sandbox/etcd-cluster.js';
import { freePorts } from '../../src/sandbox/ports.js';

export const KEEL_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const GALERA_USER = { user: 'keel', password: 'galera-test-pw' };

export interface GaleraLabNode {
  name: string;
  api: number;
  sql: number;
  dir: string;
  config: string;
  log: string;
  agent: ChildProcess | null;
}

export interface GaleraLab {
  dir: string;
  etcd: EtcdCluster;
  nodes: GaleraLabNode[];
  stop(): Promise<void>;
}

export function mariadbPid(node: GaleraLabNode): number | null {
  try {
    const pid = Number(readFileSync(join(node.dir, 'conf', 'mariadbd.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function killPid(pid: number | null | undefined): void {
  if (pid === null || pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** kill -9 of a node's agent and mariadbd; returns the PIDs killed. */
export function killNode(node: GaleraLabNode): number[] {
  const pids = [node.agent?.pid ?? null, mariadbPid(node)].filter((pid): pid is number => pid !== null);
  for (const pid of pids) killPid(pid);
  node.agent = null;
  return pids;
}

export function startAgent(node: GaleraLabNode): void {
  const fd = openSync(node.log, 'a');
  node.agent = spawn(process.execPath, [KEEL_MAIN, 'agent', node.config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
}

export async function health(node: GaleraLabNode): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${node.api}/health`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

export async function sql<T>(node: GaleraLabNode, body: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', port: node.sql, ...GALERA_USER, connectTimeout: 3_000 });
  try {
    return await body(connection);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** wsrep_cluster_size seen over SQL (0 when the node does not answer). */
export async function clusterSize(node: GaleraLabNode): Promise<number> {
  try {
    return await sql(node, async (c) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW STATUS LIKE 'wsrep_cluster_size'");
      return Number(rows[0]?.['Value'] ?? 0);
    });
  } catch {
    return 0;
  }
}

/** Every node answers its health check with 200 and sees a Primary component of all the nodes. */
export async function allSynced(nodes: GaleraLabNode[], viaAgents = true): Promise<boolean> {
  for (const node of nodes) {
    if (viaAgents && (await health(node)) !== 200) return false;
    if ((await clusterSize(node)) !== nodes.length) return false;
  }
  return true;
}

/**
 * For a failure message: first one line per node (its health answer, what its server says over
 * SQL, the last line of its agent and of its server log: what CI shows when it shows little), then
 * the end of every agent log and mariadbd error log.
 */
export async function labLogs(nodes: GaleraLabNode[]): Promise<string> {
  const lastLine = (text: string): string => text.trimEnd().split('\n').at(-1) ?? '';
  const heads: string[] = [];
  const parts: string[] = [];
  for (const node of nodes) {
    const agentLog = await readFile(node.log, 'utf8').catch(() => '');
    const errorLog = await readFile(join(node.dir, 'conf', 'error.log'), 'utf8').catch(() => '');
    const server = await sql(node, async (c) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_cluster_size', 'wsrep_local_state_comment')",
      );
      return rows.map((row) => `${String(row['Variable_name']).replace('wsrep_', '')}=${String(row['Value'])}`).join(' ');
    }).catch((error: unknown) => `no SQL (${error instanceof Error ? error.message : String(error)})`);
    heads.push(`${node.name}: health ${await health(node)}, ${server}\n  agent: ${lastLine(agentLog)}\n  mariadbd: ${lastLine(errorLog)}`);
    parts.push(
      `--- ${node.name} agent\n${agentLog.split('\n').slice(-30).join('\n')}\n--- ${node.name} mariadbd\n${errorLog.split('\n').slice(-15).join('\n')}`,
    );
  }
  return [...heads, ...parts].join('\n');
}

export async function startGaleraLab(options: { names?: string[]; scope?: string } = {}): Promise<GaleraLab> {
  const names = options.names ?? ['g1', 'g2', 'g3'];
  const dir = await mkdtemp(join(tmpdir(), 'keel-galera-'));
  // mariadbd runs as the mysql OS user: it must reach its directories under this one
  await chmod(dir, 0o755);
  const nodes: GaleraLabNode[] = [];
  let etcd: EtcdCluster | null = null;
  const stop = async () => {
    for (const node of nodes) {
      killPid(node.agent?.pid);
      killPid(mariadbPid(node));
    }
    await etcd?.stop();
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    etcd = await startEtcdCluster({ dir: join(dir, 'etcd'), size: 1, namePrefix: 'kg-' });
    const ports = await freePorts(names.length * 5);
    for (const [index, name] of names.entries()) {
      const [api, sqlPort, gmcast, ist, sst] = ports.slice(index * 5, index * 5 + 5) as [number, number, number, number, number];
      const nodeDir = join(dir, name);
      await mkdir(nodeDir, { mode: 0o755 });
      const config = join(dir, `${name}.yml`);
      await writeFile(
        config,
        [
          `scope: ${options.scope ?? 'shop'}`,
          `name: ${name}`,
          'loop_wait: 1',
          'ttl: 5',
          `restapi: {listen: "127.0.0.1:${api}"}`,
          `etcd3: {hosts: "${etcd.endpoints.map((e) => `${e.host}:${e.port}`).join(',')}"}`,
          'galera:',
          '  node_address: 127.0.0.1',
          `  port: ${sqlPort}`,
          `  gmcast_port: ${gmcast}`,
          `  ist_port: ${ist}`,
          `  sst_port: ${sst}`,
          `  data_dir: ${join(nodeDir, 'data')}`,
          `  config_dir: ${join(nodeDir, 'conf')}`,
          `  socket: ${join(nodeDir, 'mysqld.sock')}`,
          '  slave_threads: 2',
          '  report_timeout: 5',
          '  non_primary_timeout: 3',
          '  provider_options: {gcache.size: 32M}',
          '  parameters: {innodb_buffer_pool_size: 32M, innodb_log_file_size: 16M, performance_schema: "OFF"}',
          `  authentication: {superuser: {username: ${GALERA_USER.user}, password: ${GALERA_USER.password}}}`,
          '',
        ].join('\n'),
      );
      nodes.push({ name, api, sql: sqlPort, dir: nodeDir, config, log: join(dir, `${name}.agent.log`), agent: null });
    }
    if (process.getuid?.() === 0) {
      const chown = spawnSync('chown', ['-R', 'mysql:mysql', ...nodes.map((n) => n.dir)]);
      if (chown.status !== 0) throw new Error(`chown failed: ${String(chown.stderr)}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, etcd, nodes, stop };
}
