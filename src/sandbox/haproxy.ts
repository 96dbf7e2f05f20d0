/**
 * The sandbox's HAProxy: the Debian package's /usr/sbin/haproxy run in the foreground (so its PID
 * is the one to stop), with the configuration `keel haproxy-config` would print for the sandbox's
 * nodes, on free loopback ports. Its log (server up/down events) goes to <dir>/haproxy.log.
 *
 * The routing it does is read back from its stats page (CSV), which is also what tells the demo,
 * the tests and the benchmarks that HAProxy agrees with the cluster.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { DEFAULT_READ_BACKEND, DEFAULT_WRITE_BACKEND, renderHaproxyConfig, type RoutedMember } from '../haproxy/config-render.js';
import { GALERA_READ_BACKEND, GALERA_WRITE_BACKEND, renderGaleraHaproxyConfig, type GaleraRoutedNode } from '../haproxy/galera-config-render.js';

export const HAPROXY_BINARY = '/usr/sbin/haproxy';
const START_TIMEOUT_MS = 15_000;
const STATS_REQUEST_TIMEOUT_MS = 2_000;

/** Health-check timings of the sandbox's HAProxy (HAProxy time values and counts). */
export interface HaproxyCheckTimings {
  inter: string;
  fall: number;
  rise: number;
}

/** The seed's timings (inter 3s fall 3 rise 2). */
export const SEED_CHECK_TIMINGS: HaproxyCheckTimings = { inter: '3s', fall: 3, rise: 2 };

export interface SandboxHaproxyRecord {
  pid: number;
  configFile: string;
  logFile: string;
  writePort: number;
  readPort: number;
  statsPort: number;
  /** The runtime API's unix socket the agents announce role changes to (null: not enabled). */
  runtimeSocket: string | null;
  /** The backends' names (absent in records written before the Galera variant: PostgreSQL's). */
  writeBackend?: string;
  readBackend?: string;
}

export interface StartHaproxyOptions {
  dir: string;
  host: string;
  scope: string;
  /** PostgreSQL members, or the nodes of a Galera cluster (writes to the single writer, reads to the Synced nodes). */
  members: RoutedMember[] | { galera: GaleraRoutedNode[] };
  ports: { write: number; read: number; stats: number };
  timings: HaproxyCheckTimings;
  /** The unix socket to open the runtime API on (null: none). */
  runtimeSocket: string | null;
}

async function statsAnswer(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(STATS_REQUEST_TIMEOUT_MS) })).status === 200;
  } catch {
    return false;
  }
}

/** Writes the configuration, checks it with `haproxy -c`, starts HAProxy and waits for its stats page. */
export async function startHaproxy(options: StartHaproxyOptions): Promise<SandboxHaproxyRecord> {
  if (!existsSync(HAPROXY_BINARY))
    throw new KeelError('sandbox.no_haproxy', `${HAPROXY_BINARY} is missing`, { hint: 'install the haproxy package (npm run setup does)' });
  const runtimeSocket = options.runtimeSocket;
  const configFile = join(options.dir, 'haproxy.cfg');
  const logFile = join(options.dir, 'haproxy.log');
  const binds = {
    scope: options.scope,
    writeBind: `${options.host}:${options.ports.write}`,
    readBind: `${options.host}:${options.ports.read}`,
    statsBind: `${options.host}:${options.ports.stats}`,
    ...options.timings,
  };
  const galera = 'galera' in options.members ? options.members.galera : null;
  const text =
    galera !== null
      ? renderGaleraHaproxyConfig(galera, binds)
      : renderHaproxyConfig(options.members as RoutedMember[], { ...binds, maxLag: null, runtimeSocket });
  await writeFile(configFile, text);
  const handle = await open(logFile, 'a');
  let pid: number;
  try {
    // -db: stay in the foreground, not a daemon, so this PID is HAProxy's and `down` can stop it
    const child = spawn(HAPROXY_BINARY, ['-db', '-f', configFile], { detached: true, stdio: ['ignore', handle.fd, handle.fd] });
    if (child.pid === undefined) throw new KeelError('sandbox.spawn_failed', 'cannot start haproxy');
    child.unref();
    pid = child.pid;
  } finally {
    await handle.close();
  }
  const record: SandboxHaproxyRecord = {
    pid,
    configFile,
    logFile,
    writePort: options.ports.write,
    readPort: options.ports.read,
    statsPort: options.ports.stats,
    runtimeSocket: galera !== null ? null : runtimeSocket,
    writeBackend: galera !== null ? GALERA_WRITE_BACKEND : DEFAULT_WRITE_BACKEND,
    readBackend: galera !== null ? GALERA_READ_BACKEND : DEFAULT_READ_BACKEND,
  };
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!(await statsAnswer(statsUrl(options.host, record)))) {
    if (performance.now() > deadline)
      throw new KeelError('sandbox.haproxy_start', `HAProxy did not answer on its stats page within ${START_TIMEOUT_MS / 1000}s (see ${logFile})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return record;
}

export function statsUrl(host: string, record: SandboxHaproxyRecord): string {
  return `http://${host}:${record.statsPort}/`;
}

/** One server of one backend as the stats page shows it ("UP", "DOWN", "MAINT", "UP 1/2", ...). */
export interface ServerStatus {
  backend: string;
  server: string;
  status: string;
}

/** Parses the stats page's CSV (`;csv`): the servers' lines, without the FRONTEND/BACKEND summaries. */
export function parseStatsCsv(csv: string): ServerStatus[] {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const column = (name: string) => header.indexOf(name);
  const [px, sv, status] = [column('pxname'), column('svname'), column('status')];
  return lines
    .slice(1)
    .map((line) => line.split(','))
    .filter((fields) => fields[sv] !== 'FRONTEND' && fields[sv] !== 'BACKEND')
    .map((fields) => ({ backend: fields[px] ?? '', server: fields[sv] ?? '', status: fields[status] ?? '' }));
}

/** The servers HAProxy routes to now, per backend; null when its stats page does not answer. */
export async function routingNow(host: string, record: SandboxHaproxyRecord): Promise<{ write: string[]; read: string[] } | null> {
  try {
    const response = await fetch(`${statsUrl(host, record)};csv`, { signal: AbortSignal.timeout(STATS_REQUEST_TIMEOUT_MS) });
    const servers = parseStatsCsv(await response.text());
    const up = (backend: string) => servers.filter((s) => s.backend === backend && s.status.startsWith('UP')).map((s) => s.server);
    return { write: up(record.writeBackend ?? DEFAULT_WRITE_BACKEND), read: up(record.readBackend ?? DEFAULT_READ_BACKEND) };
  } catch {
    return null;
  }
}

/** Waits until HAProxy sends writes to `leader` alone (its checks agree with the cluster). */
export async function waitForRouting(host: string, record: SandboxHaproxyRecord, leader: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let seen: { write: string[]; read: string[] } | null = null;
  while (performance.now() < deadline) {
    seen = await routingNow(host, record);
    if (seen !== null && seen.write.length === 1 && seen.write[0] === leader) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new KeelError(
    'sandbox.routing_timeout',
    `HAProxy did not route writes to ${leader} alone within ${Math.round(timeoutMs / 1000)}s (writes to: ${seen === null ? 'stats page silent' : seen.write.join(', ') || 'nobody'})`,
  );
}
