/**
 * bench/switchover: the write-unavailability window of a planned switchover under a writer,
 * `keel switchover --force` vs `patronictl switchover --force` on Patroni 3.0.2, same etcd, same
 * timings, same writer, in one run.
 *
 * The writer is an application: a libpq multi-host string with target_session_attrs=read-write
 * (bench/failover-writer.py), inserting ids one after the other. Per repetition the window is the
 * longest gap between two consecutive acknowledged writes from the switchover command's start
 * until the new leader acknowledged one; also the command's own duration and, at the end, the
 * acknowledged ids missing on the last leader (a switchover must lose none).
 *
 *   node dist/bench/switchover.js [--reps 5] [--settings fast,seed] [--systems keel,patroni]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { parse } from 'yaml';
import { sandboxUp, sandboxDown, waitForCluster, sandboxDcs, type AgentRuntime, type SandboxRecord } from '../src/sandbox/sandbox.js';
import { SETTINGS, Writer, arg, fmt, monoMs, stats, type Setting } from './support.js';

const KEEL_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

interface Rep {
  from: string;
  to: string | null;
  /** Longest gap between consecutive acknowledged writes around the switchover (ms). */
  windowMs: number | null;
  /** The switchover command's wall time (ms). */
  commandMs: number;
}

interface RunResult {
  system: AgentRuntime;
  setting: string;
  reps: Rep[];
  acked: number;
  ackedMissing: number;
}

async function superuserPassword(record: SandboxRecord): Promise<string> {
  const config = parse(await readFile(record.nodes[0]?.config ?? '', 'utf8')) as { postgresql: { authentication: { superuser: { password: string } } } };
  return config.postgresql.authentication.superuser.password;
}

/** Every replica streams from the leader (a switchover needs a caught-up candidate). */
async function replicasStreaming(record: SandboxRecord, leader: string, password: string, timeoutMs: number): Promise<void> {
  const port = record.nodes.find((n) => n.name === leader)?.pgPort ?? 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const rows = (await client.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_replication WHERE state = 'streaming'")).rows;
      if (Number(rows[0]?.n ?? 0) === record.nodes.length - 1) return;
    } catch {
      // not ready yet
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`replicas of ${leader} not all streaming after ${timeoutMs} ms`);
}

async function switchover(system: AgentRuntime, config: string): Promise<void> {
  const [command, args] =
    system === 'keel'
      ? [process.execPath, [KEEL_MAIN, '-c', config, 'switchover', '--force']]
      : ['/usr/bin/patronictl', ['-c', config, 'switchover', '--force']];
  const { stdout } = await run(command, args, { timeout: 120_000, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  if (!/(Successfully switched over|Switched over) to/.test(stdout)) throw new Error(`${system} switchover did not succeed: ${stdout.split('\n')[0] ?? ''}`);
}

async function runOne(system: AgentRuntime, setting: Setting, reps: number): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), `keel-bench-sw-${system}-`));
  const log = (line: string) => process.stderr.write(`[${system}/${setting.name}] ${line}\n`);
  let writer: Writer | null = null;
  try {
    const record = await sandboxUp({ dir, runtime: system, nodes: 3, timings: setting, scope: `bench-sw-${system}`, waitMs: 0 });
    const password = await superuserPassword(record);
    const leader0 = await waitForCluster(record, 300_000);
    const first = new pg.Client({
      host: '127.0.0.1',
      port: record.nodes.find((n) => n.name === leader0)?.pgPort ?? 0,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    await first.connect();
    await first.query('CREATE TABLE IF NOT EXISTS bench_writes (id bigint PRIMARY KEY)');
    await first.end();
    const dsn = `host=${record.nodes.map(() => '127.0.0.1').join(',')} port=${record.nodes.map((n) => n.pgPort).join(',')} user=postgres password=${password} dbname=postgres target_session_attrs=read-write connect_timeout=2`;
    writer = new Writer(dsn, 'bench_writes');
    const results: Rep[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const leader = await waitForCluster(record, 300_000);
      await replicasStreaming(record, leader, password, 120_000);
      await new Promise((r) => setTimeout(r, 2000)); // steady state, writer flowing
      const leaderPort = record.nodes.find((n) => n.name === leader)?.pgPort ?? 0;
      const config = record.nodes.find((n) => n.name === leader)?.config ?? '';
      const startedAt = monoMs();
      await switchover(system, config);
      const commandMs = monoMs() - startedAt;
      // Until the new leader acknowledged a write (bounded), then the longest gap since the start.
      const deadline = monoMs() + 60_000;
      while (monoMs() < deadline && !writer.acks.some((a) => a.atMs > startedAt && a.port !== leaderPort)) await new Promise((r) => setTimeout(r, 50));
      const around = writer.acks.filter((a) => a.atMs >= startedAt - 1000);
      const firstNew = around.findIndex((a) => a.port !== leaderPort && a.atMs > startedAt);
      let windowMs: number | null = null;
      if (firstNew > 0) {
        windowMs = 0;
        for (let i = 1; i <= firstNew; i++) windowMs = Math.max(windowMs, (around[i]?.atMs ?? 0) - (around[i - 1]?.atMs ?? 0));
      }
      const dcs = sandboxDcs(record, 'bench-observer');
      const to = (await dcs.loadCluster()).leader?.name ?? null;
      await dcs.close();
      results.push({ from: leader, to, windowMs, commandMs });
      log(`rep ${rep + 1}: ${leader} -> ${to ?? '?'}: writes unavailable ${fmt(windowMs)} s, command ${fmt(commandMs)} s`);
    }
    await writer.stop();
    const holder = await waitForCluster(record, 120_000);
    const reader = new pg.Client({
      host: '127.0.0.1',
      port: record.nodes.find((n) => n.name === holder)?.pgPort ?? 0,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    await reader.connect();
    const present = new Set((await reader.query<{ id: string }>('SELECT id FROM bench_writes')).rows.map((r) => Number(r.id)));
    await reader.end();
    const ackedMissing = writer.acks.filter((a) => !present.has(a.id)).length;
    log(`acknowledged ${writer.acks.length}, missing at the end ${ackedMissing}`);
    return { system, setting: setting.name, reps: results, acked: writer.acks.length, ackedMissing };
  } finally {
    await writer?.stop();
    await sandboxDown(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '5'));
  const settings = SETTINGS.filter((s) => arg('settings', 'fast,seed').split(',').includes(s.name));
  const systems = arg('systems', 'keel,patroni').split(',') as AgentRuntime[];
  const runs: RunResult[] = [];
  for (const setting of settings) for (const system of systems) runs.push(await runOne(system, setting, reps));
  const rows = runs.map((r) => ({ ...r, window: stats(r.reps.map((x) => x.windowMs)), command: stats(r.reps.map((x) => x.commandMs)) }));
  const machine = { cpus: (await import('node:os')).cpus().length, node: process.version, date: new Date().toISOString() };
  await mkdir(fileURLToPath(new URL('../../bench/results/', import.meta.url)), { recursive: true });
  await writeFile(
    fileURLToPath(new URL('../../bench/results/switchover.json', import.meta.url)),
    JSON.stringify({ machine, reps, runs: rows }, null, 2) + '\n',
  );
  const lines = [
    'setting | system  | write unavailability s (median min max) | keel/Patroni | command s (median) | missing/acked',
    '--- | --- | --- | --- | --- | ---',
  ];
  for (const row of rows) {
    const patroni = rows.find((r) => r.setting === row.setting && r.system === 'patroni');
    const ratio = row.system === 'keel' && row.window.median !== null && patroni?.window.median ? (row.window.median / patroni.window.median).toFixed(2) : '';
    lines.push(
      `${row.setting} | ${row.system.padEnd(7)} | ${fmt(row.window.median)} ${fmt(row.window.min)} ${fmt(row.window.max)} | ${ratio} | ${fmt(row.command.median)} | ${row.ackedMissing}/${row.acked}`,
    );
  }
  const table = lines.join('\n') + '\n';
  await writeFile(fileURLToPath(new URL('../../bench/results/switchover.table.md', import.meta.url)), table);
  process.stdout.write(table);
}

await main();
