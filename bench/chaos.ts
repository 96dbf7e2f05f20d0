/**
 * bench/chaos: the chaos scenarios of issue 10 (test/support/chaos-scenarios.ts) repeated on the
 * three-host lab for keel and for Patroni 3.0.2 — same lab, same patroni.yml, same writers, same
 * timings (ttl 10, loop_wait 2, retry_timeout 4) — in asynchronous replication and with
 * synchronous_mode on, at the issue's full durations (40 s freeze/isolation/etcd cut, 30 s etcd
 * outage). One fresh lab per system and mode; a lab that does not come back healthy after a run
 * is replaced before the next one (the failed run is recorded as such).
 *
 * Writes bench/results/chaos.json (every run) and bench/results/chaos.table.md (median, min and max
 * per scenario x system x mode), both rewritten after every run, so a soak stopped half-way keeps
 * what it measured. `--resume` reads the runs (and failures) already in <out>.json and runs only the
 * repetitions missing from it: a soak longer than one sitting (about 3.5 h for everything at 5
 * repetitions) is done in parts, with the same durations (a resume with other durations is refused).
 *
 *   node dist/bench/chaos.js [--reps 5] [--scenarios leader-isolated,agent-frozen,...]
 *       [--systems keel,patroni] [--modes async,on] [--fault-s 40] [--etcd-outage-s 30] [--kills 3]
 *       [--out chaos] [--resume]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setMode, startChaosLab, type ChaosLab, type ChaosMode, type ChaosSystem } from '../test/support/chaos-lab.js';
import { SCENARIOS, SOAK_DURATIONS, runScenario, type ChaosDurations, type ChaosRun, type ScenarioName } from '../test/support/chaos-scenarios.js';
import { arg, stats } from './support.js';

const SYSTEMS: readonly ChaosSystem[] = ['keel', 'patroni'];
const MODES: readonly ChaosMode[] = ['async', 'on'];

/** A comma-separated option whose every item is one of `allowed`; anything else exits with one line. */
function listArg<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const raw = arg(name, fallback.join(','));
  const items = raw.split(',').filter((s) => s !== '');
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0) usage(`--${name}: ${bad.length > 0 ? `unknown ${bad.join(', ')}` : 'empty'} (allowed: ${allowed.join(', ')})`);
  return items as T[];
}

function numberArg(name: string, fallback: number, min: number): number {
  const raw = arg(name, String(fallback));
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) usage(`--${name}: expected a number >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function usage(message: string): never {
  process.stderr.write(`bench/chaos: ${message}\n`);
  process.exit(2);
}

interface Failure {
  system: ChaosSystem;
  mode: ChaosMode;
  scenario: ScenarioName;
  rep: number;
  error: string;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

async function freshLab(system: ChaosSystem, mode: ChaosMode, d: ChaosDurations): Promise<ChaosLab> {
  const lab = await startChaosLab({ system, log });
  try {
    await setMode(lab, mode, d.healthyTimeoutMs);
    return lab;
  } catch (error) {
    await lab.close().catch(() => undefined);
    throw error;
  }
}

async function main(): Promise<void> {
  const reps = numberArg('reps', 5, 1);
  const scenarios = listArg('scenarios', SCENARIOS, SCENARIOS);
  const systems = listArg('systems', SYSTEMS, SYSTEMS);
  const modes = listArg('modes', MODES, MODES);
  const out = arg('out', 'chaos');
  if (!/^[a-z0-9_-]+$/.test(out)) usage(`--out: a plain file stem, got ${JSON.stringify(out)}`);
  const durations: ChaosDurations = {
    ...SOAK_DURATIONS,
    faultMs: numberArg('fault-s', SOAK_DURATIONS.faultMs / 1000, 1) * 1000,
    etcdOutageMs: numberArg('etcd-outage-s', SOAK_DURATIONS.etcdOutageMs / 1000, 1) * 1000,
    kills: numberArg('kills', SOAK_DURATIONS.kills, 1),
  };
  const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(results, { recursive: true });
  const previous = process.argv.includes('--resume') ? await readPrevious(`${results}${out}.json`, durations) : null;
  const runs: RecordedRun[] = previous?.runs ?? [];
  const failures: Failure[] = previous?.failures ?? [];
  const done = (system: ChaosSystem, mode: ChaosMode, scenario: ScenarioName, rep: number) =>
    runs.some((r) => r.system === system && r.mode === mode && r.scenario === scenario && r.rep === rep);
  // every run is saved at once: a soak interrupted after hours keeps what it measured
  const save = async () => {
    const machine = { cpus: cpus().length, node: process.version, date: new Date().toISOString() };
    const rows = aggregate(runs);
    await writeFile(`${results}${out}.json`, JSON.stringify({ machine, reps, durations, runs, failures, rows }, null, 2) + '\n');
    await writeFile(`${results}${out}.table.md`, renderTable(rows, durations, reps, failures));
  };
  for (const system of systems)
    for (const mode of modes) {
      let lab: ChaosLab | null = null;
      try {
        for (const scenario of scenarios)
          for (let rep = 1; rep <= reps; rep++) {
            if (done(system, mode, scenario, rep)) continue;
            try {
              lab ??= await freshLab(system, mode, durations);
              const loadAverageStart = loadavg()[0] ?? 0;
              const run = await runScenario(lab, scenario, mode, durations, log);
              runs.push({ ...run, rep, loadAverage1m: { start: loadAverageStart, end: loadavg()[0] ?? 0 } });
              await save();
              if (!run.healthy) {
                log(`[${system}/${mode}/${scenario}] rep ${rep}: the lab did not heal; replacing it`);
                await lab.close().catch(() => undefined);
                lab = null;
              }
            } catch (error) {
              const message = error instanceof Error ? error.message : String(error);
              failures.push({ system, mode, scenario, rep, error: message.split('\n')[0]! });
              await save();
              log(`[${system}/${mode}/${scenario}] rep ${rep} FAILED: ${message}`);
              if (lab !== null) await lab.close().catch(() => undefined);
              lab = null;
            }
          }
      } finally {
        if (lab !== null) await lab.close();
      }
    }
  await save();
  process.stdout.write(renderTable(aggregate(runs), durations, reps, failures));
}

/** A run as saved: its repetition number and the machine's 1-minute load average around it. */
type RecordedRun = ChaosRun & { rep: number; loadAverage1m?: { start: number; end: number } };

/** The runs and failures of an earlier (interrupted) soak, if it used the same durations. */
async function readPrevious(file: string, durations: ChaosDurations): Promise<{ runs: RecordedRun[]; failures: Failure[] } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null; // nothing to resume: a fresh soak
  }
  const saved = JSON.parse(text) as { durations: ChaosDurations; runs: RecordedRun[]; failures?: Failure[] };
  if (JSON.stringify(saved.durations) !== JSON.stringify(durations))
    usage(`--resume: ${file} was measured with other durations (${JSON.stringify(saved.durations)}); use another --out`);
  log(`resuming: ${saved.runs.length} run(s) already in ${file}`);
  return { runs: saved.runs, failures: saved.failures ?? [] };
}

interface Row {
  scenario: ScenarioName;
  system: ChaosSystem;
  mode: ChaosMode;
  runs: number;
  unhealthy: number;
  oldLastAckMs: ReturnType<typeof stats>;
  otherFirstAckMs: ReturnType<typeof stats>;
  overlapMs: ReturnType<typeof stats>;
  lost: ReturnType<typeof stats>;
  longestGapMs: ReturnType<typeof stats>;
  rejoinMs: ReturnType<typeof stats>;
  rejoinMethods: Record<string, number>;
  leaderChanged: number;
}

function aggregate(runs: ChaosRun[]): Row[] {
  const rows: Row[] = [];
  for (const scenario of SCENARIOS)
    for (const system of SYSTEMS)
      for (const mode of MODES) {
        const group = runs.filter((r) => r.scenario === scenario && r.system === system && r.mode === mode);
        if (group.length === 0) continue;
        const faults = group.flatMap((r) => r.faults);
        const methods: Record<string, number> = {};
        for (const f of faults) methods[f.rejoin.method] = (methods[f.rejoin.method] ?? 0) + 1;
        rows.push({
          scenario,
          system,
          mode,
          runs: group.length,
          unhealthy: group.filter((r) => !r.healthy).length,
          oldLastAckMs: stats(faults.map((f) => f.oldLeaderLastAckMs)),
          otherFirstAckMs: stats(faults.map((f) => f.otherFirstAckMs)),
          overlapMs: stats(group.map((r) => r.overlapMs)),
          lost: stats(group.map((r) => r.lost)),
          longestGapMs: stats(group.map((r) => r.longestGapMs)),
          rejoinMs: stats(faults.map((f) => f.rejoin.afterHealMs)),
          rejoinMethods: methods,
          leaderChanged: group.filter((r) => r.leaderChanged).length,
        });
      }
  return rows;
}

function renderTable(rows: Row[], d: ChaosDurations, reps: number, failures: Failure[]): string {
  const cell = (s: ReturnType<typeof stats>, scale = 1, digits = 0) =>
    s.median === null ? '-' : `${(s.median / scale).toFixed(digits)} (${((s.min ?? 0) / scale).toFixed(digits)}..${((s.max ?? 0) / scale).toFixed(digits)})`;
  const lines = [
    `# bench/chaos — keel vs Patroni 3.0.2 on three hosts (ttl 10, loop_wait 2, retry_timeout 4)`,
    '',
    `${reps} repetition(s) per cell; fault ${d.faultMs / 1000} s, etcd outage ${d.etcdOutageMs / 1000} s, ${d.kills} kill(s) per leader-kill9 run.`,
    'Times in ms after the fault, as median (min..max). "old last ack": the old leader\'s last acknowledged write in the tenure it held;',
    '"other first ack": the first write acknowledged by another node; overlap: time during which two nodes acknowledged;',
    'lost: acknowledged writes missing on the final leader after heal and rejoin; rejoin: heal -> the faulted node streams again.',
    '',
    'scenario | mode | system | runs | old last ack ms | other first ack ms | overlap ms | lost | longest gap ms | rejoin ms | rejoin how | leader changed | unhealthy',
    '--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---',
  ];
  for (const r of rows) {
    const how = Object.entries(r.rejoinMethods)
      .map(([m, c]) => `${m} ${c}`)
      .join(', ');
    lines.push(
      `${r.scenario} | ${r.mode} | ${r.system} | ${r.runs} | ${cell(r.oldLastAckMs)} | ${cell(r.otherFirstAckMs)} | ${cell(r.overlapMs)} | ${cell(r.lost)} | ${cell(r.longestGapMs)} | ${cell(r.rejoinMs)} | ${how} | ${r.leaderChanged}/${r.runs} | ${r.unhealthy}`,
    );
  }
  if (failures.length > 0) {
    lines.push('', 'Runs that failed (not in the table):', '');
    for (const f of failures) lines.push(`- ${f.system}/${f.mode}/${f.scenario} rep ${f.rep}: ${f.error}`);
  }
  return lines.join('\n') + '\n';
}

await main();
