/**
 * Test support: a real sandbox cluster (etcd x3 + keel agents + PostgreSQL) in a temporary
 * directory, always stopped by PID and removed in teardown, plus small SQL and CLI helpers.
 */
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import {
  sandboxUp,
  sandboxDown,
  waitForCluster,
  spawnAgent,
  writeRecord,
  sandboxDcs,
  type SandboxRecord,
  type SandboxUpOptions,
} from '../../src/sandbox/sandbox.js';

export const KEEL_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface TestCluster {
  dir: string;
  record: SandboxRecord;
  leader: string;
  superuserPassword: string;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  nodes?: number;
  ttlS?: number;
  loopWaitS?: number;
  retryTimeoutS?: number;
  waitMs?: number;
  nodeEtcdHosts?: (etcdEndpoints: string[], node: string) => Promise<string[]>;
  restApiAuth?: { username: string; password: string };
  /** Also start HAProxy (see SandboxUpOptions.haproxy). */
  haproxy?: SandboxUpOptions['haproxy'];
  /** Tags set to true per node name. */
  nodeTags?: Record<string, string[]>;
  /** The backup: section of every node. */
  backup?: SandboxUpOptions['backup'];
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-test-'));
  let record: SandboxRecord | null = null;
  const stop = async () => {
    try {
      await sandboxDown(dir);
    } catch {
      // nothing was recorded: nothing to stop
    }
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    record = await sandboxUp({
      dir,
      nodes: options.nodes ?? 3,
      timings: { ttlS: options.ttlS ?? 10, loopWaitS: options.loopWaitS ?? 2, retryTimeoutS: options.retryTimeoutS ?? 3 },
      waitMs: 0,
      ...(options.nodeEtcdHosts === undefined ? {} : { nodeEtcdHosts: options.nodeEtcdHosts }),
      ...(options.restApiAuth === undefined ? {} : { restApiAuth: options.restApiAuth }),
      ...(options.haproxy === undefined ? {} : { haproxy: options.haproxy }),
      ...(options.nodeTags === undefined ? {} : { nodeTags: options.nodeTags }),
      ...(options.backup === undefined ? {} : { backup: options.backup }),
    });
    const leader = await waitForCluster(record, options.waitMs ?? 180_000);
    const config = parse(await readFile(record.nodes[0]?.config ?? '', 'utf8')) as { postgresql: { authentication: { superuser: { password: string } } } };
    return { dir, record, leader, superuserPassword: config.postgresql.authentication.superuser.password, stop };
  } catch (error) {
    if (record !== null) {
      for (const node of record.nodes) {
        const log = await readFile(node.logFile, 'utf8').catch(() => '');
        process.stderr.write(`--- ${node.name} log (last 40 lines) ---\n${log.split('\n').slice(-40).join('\n')}\n`);
      }
    }
    await stop();
    throw error;
  }
}

/** Runs one SQL statement on a node as the superuser over TCP. */
export async function sql<Row extends pg.QueryResultRow = Record<string, unknown>>(
  cluster: TestCluster,
  node: string,
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const member = cluster.record.nodes.find((n) => n.name === node);
  if (member === undefined) throw new Error(`no node ${node}`);
  const client = new pg.Client({
    host: cluster.record.host,
    port: member.pgPort,
    user: 'postgres',
    password: cluster.superuserPassword,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
    query_timeout: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<Row>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the keel CLI (compiled) and captures its output. */
export function runKeel(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KEEL_MAIN, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, stepMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === null ? '' : `: ${String(lastError)}`}`);
}

/** The last `lines` lines of each agent's log (an agent logs its decisions only when they change, so a few dozen lines cover minutes). */
export async function agentLogTails(record: SandboxRecord, lines = 40): Promise<string> {
  const tails = await Promise.all(
    record.nodes.map(async (node) => {
      const text = await readFile(node.logFile, 'utf8').catch((error: Error) => `(unreadable: ${error.message})`);
      return `--- ${node.name} (${node.logFile}), last ${lines} lines:\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
    }),
  );
  return tails.join('\n');
}

/**
 * Awaits `waiting`; if it fails, fails with each agent's recent log lines appended, so that a
 * cluster that did not do what a test waited for says why in CI's output (the test directory,
 * logs included, is removed afterwards).
 */
export async function withAgentLogs<T>(record: SandboxRecord, waiting: Promise<T>): Promise<T> {
  try {
    return await waiting;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await agentLogTails(record)}`, { cause: error });
  }
}

export async function httpStatus(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

/** PID of a live postmaster on this data directory, or null. */
export async function postmasterPidOf(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** PID of the postmaster running on a node's data directory, or null. */
export async function postmasterPid(cluster: TestCluster, node: string): Promise<number | null> {
  const member = cluster.record.nodes.find((n) => n.name === node);
  return member === undefined ? null : postmasterPidOf(member.dataDir);
}

/** kill -9 of a node's agent and/or postmaster. */
export async function killNode(cluster: TestCluster, node: string, what: { agent: boolean; postgres: boolean }): Promise<void> {
  const member = cluster.record.nodes.find((n) => n.name === node);
  if (member === undefined) throw new Error(`no node ${node}`);
  const pgPid = await postmasterPid(cluster, node);
  if (what.agent) {
    try {
      process.kill(member.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (what.postgres && pgPid !== null) process.kill(pgPid, 'SIGKILL');
}

/** Starts a node's agent again (after a kill) and records its new PID for teardown. */
export async function restartAgent(cluster: TestCluster, node: string): Promise<void> {
  const member = cluster.record.nodes.find((n) => n.name === node);
  if (member === undefined) throw new Error(`no node ${node}`);
  member.pid = await spawnAgent(member.config, member.logFile, cluster.record.runtime ?? 'keel');
  await writeRecord(cluster.dir, cluster.record);
}

/** The node whose REST API answers 200 on /primary right now (null if none, throws if several). */
export async function currentPrimary(cluster: TestCluster): Promise<string | null> {
  const answers = await Promise.all(
    cluster.record.nodes.map(async (n) => {
      try {
        return (await fetch(`http://127.0.0.1:${n.apiPort}/primary`, { signal: AbortSignal.timeout(2000) })).status === 200 ? n.name : null;
      } catch {
        return null;
      }
    }),
  );
  const primaries = answers.filter((a): a is string => a !== null);
  if (primaries.length > 1) throw new Error(`two nodes answer /primary: ${primaries.join(', ')}`);
  return primaries[0] ?? null;
}

/** Holder of the leader key, read from etcd through the DCS layer. */
export async function leaderKeyHolder(cluster: TestCluster): Promise<string | null> {
  const dcs = sandboxDcs(cluster.record, 'test-observer');
  try {
    return (await dcs.loadCluster()).leader?.name ?? null;
  } finally {
    await dcs.close();
  }
}
