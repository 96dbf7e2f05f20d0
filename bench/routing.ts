/**
 * bench/routing: write unavailability seen through HAProxy, keel vs Patroni 3.0.2 in one run,
 * during a kill -9 of the leader (agent and postmaster) and during a switchover (POST /switchover).
 *
 * Routing variants: the seed's checks (inter 3s fall 3 rise 2), fast checks (inter 1s fall 2
 * rise 1), and for keel the seed's checks plus its runtime re-routing (the agents tell HAProxy's
 * runtime API about role changes). One cluster per system (ttl 10, loop_wait 2, retry_timeout
 * 3); HAProxy is restarted with each variant's configuration.
 *
 * Two writers run side by side the whole time (test/support/write-loss.ts): one through
 * HAProxy's write port, and the reference, a libpq-style multi-host writer walking the nodes with
 * target_session_attrs=read-write. Per event: kill -> first write acknowledged by another server
 * (each writer), and for a switchover the gap between the old leader's last acknowledgement and
 * the new leader's first (each writer). The goal: through HAProxy, within 0.3 s of multi-host.
 * Writes bench/results/routing.json and prints a table.
 *
 *   node dist/bench/routing.js [--reps 3] [--systems keel,patroni] [--variants seed,fast,runtime]
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  sandboxUp,
  sandboxDown,
  waitForCluster,
  spawnAgent,
  writeRecord,
  haproxySocketPath,
  type AgentRuntime,
  type SandboxRecord,
} from '../src/sandbox/sandbox.js';
import { startHaproxy, waitForRouting, type HaproxyCheckTimings } from '../src/sandbox/haproxy.js';
import { stopPids } from '../src/sandbox/etcd-cluster.js';
import { SETTINGS, arg, fmt, monoMs, stats } from './support.js';
import { WriteLossRun, type Ack, type WriteTarget } from '../test/support/write-loss.js';

type Variant = 'seed' | 'fast' | 'runtime';
const CHECKS: Record<Variant, HaproxyCheckTimings> = {
  seed: { inter: '3s', fall: 3, rise: 2 },
  fast: { inter: '1s', fall: 2, rise: 1 },
  runtime: { inter: '3s', fall: 3, rise: 2 },
};
const SETTLE_MS = 3000;
const EVENT_TIMEOUT_MS = 120_000;

interface EventResult {
  event: 'kill' | 'switchover';
  /** Fault (kill or switchover request) -> first write acknowledged by another server. */
  haproxyMs: number | null;
  multiHostMs: number | null;
  /** Old leader's last acknowledgement -> new leader's first (the gap an application sees). */
  haproxyGapMs: number | null;
  multiHostGapMs: number | null;
}

interface VariantResult {
  system: AgentRuntime;
  variant: Variant;
  events: EventResult[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postmasterPid(dataDir: string): Promise<number | null> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Restarts the sandbox's HAProxy with this variant's checks (and runtime socket for `runtime`). */
async function restartHaproxy(dir: string, record: SandboxRecord, variant: Variant): Promise<void> {
  const old = record.haproxy;
  if (old === undefined) throw new Error('no HAProxy in the sandbox');
  await stopPids([old.pid], 10_000);
  await rm(haproxySocketPath(dir), { force: true });
  record.haproxy = await startHaproxy({
    dir,
    host: record.host,
    scope: record.scope,
    members: record.nodes.map((n) => ({
      name: n.name,
      pgHost: record.host,
      pgPort: n.pgPort,
      apiHost: record.host,
      apiPort: n.apiPort,
      apiTls: false,
      noloadbalance: false,
    })),
    ports: { write: old.writePort, read: old.readPort, stats: old.statsPort },
    timings: CHECKS[variant],
    runtimeSocket: variant === 'runtime' ? haproxySocketPath(dir) : null,
  });
  await writeRecord(dir, record);
}

/** First acknowledgement by `writer` after `afterMs` from a server other than `oldPort`. */
function firstElsewhere(acks: readonly Ack[], writer: string, afterMs: number, oldPort: number): Ack | undefined {
  return acks.find((a) => a.writer === writer && a.atMs > afterMs && a.serverPort !== null && a.serverPort !== oldPort);
}

function lastOn(acks: readonly Ack[], writer: string, beforeMs: number, port: number): Ack | undefined {
  return acks.filter((a) => a.writer === writer && a.atMs < beforeMs && a.serverPort === port).at(-1);
}

async function measure(run: WriteLossRun, faultAtMs: number, oldPort: number, event: EventResult['event']): Promise<EventResult> {
  const deadline = monoMs() + EVENT_TIMEOUT_MS;
  while (
    monoMs() < deadline &&
    (firstElsewhere(run.acks, 'haproxy', faultAtMs, oldPort) === undefined || firstElsewhere(run.acks, 'multi', faultAtMs, oldPort) === undefined)
  )
    await sleep(50);
  const result: EventResult = { event, haproxyMs: null, multiHostMs: null, haproxyGapMs: null, multiHostGapMs: null };
  for (const [writer, key, gapKey] of [
    ['haproxy', 'haproxyMs', 'haproxyGapMs'],
    ['multi', 'multiHostMs', 'multiHostGapMs'],
  ] as const) {
    const first = firstElsewhere(run.acks, writer, faultAtMs, oldPort);
    if (first === undefined) continue;
    result[key] = first.atMs - faultAtMs;
    const last = lastOn(run.acks, writer, first.atMs, oldPort);
    result[gapKey] = last === undefined ? null : first.atMs - last.atMs;
  }
  return result;
}

async function killLeader(dir: string, record: SandboxRecord, run: WriteLossRun, system: AgentRuntime): Promise<EventResult> {
  const leader = await waitForCluster(record, 300_000);
  const node = record.nodes.find((n) => n.name === leader);
  if (node === undefined || record.haproxy === undefined) throw new Error('no leader');
  await waitForRouting(record.host, record.haproxy, leader, 120_000);
  await sleep(SETTLE_MS);
  const pgPid = await postmasterPid(node.dataDir);
  process.kill(node.pid, 'SIGKILL');
  if (pgPid !== null) process.kill(pgPid, 'SIGKILL');
  const result = await measure(run, monoMs(), node.pgPort, 'kill');
  node.pid = await spawnAgent(node.config, node.logFile, system);
  await writeRecord(dir, record);
  return result;
}

async function switchover(record: SandboxRecord, run: WriteLossRun): Promise<EventResult> {
  const leader = await waitForCluster(record, 300_000);
  const node = record.nodes.find((n) => n.name === leader);
  const candidate = record.nodes.find((n) => n.name !== leader);
  if (node === undefined || candidate === undefined || record.haproxy === undefined) throw new Error('no leader or candidate');
  await waitForRouting(record.host, record.haproxy, leader, 120_000);
  await sleep(SETTLE_MS);
  const askedAt = monoMs();
  const response = await fetch(`http://${record.host}:${node.apiPort}/switchover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ leader, candidate: candidate.name }),
    signal: AbortSignal.timeout(60_000),
  });
  if (response.status !== 200) throw new Error(`POST /switchover: ${response.status} ${await response.text()}`);
  return measure(run, askedAt, node.pgPort, 'switchover');
}

async function runSystem(system: AgentRuntime, variants: Variant[], reps: number): Promise<VariantResult[]> {
  const setting = SETTINGS.find((s) => s.name === 'fast') ?? { name: 'fast', ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 };
  const dir = await mkdtemp(join(tmpdir(), `keel-bench-routing-${system}-`));
  const log = (line: string) => process.stderr.write(`[${system}] ${line}\n`);
  let run: WriteLossRun | null = null;
  try {
    const record = await sandboxUp({
      dir,
      runtime: system,
      nodes: 3,
      timings: setting,
      scope: `bench-${system}`,
      waitMs: 0,
      haproxy: { timings: CHECKS.seed, runtimeApi: system === 'keel' },
    });
    const leader = await waitForCluster(record, 300_000);
    const password = (parse(await readFile(record.nodes[0]?.config ?? '', 'utf8')) as { postgresql: { authentication: { superuser: { password: string } } } })
      .postgresql.authentication.superuser.password;
    const nodes: WriteTarget[] = record.nodes.map((n) => ({ name: n.name, host: record.host, port: n.pgPort }));
    run = new WriteLossRun({ password, table: 'bench_routing', statementTimeoutMs: 2000, connectTimeoutMs: 2000 });
    await run.prepare(nodes.find((t) => t.name === leader) as WriteTarget);
    run.addMultiHost([{ name: 'haproxy', host: record.host, port: record.haproxy?.writePort ?? 0 }], 'haproxy');
    run.addMultiHost(nodes, 'multi');
    run.start(0);
    const results: VariantResult[] = [];
    for (const variant of variants) {
      if (variant === 'runtime' && system !== 'keel') continue;
      await restartHaproxy(dir, record, variant);
      const events: EventResult[] = [];
      for (let rep = 0; rep < reps; rep++) {
        for (const event of ['kill', 'switchover'] as const) {
          const result = event === 'kill' ? await killLeader(dir, record, run, system) : await switchover(record, run);
          log(
            `${variant} ${event} ${rep + 1}: via HAProxy ${fmt(result.haproxyMs)} s (gap ${fmt(result.haproxyGapMs)}), multi-host ${fmt(result.multiHostMs)} s (gap ${fmt(result.multiHostGapMs)})`,
          );
          events.push(result);
        }
      }
      results.push({ system, variant, events });
    }
    return results;
  } finally {
    await run?.stop();
    await sandboxDown(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '3'));
  const systems = arg('systems', 'keel,patroni').split(',') as AgentRuntime[];
  const variants = arg('variants', 'seed,fast,runtime').split(',') as Variant[];
  const results: VariantResult[] = [];
  for (const system of systems) results.push(...(await runSystem(system, variants, reps)));
  const rows = results.flatMap((r) =>
    (['kill', 'switchover'] as const).map((event) => {
      const events = r.events.filter((e) => e.event === event);
      const pick = (key: keyof Omit<EventResult, 'event'>) => stats(events.map((e) => e[key]));
      const diffs = events.map((e) => (e.haproxyMs === null || e.multiHostMs === null ? null : e.haproxyMs - e.multiHostMs));
      return {
        system: r.system,
        variant: r.variant,
        event,
        haproxy: pick('haproxyMs'),
        multiHost: pick('multiHostMs'),
        haproxyGap: pick('haproxyGapMs'),
        multiHostGap: pick('multiHostGapMs'),
        diff: stats(diffs),
      };
    }),
  );
  const machine = { cpus: (await import('node:os')).cpus().length, node: process.version, date: new Date().toISOString() };
  await mkdir(fileURLToPath(new URL('../../bench/results/', import.meta.url)), { recursive: true });
  await writeFile(
    fileURLToPath(new URL('../../bench/results/routing.json', import.meta.url)),
    JSON.stringify({ machine, reps, setting: 'ttl 10 loop_wait 2', results, rows }, null, 2) + '\n',
  );
  const lines = [
    'event | system | HAProxy checks | fault->write via HAProxy s (median min max) | multi-host s (median min max) | HAProxy - multi-host s (median max) | gap via HAProxy s (median) | gap multi-host s (median)',
    '--- | --- | --- | --- | --- | --- | --- | ---',
  ];
  const label: Record<Variant, string> = { seed: '3s/3/2', fast: '1s/2/1', runtime: '3s/3/2 + runtime API' };
  for (const row of rows.sort((a, b) => a.event.localeCompare(b.event))) {
    lines.push(
      `${row.event} | ${row.system} | ${label[row.variant]} | ${fmt(row.haproxy.median)} ${fmt(row.haproxy.min)} ${fmt(row.haproxy.max)} | ${fmt(row.multiHost.median)} ${fmt(row.multiHost.min)} ${fmt(row.multiHost.max)} | ${fmt(row.diff.median)} ${fmt(row.diff.max)} | ${fmt(row.haproxyGap.median)} | ${fmt(row.multiHostGap.median)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
