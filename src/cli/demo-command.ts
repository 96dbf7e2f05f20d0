/**
 * `keel demo` (what `npm run demo` runs, after scripts/setup.sh installed what was missing): a full
 * local cluster on loopback — etcd x3, three PostgreSQL nodes with their keel agents, and HAProxy
 * routing writes to the leader and reads to the replicas — then how to connect and a live view
 * of the cluster until Ctrl-C, which stops everything the demo started.
 *
 *   --failover  also runs the failover scenario (demo-failover.ts) before the live view
 *   --once      prints one view and stops everything (for scripts and tests)
 *
 * Invariant: whatever happens after the sandbox is started (an error, Ctrl-C, SIGTERM), every
 * process the demo started is stopped before it exits.
 */
import type { Command } from 'commander';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { parse } from 'yaml';
import { KeelError } from '../errors.js';
import { sandboxUp, sandboxDown, waitForCluster, readSandboxRecord, sandboxRecordPath, isAlive, type SandboxRecord } from '../sandbox/sandbox.js';
import { SEED_CHECK_TIMINGS, routingNow, statsUrl, waitForRouting } from '../sandbox/haproxy.js';
import { listCluster } from './list-command.js';
import { clearScreen, stdoutIsTerminal } from './terminal.js';
import { runFailoverDemo } from './demo-failover.js';

const START_TIMEOUT_MS = 300_000;
const REFRESH_MS = 2000;

interface DemoFlags {
  dir: string;
  failover?: boolean;
  once?: boolean;
  ttl: string;
  loopWait: string;
}

function seconds(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new KeelError('cli.bad_number', `${flag} must be a positive number of seconds, got "${value}"`, { exitCode: 2 });
  return parsed;
}

/** A previous demo in `dir` that still runs is reported; one whose processes are all gone is cleared away. */
async function previousDemo(dir: string): Promise<SandboxRecord | null> {
  if (!existsSync(sandboxRecordPath(dir))) return null;
  const record = await readSandboxRecord(dir);
  if ([...record.nodes.map((n) => n.pid), ...record.etcd.pids, record.haproxy?.pid ?? 0].some(isAlive)) return record;
  await rm(dir, { recursive: true, force: true });
  return null;
}

async function superuserPassword(record: SandboxRecord): Promise<string> {
  const config = parse(await readFile(record.nodes[0]?.config ?? '', 'utf8')) as { postgresql?: { authentication?: { superuser?: { password?: string } } } };
  return config.postgresql?.authentication?.superuser?.password ?? '';
}

function printHowToConnect(record: SandboxRecord, password: string, dir: string, out: (line: string) => void): void {
  const h = record.haproxy;
  const config = record.nodes[0]?.config ?? '';
  out('');
  if (h !== undefined) {
    out('connect through HAProxy:');
    out(`  writes (the leader):   PGPASSWORD=${password} psql -h ${record.host} -p ${h.writePort} -U postgres`);
    out(`  reads (a replica):     PGPASSWORD=${password} psql -h ${record.host} -p ${h.readPort} -U postgres`);
    out(`  HAProxy stats page:    ${statsUrl(record.host, h)}`);
  }
  out('REST API (Patroni-compatible), status of each member:');
  for (const n of record.nodes) out(`  ${n.name}: http://${record.host}:${n.apiPort}/patroni   (health: /primary /replica /health)`);
  out(`etcd:                    ${record.etcd.endpoints.join(',')}`);
  out('in another terminal:');
  out(`  node dist/src/cli/main.js -c ${config} list`);
  out(`  node dist/src/cli/main.js -c ${config} switchover --force`);
  out(`  node dist/src/cli/main.js -c ${config} explain`);
  out(`files, configs and logs: ${dir}`);
}

async function view(record: SandboxRecord): Promise<string> {
  const table = (await listCluster(record.nodes[0]?.config ?? '', 'pretty').catch((error: unknown) => `(etcd does not answer: ${String(error)})`)).trimEnd();
  const h = record.haproxy;
  if (h === undefined) return table;
  const routing = await routingNow(record.host, h);
  const line =
    routing === null
      ? 'HAProxy: its stats page does not answer'
      : `HAProxy: writes -> ${routing.write.join(', ') || 'nobody'}; reads -> ${routing.read.join(', ') || 'nobody'}`;
  return `${table}\n${line}`;
}

/** Resolves on the first SIGINT or SIGTERM; the handlers are removed by `dispose`. */
function stopSignal(): { requested: Promise<string>; isRequested(): boolean; dispose(): void } {
  let requested = false;
  let resolveRequest: (signal: string) => void = () => undefined;
  const promise = new Promise<string>((resolve) => (resolveRequest = resolve));
  const handler = (signal: NodeJS.Signals) => {
    requested = true;
    resolveRequest(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: promise,
    isRequested: () => requested,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

class Interrupted extends Error {}

/** `work`, or an Interrupted error as soon as Ctrl-C (or SIGTERM) comes. */
function unlessStopped<T>(stop: ReturnType<typeof stopSignal>, work: Promise<T>): Promise<T> {
  const interrupted = stop.requested.then((): never => {
    throw new Interrupted('interrupted');
  });
  interrupted.catch(() => undefined); // once the work has won, a later Ctrl-C is the live view's business
  return Promise.race([work, interrupted]);
}

async function liveView(record: SandboxRecord, stop: ReturnType<typeof stopSignal>, out: (line: string) => void): Promise<void> {
  while (!stop.isRequested()) {
    const text = await view(record);
    if (stdoutIsTerminal()) clearScreen();
    out(`${text}\n(refreshing every ${REFRESH_MS / 1000}s; Ctrl-C stops the demo and everything it started)`);
    await Promise.race([new Promise((resolve) => setTimeout(resolve, REFRESH_MS)), stop.requested]);
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start a local cluster (etcd x3, PostgreSQL x3, HAProxy), show how to connect and watch it until Ctrl-C')
    .option('--dir <dir>', 'where the demo cluster lives', process.env['KEEL_DEMO_DIR'] ?? join(tmpdir(), 'keel-demo'))
    .option('--failover', 'run a writer through HAProxy, kill the leader and report what happened')
    .option('--once', 'print one view, then stop everything (no live view)')
    .option('--ttl <s>', 'leader lease TTL (seconds; the seed uses 30)', '30')
    .option('--loop-wait <s>', 'HA loop period (seconds; the seed uses 10)', '10')
    .action(async (flags: DemoFlags) => {
      const out = (line: string) => process.stdout.write(line + '\n');
      const ttlS = seconds('--ttl', flags.ttl);
      const loopWaitS = seconds('--loop-wait', flags.loopWait);
      // the agents' own bounds (src/config/dynamic.ts): refused here, before anything starts
      if (ttlS < 7 || loopWaitS >= ttlS)
        throw new KeelError('cli.bad_number', `--ttl must be at least 7 and above --loop-wait, got ttl ${ttlS}, loop_wait ${loopWaitS}`, { exitCode: 2 });
      // the seed's 10 s, or less so that loop_wait + 2 x retry_timeout <= ttl holds with short timings
      const timings = { ttlS, loopWaitS, retryTimeoutS: Math.max(3, Math.min(10, Math.floor((ttlS - loopWaitS) / 2))) };
      const running = await previousDemo(flags.dir);
      if (running !== null) {
        out(`a demo is already running in ${flags.dir} (stop it with Ctrl-C in its terminal, or: keel sandbox down --dir ${flags.dir})`);
        out(await view(running));
        return;
      }
      const stop = stopSignal();
      let record: SandboxRecord | null = null;
      let interrupted = false;
      try {
        record = await sandboxUp({
          dir: flags.dir,
          nodes: 3,
          timings,
          scope: 'keel-demo',
          waitMs: 0,
          log: out,
          haproxy: { timings: SEED_CHECK_TIMINGS, runtimeApi: true },
        });
        const started = record;
        out('waiting for the leader to bootstrap, the replicas to stream and HAProxy to route...');
        const leader = await unlessStopped(stop, waitForCluster(started, START_TIMEOUT_MS));
        if (started.haproxy !== undefined) await unlessStopped(stop, waitForRouting(started.host, started.haproxy, leader, START_TIMEOUT_MS));
        const password = await superuserPassword(started);
        printHowToConnect(started, password, flags.dir, out);
        if (flags.failover === true) await unlessStopped(stop, runFailoverDemo(started, flags.dir, password, out));
        if (flags.once === true) out(`\n${await view(started)}`);
        else await liveView(started, stop, out);
      } catch (error) {
        if (!(error instanceof Interrupted)) throw error;
        interrupted = true;
      } finally {
        stop.dispose();
        if (record !== null || existsSync(sandboxRecordPath(flags.dir))) {
          out('\nstopping the demo: agents (they stop PostgreSQL), HAProxy, etcd...');
          await sandboxDown(flags.dir, out);
          out('demo stopped; nothing it started is left running');
        }
      }
      // interrupted while starting: background polls may still hold timers; nothing of ours runs any more
      if (interrupted) process.exit(130);
    });
}
