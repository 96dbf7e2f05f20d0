/**
 * Starts and stops a local etcd cluster (1 or 3 members) on loopback, for tests, `keel sandbox`
 * and benchmarks.
 *
 * Every member runs detached in its own process group with its output in <dir>/<name>.log and
 * its PID in <dir>/<name>.pid, so a CLI can start a cluster and exit while etcd keeps running.
 * Invariants: `startEtcdCluster` either returns a cluster whose every member answered
 * GET /health with {"health":"true"} within the deadline, or stops what it started and throws an
 * error quoting the tail of the failing member's log; `stopPids` only returns once every PID it
 * was given is gone (or throws saying which one survived SIGKILL).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostPort } from '../config/types.js';
import { KeelError } from '../errors.js';
import { freePorts } from './ports.js';
import { isAlive } from './process-alive.js';

export { isAlive };

export interface EtcdClusterOptions {
  /** Directory for data directories, logs and PID files (created when missing). */
  dir: string;
  /** Number of members: 1 or 3 (any odd number up to 7 works). */
  size: number;
  host?: string;
  /** Client ports, one per member; free ports are picked when absent. */
  clientPorts?: number[];
  peerPorts?: number[];
  /** Member names are `<namePrefix><i>` (i from 1); default "etcd". */
  namePrefix?: string;
  /** How long to wait for every member to report healthy (ms); default 30 s. */
  startTimeoutMs?: number;
  /** etcd binary; default "etcd" from PATH. */
  etcdBinary?: string;
  /** Raft heartbeat and election timeout (ms); defaults 100 and 1000 suit loopback. */
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  /** Extra command-line flags given to every member. */
  extraArgs?: string[];
  /** Serve clients over https (peers stay on http, loopback only). */
  tls?: EtcdClusterTls;
}

/** Client-side TLS of the members (paths); the health check uses the same files as a client. */
export interface EtcdClusterTls {
  /** The CA that signed `cert` (the health check verifies etcd with it) and, with clientCertAuth, the clients. */
  ca: string;
  cert: string;
  key: string;
  /** --client-cert-auth: clients must present a certificate signed by `ca`; the health check presents this one. */
  clientCertAuth?: { cert: string; key: string };
}

export interface EtcdMember {
  name: string;
  /** PID of the running process (updated by startMember); 0 when never started. */
  pid: number;
  clientUrl: string;
  peerUrl: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  pidFile: string;
}

export interface EtcdCluster {
  endpoints: HostPort[];
  members: EtcdMember[];
  /** Stops every member (SIGTERM, SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Stops one member (index into `members`). */
  stopMember(index: number): Promise<void>;
  /** Starts one stopped member again on its data directory and waits until it is healthy. */
  startMember(index: number): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const HEALTH_POLL_MS = 100;
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
const LOG_TAIL_LINES = 15;
const MAX_MEMBERS = 7;

interface ResolvedOptions {
  dir: string;
  host: string;
  etcdBinary: string;
  startTimeoutMs: number;
  args: string[];
  initialCluster: string;
  clusterToken: string;
  tls?: EtcdClusterTls;
}

function tlsArgs(tls: EtcdClusterTls | undefined): string[] {
  if (tls === undefined) return [];
  // etcd requires client certificates as soon as it has a trusted CA file, so that goes with --client-cert-auth only
  return [
    `--cert-file=${tls.cert}`,
    `--key-file=${tls.key}`,
    ...(tls.clientCertAuth === undefined ? [] : [`--trusted-ca-file=${tls.ca}`, '--client-cert-auth']),
  ];
}

export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const size = options.size;
  if (!Number.isInteger(size) || size < 1 || size > MAX_MEMBERS) {
    throw new KeelError('etcd.bad_size', `an etcd cluster has 1 to ${MAX_MEMBERS} members, got ${size}`);
  }
  const host = options.host ?? '127.0.0.1';
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const ports = await pickPorts(size, host, options.clientPorts, options.peerPorts);
  const prefix = options.namePrefix ?? 'etcd';
  const members: EtcdMember[] = ports.client.map((clientPort, i) => {
    const name = `${prefix}${i + 1}`;
    const peerPort = ports.peer[i] ?? 0;
    return {
      name,
      pid: 0,
      clientUrl: `${options.tls === undefined ? 'http' : 'https'}://${urlHost(host)}:${clientPort}`,
      peerUrl: `http://${urlHost(host)}:${peerPort}`,
      clientPort,
      peerPort,
      dataDir: join(dir, `${name}.data`),
      logFile: join(dir, `${name}.log`),
      pidFile: join(dir, `${name}.pid`),
    };
  });
  const resolved: ResolvedOptions = {
    dir,
    host,
    etcdBinary: options.etcdBinary ?? 'etcd',
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    args: [
      `--heartbeat-interval=${options.heartbeatIntervalMs ?? 100}`,
      `--election-timeout=${options.electionTimeoutMs ?? 1000}`,
      // etcd 3.5's default, off in 3.4: a member back from a partition does not depose the leader
      '--pre-vote=true',
      ...tlsArgs(options.tls),
      ...(options.extraArgs ?? []),
    ],
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    clusterToken: `keel-${prefix}-${ports.client[0] ?? 0}`,
  };

  try {
    for (const member of members) await spawnMember(member, resolved);
    await Promise.all(members.map((member) => waitHealthy(member, resolved.startTimeoutMs, resolved.tls)));
  } catch (error) {
    await stopPids(
      members.map((m) => m.pid).filter((pid) => pid > 0),
      2_000,
    ).catch(() => undefined);
    throw error;
  }

  return {
    endpoints: members.map((m) => ({ host, port: m.clientPort })),
    members,
    stop: () =>
      stopEtcdPids(
        members.map((m) => m.pid),
        STOP_GRACE_MS,
      ),
    stopMember: async (index) => {
      const member = memberAt(members, index);
      await stopPids(member.pid > 0 ? [member.pid] : [], STOP_GRACE_MS);
    },
    startMember: async (index) => {
      const member = memberAt(members, index);
      if (member.pid > 0 && isAlive(member.pid)) return;
      await spawnMember(member, resolved);
      await waitHealthy(member, resolved.startTimeoutMs, resolved.tls);
    },
  };
}

function memberAt(members: EtcdMember[], index: number): EtcdMember {
  const member = members[index];
  if (member === undefined) throw new RangeError(`no etcd member #${index} (cluster has ${members.length})`);
  return member;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function pickPorts(size: number, host: string, client?: number[], peer?: number[]): Promise<{ client: number[]; peer: number[] }> {
  if (client !== undefined && client.length !== size) throw new KeelError('etcd.bad_ports', `${size} client ports needed, got ${client.length}`);
  if (peer !== undefined && peer.length !== size) throw new KeelError('etcd.bad_ports', `${size} peer ports needed, got ${peer.length}`);
  const missing = (client === undefined ? size : 0) + (peer === undefined ? size : 0);
  const picked = missing > 0 ? await freePorts(missing, host) : [];
  return {
    client: client ?? picked.slice(0, size),
    peer: peer ?? picked.slice(picked.length - size),
  };
}

/** The environment without ETCD_* variables, so the command-line flags alone define the member. */
function etcdEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD_')));
}

async function spawnMember(member: EtcdMember, options: ResolvedOptions): Promise<void> {
  const args = [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${options.initialCluster}`,
    `--initial-cluster-state=new`,
    `--initial-cluster-token=${options.clusterToken}`,
    '--logger=zap',
    '--log-outputs=stderr',
    ...options.args,
  ];
  const log = await open(member.logFile, 'a');
  try {
    const child = spawn(options.etcdBinary, args, { detached: true, stdio: ['ignore', log.fd, log.fd], env: etcdEnv() });
    const pid = await new Promise<number>((resolvePid, reject) => {
      child.once('error', (error) =>
        reject(
          new KeelError('etcd.spawn_failed', `cannot start ${options.etcdBinary}: ${error.message}`, {
            hint: 'install etcd (Debian: apt-get install etcd-server) or pass etcdBinary',
            cause: error,
          }),
        ),
      );
      child.once('spawn', () => resolvePid(child.pid ?? 0));
    });
    child.unref();
    member.pid = pid;
    await writeFile(member.pidFile, `${pid}\n`);
  } finally {
    await log.close();
  }
}

async function waitHealthy(member: EtcdMember, timeoutMs: number, tls: EtcdClusterTls | undefined): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!isAlive(member.pid)) {
      throw new KeelError('etcd.start_failed', `etcd member ${member.name} (pid ${member.pid}) exited while starting:\n${await logTail(member.logFile)}`);
    }
    try {
      const body = await httpGet(`${member.clientUrl}/health`, HEALTH_REQUEST_TIMEOUT_MS, tls);
      if (isHealthyBody(body)) return;
      last = body.trim();
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() >= deadline) {
      throw new KeelError(
        'etcd.start_timeout',
        `etcd member ${member.name} at ${member.clientUrl} not healthy after ${timeoutMs} ms (last answer: ${last}); end of ${member.logFile}:\n${await logTail(member.logFile)}`,
      );
    }
    await sleep(HEALTH_POLL_MS);
  }
}

function isHealthyBody(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && (parsed as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

function httpGet(url: string, timeoutMs: number, tls: EtcdClusterTls | undefined): Promise<string> {
  const files =
    tls === undefined
      ? {}
      : {
          ca: readFileSync(tls.ca),
          ...(tls.clientCertAuth === undefined ? {} : { cert: readFileSync(tls.clientCertAuth.cert), key: readFileSync(tls.clientCertAuth.key) }),
        };
  return new Promise((resolveBody, reject) => {
    const req = (tls === undefined ? request : httpsRequest)(url, { method: 'GET', timeout: timeoutMs, agent: false, ...files }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function logTail(file: string): Promise<string> {
  try {
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && performance.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Stops etcd members one at a time, last first. Stopping them all at once takes seconds (each
 * leader tries to hand leadership over to peers that are going away too); one by one takes
 * about 100 ms per member.
 */
export async function stopEtcdPids(pids: number[], graceMs: number): Promise<void> {
  for (const pid of [...pids].reverse()) if (pid > 0) await stopPids([pid], graceMs);
}

/**
 * Stops processes by PID: SIGTERM, then SIGKILL to those still alive after `graceMs`, and waits
 * until every one is gone. Throws when a process survives SIGKILL for 10 s.
 */
export async function stopPids(pids: number[], graceMs: number): Promise<void> {
  const targets = [...new Set(pids)].filter(isAlive);
  if (targets.length === 0) return;
  for (const pid of targets) signal(pid, 'SIGTERM');
  const stubborn = await waitGone(targets, graceMs);
  if (stubborn.length === 0) return;
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const survivors = await waitGone(stubborn, 10_000);
  if (survivors.length > 0) throw new KeelError('process.stop_failed', `processes still running after SIGKILL: ${survivors.join(', ')}`);
}
