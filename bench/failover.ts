/**
 * bench/failover: kill -9 of the leader (agent and postmaster) under a writer, keel vs Patroni
 * 3.0.2, same etcd, same timings, same writer, in one run, in each replication mode: asynchronous,
 * synchronous_mode on, and quorum (keel only: Patroni 3.0.2 has no quorum commit).
 *
 * The writer is the write-loss checker's multi-host writer (test/support/write-loss.ts: libpq's
 * walk over the hosts with target_session_attrs=read-write, one INSERT after another, every
 * acknowledgement recorded); at the end its verifier reads the table back from the leader.
 * Measures per repetition: kill -> new leader key (polled in etcd every 10 ms), kill -> first
 * write acknowledged by another node; per run: acknowledged writes lost (must be 0 in on/quorum),
 * the writer's steady throughput before the first kill (the cost of each mode, relative to
 * asynchronous), and each agent's idle RSS and CPU seconds per minute. Synchronous modes are
 * switched on with PATCH /config, as an operator would; each kill waits until the sync key lists
 * a standby (else no automatic failover is allowed). Writes bench/results/failover.json and
 * prints a table.
 *
 * Fairness: the leader key can only move when the dead leader's lease expires, i.e. ttl after
 * its last keepalive, so kill -> new key depends mostly on WHEN in the keepalive period the kill
 * lands. Each kill is therefore aligned for both systems: the bench watches the leader lease's
 * remaining TTL (etcd LeaseTimeToLive, every 100 ms) and kills right after it jumps back up (a
 * keepalive just happened). kill -> new key is then ttl + the agent's own takeover overhead.
 *
 *   node dist/bench/failover.js [--reps 5] [--settings seed,fast] [--systems keel,patroni] [--modes async,on,quorum] [--idle-s 60] [--out failover]
 * (writes bench/results/<out>.json and <out>.table.md)
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import { sandboxUp, sandboxDown, waitForCluster, spawnAgent, writeRecord, sandboxDcs, type AgentRuntime } from '../src/sandbox/sandbox.js';
import { EtcdClient } from '../src/engine/etcd/etcd-client.js';
import { SETTINGS, arg, fmt, monoMs, procStats, stats, type Setting } from './support.js';
import { WriteLossRun, type WriteTarget } from '../test/support/write-loss.js';

type Mode = 'async' | 'on' | 'quorum';
/** The steady window before the first kill in which throughput is measured. */
const THROUGHPUT_WINDOW_MS = 10_000;

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
  mode: Mode;
  ttlS: number;
  reps: Rep[];
  ackedMissing: number;
  acked: number;
  writesPerSecond: number;
  idle: { rssMb: number; cpuSecondsPerMinute: number };
}

/** The sync key lists a standby of the current leader (a synchronous failover is allowed), or null after the timeout. */
async function syncStandbyListed(dcs: ReturnType<typeof sandboxDcs>, timeoutMs: number): Promise<string[] | null> {
  const deadline = monoMs() + timeoutMs;
  while (monoMs() < deadline) {
    const view = await dcs.loadCluster().catch(() => null);
    const sync = view?.sync?.value;
    if (view?.leader != null && sync !== undefined && sync.leader === view.leader.name && sync.syncStandbys.length > 0) return sync.syncStandbys;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

async function runOne(system: AgentRuntime, setting: Setting, mode: Mode, reps: number, idleS: number): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), `keel-bench-${system}-`));
  const log = (line: string) => process.stderr.write(`[${system}/${setting.name}/${mode}] ${line}\n`);
  let run: WriteLossRun | null = null;
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
    const dcs = sandboxDcs(record, 'bench-observer');
    if (mode !== 'async') {
      // What an operator does: PATCH /config on the leader (patronictl edit-config does the same).
      const response = await fetch(`http://127.0.0.1:${leaderNode?.apiPort ?? 0}/config`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ synchronous_mode: mode === 'quorum' ? 'quorum' : true }),
      });
      if (response.status !== 200) throw new Error(`PATCH /config: ${response.status} ${await response.text()}`);
      const standbys = await syncStandbyListed(dcs, 120_000);
      if (standbys === null) throw new Error('no synchronous standby listed in the sync key after 120 s');
      log(`sync key lists ${standbys.join(', ')}`);
    }
    const targets: WriteTarget[] = record.nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.pgPort }));
    run = new WriteLossRun({ password, table: 'bench_writes', statementTimeoutMs: 2000, connectTimeoutMs: 2000 });
    await run.prepare(targets.find((t) => t.name === leader0) as WriteTarget);
    run.addMultiHost(targets);
    run.start(0);
    const windowStart = monoMs();
    await new Promise((r) => setTimeout(r, THROUGHPUT_WINDOW_MS));
    const writer = run;
    const writesPerSecond = writer.acks.filter((a) => a.atMs >= windowStart).length / (THROUGHPUT_WINDOW_MS / 1000);
    log(`steady throughput ${writesPerSecond.toFixed(0)} writes/s (one connection, one INSERT per commit)`);
    const etcd = new EtcdClient({
      endpoints: record.etcd.endpoints.map((e) => ({ host: e.split(':')[0] ?? '127.0.0.1', port: Number(e.split(':')[1]) })),
      requestTimeoutMs: 2000,
    });
    const results: Rep[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const leader = await waitForCluster(record, 300_000);
      if (mode !== 'async' && (await syncStandbyListed(dcs, 180_000)) === null) throw new Error(`rep ${rep + 1}: no synchronous standby listed`);
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
        const ack = writer.acks.find((a) => a.atMs > killedAt && a.node !== leader);
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
    const report = await writer.verify(async () => {
      const holder = (await dcs.loadCluster()).leader?.name;
      const target = targets.find((t) => t.name === holder);
      if (target === undefined) throw new Error('no leader yet');
      return target;
    });
    await dcs.close();
    await etcd.close();
    log(`acknowledged ${report.acknowledged}, lost ${report.lost.length}, acknowledged by two primaries at once: ${report.overlappingPrimaries.length}`);
    return {
      system,
      setting: setting.name,
      mode,
      ttlS: setting.ttlS,
      reps: results,
      ackedMissing: report.lost.length,
      acked: report.acknowledged,
      writesPerSecond,
      idle,
    };
  } finally {
    await run?.stop();
    await sandboxDown(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '5'));
  const idleS = Number(arg('idle-s', '60'));
  const settings = SETTINGS.filter((s) => arg('settings', 'seed,fast').split(',').includes(s.name));
  const systems = arg('systems', 'keel,patroni').split(',') as AgentRuntime[];
  const modes = arg('modes', 'async,on,quorum').split(',') as Mode[];
  const out = arg('out', 'failover');
  const runs: RunResult[] = [];
  for (const setting of settings)
    for (const mode of modes)
      for (const system of systems) {
        if (system === 'patroni' && mode === 'quorum') continue; // Patroni 3.0.2 has no quorum commit
        runs.push(await runOne(system, setting, mode, reps, idleS));
      }
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
    fileURLToPath(new URL(`../../bench/results/${out}.json`, import.meta.url)),
    JSON.stringify({ machine, reps, idleS, runs: rows }, null, 2) + '\n',
  );
  const lines = [
    'setting | mode | system  | kill->key s (median min max) | kill->write s (median min max) | keel/Patroni | expiry->key ms | expiry->write ms (median min max) | keel/Patroni | lost/acked | writes/s (vs async) | idle RSS MB | CPU s/min',
    '--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---',
  ];
  const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(0));
  for (const row of rows) {
    const patroni = rows.find((r) => r.setting === row.setting && r.mode === row.mode && r.system === 'patroni');
    const async = rows.find((r) => r.setting === row.setting && r.mode === 'async' && r.system === row.system);
    const cost = async !== undefined && async.writesPerSecond > 0 ? ` (${(row.writesPerSecond / async.writesPerSecond).toFixed(2)})` : '';
    const ratio = (a: number | null, b: number | null | undefined): string =>
      row.system === 'keel' && a !== null && b != null && b > 0 ? (a / b).toFixed(2) : '';
    lines.push(
      `${row.setting} | ${row.mode} | ${row.system.padEnd(7)} | ${fmt(row.key.median)} ${fmt(row.key.min)} ${fmt(row.key.max)} | ${fmt(row.write.median)} ${fmt(row.write.min)} ${fmt(row.write.max)} | ${ratio(row.write.median, patroni?.write.median)} | ` +
        `${ms(row.expiryKey.median)} | ${ms(row.expiryWrite.median)} ${ms(row.expiryWrite.min)} ${ms(row.expiryWrite.max)} | ${ratio(row.expiryWrite.median, patroni?.expiryWrite.median)} | ${row.ackedMissing}/${row.acked} | ${row.writesPerSecond.toFixed(0)}${cost} | ${row.idle.rssMb.toFixed(1)} | ${row.idle.cpuSecondsPerMinute.toFixed(2)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  await writeFile(fileURLToPath(new URL(`../../bench/results/${out}.table.md`, import.meta.url)), lines.join('\n') + '\n');
}

await main();
