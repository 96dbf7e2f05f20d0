/**
 * bench/footprint — what an agent costs while nothing happens (issue 12, part 4): resident memory
 * and CPU seconds per minute of each agent process, keel against Patroni 3.0.2, in the same run,
 * on the same machine, with the same timings, side by side: each system in its own 3-node sandbox
 * (etcd x3, PostgreSQL x3), all running and measured over the same window, left idle, then the
 * same with HAProxy checking every agent every second (the seed's haproxy.cfg with `inter 1s`:
 * /primary and /replica on each member, as a load balancer in production does).
 * The leader and the replicas are reported apart: the leader does more (its lease, and keel's
 * isolation watch).
 *
 *   node dist/bench/footprint.js [--systems keel,patroni] [--settings fast] [--window-s 120] [--settle-s 20] [--reps 1] [--out footprint]
 *
 * CPU is read from /proc/<pid>/stat (utime + stime, plus the reaped children's cutime + cstime,
 * plus keel-fence's own for keel) at the start and end of the window, RSS from
 * /proc/<pid>/status and PSS, USS and anonymous memory from /proc/<pid>/smaps_rollup at the end.
 * Writes bench/results/<out>.json and <out>.table.md.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxUp, sandboxDown, waitForCluster, type AgentRuntime, type SandboxNodeRecord, type SandboxRecord } from '../src/sandbox/sandbox.js';
import { keelFencePids } from '../src/engine/process-fence.js';
import { SETTINGS, arg, procStats, stats, type Setting } from './support.js';

type Load = 'idle' | 'haproxy-1s';

interface Sample {
  system: AgentRuntime;
  setting: string;
  load: Load;
  rep: number;
  role: 'leader' | 'replica';
  member: string;
  rssMb: number;
  /** Proportional set size: shared pages (the interpreter's binary, libraries) divided among the processes mapping them. */
  pssMb: number;
  /**
   * Unique set size: the pages only this process holds. The three agents of a sandbox share their
   * interpreter's pages, so this is what one more agent costs a host that runs one already.
   */
  ussMb: number;
  /**
   * Anonymous memory (heap, stacks, allocator arenas): what the process holds that the kernel can
   * neither share nor drop without swap, whoever else maps its interpreter.
   */
  anonMb: number;
  cpuSecondsPerMinute: number;
}

/** PSS, USS and anonymous memory (MB) from /proc/<pid>/smaps_rollup; zeros once the process is gone. */
function memStats(pid: number): { pssMb: number; ussMb: number; anonMb: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { pssMb: kb('Pss') / 1024, ussMb: (kb('Private_Clean') + kb('Private_Dirty')) / 1024, anonMb: kb('Anonymous') / 1024 };
  } catch {
    return { pssMb: 0, ussMb: 0, anonMb: 0 };
  }
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** A sandbox that came up, with the member that leads it. */
interface Running {
  system: AgentRuntime;
  record: SandboxRecord;
  leader: string;
}

/**
 * One window for every system at once: each gets its own 3-node sandbox, all started before the
 * settle and measured over the same window, so that whatever else the machine does then (it
 * varied by ±10% between runs minutes apart) weighs on keel and Patroni alike.
 */
async function measure(systems: AgentRuntime[], setting: Setting, load: Load, rep: number, windowS: number, settleS: number): Promise<Sample[]> {
  const dirs: string[] = []; // each one taken down at the end, also when its sandbox failed to come up
  const running: Running[] = [];
  try {
    for (const system of systems) {
      const dir = await mkdtemp(join(tmpdir(), `keel-footprint-${system}-`));
      dirs.push(dir);
      const record = await sandboxUp({
        dir,
        runtime: system,
        nodes: 3,
        timings: setting,
        scope: `footprint-${system}`,
        waitMs: 0,
        ...(load === 'haproxy-1s' ? { haproxy: { timings: { inter: '1s', fall: 3, rise: 2 }, runtimeApi: false } } : {}),
      });
      running.push({ system, record, leader: await waitForCluster(record, 300_000) });
    }
    // Let start-up work (clones, first checkpoints, slot creation) settle before the window. An
    // agent's first minute of cycles costs more (measured: 0.44 CPU s, then 0.17 a minute: V8
    // optimizes a function once it has run often enough); the window starts about a minute after
    // the agents, and a 180 s settle (--settle-s 180) left keel's ratio to Patroni where it was.
    await new Promise((r) => setTimeout(r, settleS * 1000));
    const nodes = running.flatMap((r) => r.record.nodes.map((n) => ({ run: r, n })));
    // An agent's cost includes its helpers: the children it spawned and reaped during the window
    // (pg_controldata, psql, callbacks) and, for keel, keel-fence (it runs the leader's isolation
    // probe), which is detached and so is counted on its own.
    const helpers = (system: AgentRuntime, n: SandboxNodeRecord): number[] => (system === 'keel' ? keelFencePids([n.dataDir]) : []);
    // utime + stime count whole 10 ms ticks, but they are the only figure that keeps the time of
    // threads that have exited: Patroni's REST API runs each request on a thread of its own (a
    // sum of the live threads' schedstat, ns-precise, showed it at half its cost under HAProxy).
    const cpuOf = (system: AgentRuntime, n: SandboxNodeRecord): number => {
      const own = procStats(n.pid);
      return own.cpuS + own.childrenCpuS + helpers(system, n).reduce((sum, pid) => sum + procStats(pid).cpuS, 0);
    };
    const helpersBefore = nodes.map(({ run, n }) => helpers(run.system, n).join(','));
    const before = nodes.map(({ run, n }) => cpuOf(run.system, n));
    await new Promise((r) => setTimeout(r, windowS * 1000));
    const after = nodes.map(({ run, n }) => cpuOf(run.system, n));
    const helpersAfter = nodes.map(({ run, n }) => helpers(run.system, n).join(','));
    // A keel-fence that started or exited inside the window would count only part of its time.
    if (helpersBefore.join(';') !== helpersAfter.join(';'))
      log(`note: keel-fence processes changed during the window (${helpersBefore.join(';')} -> ${helpersAfter.join(';')})`);
    const samples = nodes.map(({ run, n }, i): Sample => {
      const memory = memStats(n.pid);
      return {
        system: run.system,
        setting: setting.name,
        load,
        rep,
        role: n.name === run.leader ? 'leader' : 'replica',
        member: n.name,
        rssMb: procStats(n.pid).rssKb / 1024,
        pssMb: memory.pssMb,
        ussMb: memory.ussMb,
        anonMb: memory.anonMb,
        cpuSecondsPerMinute: ((after[i] ?? 0) - (before[i] ?? 0)) / (windowS / 60),
      };
    });
    if (samples.some((s) => s.rssMb === 0)) throw new Error(`an agent exited during the window: ${JSON.stringify(samples)}`);
    for (const s of samples)
      log(
        `${s.system}/${setting.name}/${load} rep ${rep}: ${s.member} (${s.role}) ${s.rssMb.toFixed(1)} MB RSS, ${s.pssMb.toFixed(1)} PSS, ${s.ussMb.toFixed(1)} USS, ${s.anonMb.toFixed(1)} anon, ${s.cpuSecondsPerMinute.toFixed(3)} CPU s/min`,
      );
    return samples;
  } finally {
    for (const dir of dirs) {
      await sandboxDown(dir).catch((error: unknown) => log(`sandbox down: ${error instanceof Error ? error.message : String(error)}`));
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const systems = arg('systems', 'keel,patroni').split(',') as AgentRuntime[];
  const settings = arg('settings', 'fast')
    .split(',')
    .map((name) => {
      const s = SETTINGS.find((x) => x.name === name);
      if (s === undefined) throw new Error(`--settings: unknown ${name} (known: ${SETTINGS.map((x) => x.name).join(', ')})`);
      return s;
    });
  const windowS = Number(arg('window-s', '120'));
  const settleS = Number(arg('settle-s', '20'));
  const reps = Number(arg('reps', '1'));
  const out = arg('out', 'footprint');
  const samples: Sample[] = [];
  for (let rep = 1; rep <= reps; rep++)
    for (const setting of settings)
      for (const load of ['idle', 'haproxy-1s'] as const) samples.push(...(await measure(systems, setting, load, rep, windowS, settleS)));

  const rows: string[] = [];
  for (const setting of settings)
    for (const load of ['idle', 'haproxy-1s'] as const)
      for (const role of ['leader', 'replica'] as const)
        for (const system of systems) {
          const cell = samples.filter((s) => s.setting === setting.name && s.load === load && s.role === role && s.system === system);
          const cpu = stats(cell.map((s) => s.cpuSecondsPerMinute));
          const rss = stats(cell.map((s) => s.rssMb));
          const pss = stats(cell.map((s) => s.pssMb));
          const uss = stats(cell.map((s) => s.ussMb));
          const anon = stats(cell.map((s) => s.anonMb));
          const f = (v: number | null, d: number) => (v === null ? '-' : v.toFixed(d));
          rows.push(
            `${setting.name} | ${load} | ${role} | ${system} | ${cell.length} | ${f(rss.median, 1)} (${f(rss.min, 1)}..${f(rss.max, 1)}) | ${f(pss.median, 1)} | ${f(uss.median, 1)} | ${f(anon.median, 1)} | ${f(cpu.median, 3)} (${f(cpu.min, 3)}..${f(cpu.max, 3)})`,
          );
        }
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version };
  const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(results, { recursive: true });
  await writeFile(join(results, `${out}.json`), JSON.stringify({ machine, windowS, settleS, reps, samples }, null, 2) + '\n');
  const table = [
    `# bench/footprint — agent cost while nothing happens, keel vs Patroni 3.0.2`,
    '',
    `${machine.cpus} CPUs (${machine.model}), Node ${machine.node}; window ${windowS} s after ${settleS} s of settling; ${reps} repetition(s); 3-node sandbox on loopback.`,
    'Every system runs at once, each in its own sandbox, and is measured over the same window. idle: no client; haproxy-1s: HAProxy checking /primary and /replica on every member every second. CPU: utime+stime of the agent process (its exited threads included), of the children it reaped (cutime+cstime) and, for keel, of keel-fence.',
    '',
    "RSS counts every page the process maps, including the read-only pages of its interpreter (an empty `node` process: ~40 MB RSS, ~34 MB of it its binary); PSS divides shared pages among the processes sharing them; USS counts only the pages this process alone holds (here three agents of a system share their interpreter: what one more agent costs a host that runs one already); anon is the memory the process allocated (heap, stacks), which the kernel can neither share nor drop: what an agent costs its host whatever else runs there. On a host with one agent, the interpreter's pages count in full, but they are clean file pages, read from the binary and dropped first under memory pressure.",
    '',
    'setting | load | role | system | samples | RSS MB median (min..max) | PSS MB | USS MB | anon MB | CPU s/min median (min..max)',
    '--- | --- | --- | --- | --- | --- | --- | --- | --- | ---',
    ...rows,
    '',
  ].join('\n');
  await writeFile(join(results, `${out}.table.md`), table);
  process.stdout.write(table);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/footprint: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
