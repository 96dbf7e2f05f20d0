/**
 * bench/failover: kill -9 of the leader (agent and postmaster) under a writer, keel vs Patroni
 * 3.0.2, same etcd, same timings, same writer, in one run.
 *
 * Measures per repetition: kill -> new leader key (polled in etcd every 50 ms), kill -> first
 * write acknowledged by another node (the writer goes through a libpq multi-host string with
 * target_session_attrs=read-write), and acknowledged ids missing at the end. Also each agent's
 * idle RSS and CPU seconds per minute. Writes bench/results/failover.json and prints a table.
 *
 * Fairness: the leader key can only move when the dead leader's lease expires, i.e. ttl after
 * its last keepalive, so kill -> new key depends mostly on WHEN in the keepalive period the kill
 * lands. Each kill is therefore aligned for both systems: the bench watches the leader lease's
 * remaining TTL (etcd LeaseTimeToLive, every 100 ms) and kills right after it jumps back up (a
 * keepalive just happened). kill -> new key is then ttl + the agent's own takeover overhead.
 *
 *   node dist/bench/failover.js [--reps 5] [--settings seed,fast] [--systems keel,patroni] [--idle-s 60]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import { sandboxUp, sandboxDown, waitForCluster, spawnAgent, writeRecord, sandboxDcs, type AgentRuntime } from '../src/sandbox/sandbox.js';
import { EtcdClient } from '../src/engine/etcd/etcd-client.js';
import { SETTINGS, Writer, arg, fmt, monoMs, stats, type Setting } from './support.js';

function procStats(pid: number): { rssKb: number; cpuS: number } {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`]).toString();
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = execFileSync('cat', [`/proc/${pid}/stat`]).toString();
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssKb, cpuS: ticks / 100 };
  } catch {
    return { rssKb: 0, cpuS: 0 };
  }
}

/** Returns right after the lease's remaining TTL jumps up (a keepalive), or after timeoutMs. */
async function afterKeepalive(client: EtcdClient, leaseId: string, timeoutMs: number): Promise<boolean> {
  const deadline = monoMs() + timeoutMs;
  let last: number | null = null;
  while (monoMs() < deadline) {
    const ttl = await client.leaseTimeToLive(leaseId).then(
      (r) => r.ttlS,
      () => null,
    );
    if (ttl !== null && last !== null && ttl > last) return true;
    if (ttl !== null) last = ttl;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  try {
    return Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return null;
  }
}

interface Rep {
  killToKeyMs: number | null;
  killToWriteMs: number | null;
  expiryToKeyMs: number | null;
  expiryToWriteMs: number | null;
  alignedToKeepalive: boolean;
}
interface RunResult {
  system: AgentRuntime;
  setting: string;
  ttlS: number;
  reps: Rep[];
  ackedMissing: number;
  acked: number;
  idle: { rssMb: number; cpuSecondsPerMinute: number };
}

async function runOne(system: AgentRuntime, setting: Setting, reps: number, idleS: number): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), `keel-bench-${system}-`));
  const log = (line: string) => process.stderr.write(`[${system}/${setting.name}] ${line}\n`);
  let writer: Writer | null = null;
  try {
    const record = await sandboxUp({ dir, runtime: system, nodes: 3, timings: setting, scope: `bench-${system}`, waitMs: 0 });
    await waitForCluster(record, 300_000);
    const password = (parse(await readFile(record.nodes[0]?.config ?? '', 'utf8')) as { postgresql: { authentication: { superuser: { password: string } } } })
      .postgresql.authentication.superuser.password;
    // Idle footprint: RSS now, CPU over idleS seconds, per agent, averaged.
    const before = record.nodes.map((n) => procStats(n.pid));
    await new Promise((r) => setTimeout(r, idleS * 1000));
    const after = record.nodes.map((n) => procStats(n.pid));
    const idle = {
      rssMb: after.reduce((s, a) => s + a.rssKb, 0) / after.length / 1024,
      cpuSecondsPerMinute: after.reduce((s, a, i) => s + (a.cpuS - (before[i]?.cpuS ?? 0)), 0) / after.length / (idleS / 60),
    };
    log(`idle: ${idle.rssMb.toFixed(1)} MB RSS, ${idle.cpuSecondsPerMinute.toFixed(2)} CPU s/min per agent`);
    const leader0 = await waitForCluster(record, 60_000);
    const leaderNode = record.nodes.find((n) => n.name === leader0);
    const admin = new pg.Client({ host: '127.0.0.1', port: leaderNode?.pgPort ?? 0, user: 'postgres', password, database: 'postgres' });
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS bench_writes (id bigint PRIMARY KEY)');
    await admin.end();
    const dsn = `host=${record.nodes.map(() => '127.0.0.1').join(',')} port=${record.nodes.map((n) => n.pgPort).join(',')} user=postgres password=${password} dbname=postgres target_session_attrs=read-write connect_timeout=2`;
    writer = new Writer(dsn, 'bench_writes');
    const dcs = sandboxDcs(record, 'bench-observer');
    const etcd = new EtcdClient({
      endpoints: record.etcd.endpoints.map((e) => ({ host: e.split(':')[0] ?? '127.0.0.1', port: Number(e.split(':')[1]) })),
      requestTimeoutMs: 2000,
    });
    const results: Rep[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const leader = await waitForCluster(record, 300_000);
      await new Promise((r) => setTimeout(r, 2000 + setting.loopWaitS * 1000)); // steady state, writer flowing
      const node = record.nodes.find((n) => n.name === leader);
      if (node === undefined) throw new Error('no leader node');
      const pgPid = await postmasterPid(node.dataDir);
      const leaseId = (await dcs.loadCluster()).leader?.leaseId ?? null;
      const aligned = leaseId !== null && (await afterKeepalive(etcd, leaseId, (setting.loopWaitS + setting.ttlS) * 1000));
      if (!aligned) log(`rep ${rep + 1}: could not see the leader's keepalive; killing unaligned`);
      const killedAt = monoMs();
      process.kill(node.pid, 'SIGKILL');
      if (pgPid !== null) process.kill(pgPid, 'SIGKILL');
      // Poll the leader key alone every 10 ms: when it disappears (the dead leader's lease expired
      // in etcd) and when another member holds it. expiry -> new key is the agents' own takeover
      // time, free of where the kill fell in etcd's 500 ms lease-expiry tick.
      let keyAt: number | null = null;
      let goneAt: number | null = null;
      const leaderKey = `${record.namespace}${record.scope}/leader`;
      const deadline = killedAt + (setting.ttlS + 6 * setting.loopWaitS + 60) * 1000;
      while (keyAt === null && monoMs() < deadline) {
        const polledAt = monoMs();
        const holder = await etcd.range(leaderKey).then(
          (r) => (r.kvs[0] === undefined ? null : r.kvs[0].value),
          () => leader,
        );
        if (holder === null && goneAt === null) goneAt = polledAt;
        if (holder !== null && holder !== leader) {
          keyAt = monoMs();
          if (goneAt === null) goneAt = polledAt; // deleted and re-created between two polls
        } else await new Promise((r) => setTimeout(r, 10));
      }
      let writeAt: number | null = null;
      while (writeAt === null && monoMs() < deadline) {
        const ack = writer.acks.find((a) => a.atMs > killedAt && a.port !== node.pgPort);
        if (ack !== undefined) writeAt = ack.atMs;
        else await new Promise((r) => setTimeout(r, 50));
      }
      results.push({
        killToKeyMs: keyAt === null ? null : keyAt - killedAt,
        killToWriteMs: writeAt === null ? null : writeAt - killedAt,
        expiryToKeyMs: keyAt === null || goneAt === null ? null : keyAt - goneAt,
        expiryToWriteMs: writeAt === null || goneAt === null ? null : writeAt - goneAt,
        alignedToKeepalive: aligned,
      });
      const last = results[results.length - 1];
      log(
        `rep ${rep + 1}: kill->key ${String(last?.killToKeyMs?.toFixed(0) ?? 'timeout')} ms, kill->write ${String(last?.killToWriteMs?.toFixed(0) ?? 'timeout')} ms, expiry->key ${String(last?.expiryToKeyMs?.toFixed(0) ?? '-')} ms, expiry->write ${String(last?.expiryToWriteMs?.toFixed(0) ?? '-')} ms`,
      );
      node.pid = await spawnAgent(node.config, node.logFile, system);
      await writeRecord(dir, record);
    }
    await waitForCluster(record, 300_000);
    await writer.stop();
    const holder = (await dcs.loadCluster()).leader?.name;
    await dcs.close();
    await etcd.close();
    const holderNode = record.nodes.find((n) => n.name === holder);
    const reader = new pg.Client({ host: '127.0.0.1', port: holderNode?.pgPort ?? 0, user: 'postgres', password, database: 'postgres' });
    await reader.connect();
    const present = new Set((await reader.query<{ id: string }>('SELECT id FROM bench_writes')).rows.map((r) => Number(r.id)));
    await reader.end();
    const ackedMissing = writer.acks.filter((a) => !present.has(a.id)).length;
    log(`acknowledged ${writer.acks.length}, missing at the end ${ackedMissing}`);
    return { system, setting: setting.name, ttlS: setting.ttlS, reps: results, ackedMissing, acked: writer.acks.length, idle };
  } finally {
    await writer?.stop();
    await sandboxDown(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '5'));
  const idleS = Number(arg('idle-s', '60'));
  const settings = SETTINGS.filter((s) => arg('settings', 'seed,fast').split(',').includes(s.name));
  const systems = arg('systems', 'keel,patroni').split(',') as AgentRuntime[];
  const runs: RunResult[] = [];
  for (const setting of settings) for (const system of systems) runs.push(await runOne(system, setting, reps, idleS));
  const rows = runs.map((r) => ({
    ...r,
    key: stats(r.reps.map((x) => x.killToKeyMs)),
    write: stats(r.reps.map((x) => x.killToWriteMs)),
    expiryKey: stats(r.reps.map((x) => x.expiryToKeyMs)),
    expiryWrite: stats(r.reps.map((x) => x.expiryToWriteMs)),
  }));
  const machine = { cpus: (await import('node:os')).cpus().length, node: process.version, date: new Date().toISOString() };
  await mkdir(fileURLToPath(new URL('../../bench/results/', import.meta.url)), { recursive: true });
  await writeFile(
    fileURLToPath(new URL('../../bench/results/failover.json', import.meta.url)),
    JSON.stringify({ machine, reps, idleS, runs: rows }, null, 2) + '\n',
  );
  const lines = [
    'setting | system  | kill->key s (median min max) | kill->write s (median min max) | keel/Patroni | expiry->key ms | expiry->write ms (median min max) | keel/Patroni | missing/acked | idle RSS MB | CPU s/min',
    '--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---',
  ];
  const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(0));
  for (const row of rows) {
    const patroni = rows.find((r) => r.setting === row.setting && r.system === 'patroni');
    const ratio = (a: number | null, b: number | null | undefined): string =>
      row.system === 'keel' && a !== null && b != null && b > 0 ? (a / b).toFixed(2) : '';
    lines.push(
      `${row.setting} | ${row.system.padEnd(7)} | ${fmt(row.key.median)} ${fmt(row.key.min)} ${fmt(row.key.max)} | ${fmt(row.write.median)} ${fmt(row.write.min)} ${fmt(row.write.max)} | ${ratio(row.write.median, patroni?.write.median)} | ` +
        `${ms(row.expiryKey.median)} | ${ms(row.expiryWrite.median)} ${ms(row.expiryWrite.min)} ${ms(row.expiryWrite.max)} | ${ratio(row.expiryWrite.median, patroni?.expiryWrite.median)} | ${row.ackedMissing}/${row.acked} | ${row.idle.rssMb.toFixed(1)} | ${row.idle.cpuSecondsPerMinute.toFixed(2)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
