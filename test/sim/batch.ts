/** Runs a range of seeds and summarises them (used by run.ts and the tests). */
import type { Family, Mutant } from './model.js';
import { simulate } from './simulate.js';

export interface BatchFailure {
  seed: number;
  message: string;
  params: string;
  replay: string;
}

export interface BatchSummary {
  /** Violations outside the known limitations: each is a failure. */
  failures: BatchFailure[];
  /** Violations of a known, named limitation, by name (reported, never counted as passes). */
  known: Map<string, BatchFailure[]>;
  promotions: number;
  elapsedMs: number;
  text: string;
  excused: number;
}

export interface BatchOptions {
  mutant?: Mutant;
  family?: Family;
  stopAfterFailures?: number;
}

export function replayCommand(seed: number, options: BatchOptions = {}): string {
  const mutant = options.mutant ?? 'none';
  const family = options.family ?? 'standard';
  return `node dist/test/sim/run.js --seed ${seed}${mutant === 'none' ? '' : ` --mutant ${mutant}`}${family === 'standard' ? '' : ` --family ${family}`} --verbose`;
}

export async function runBatch(base: number, count: number, options: BatchOptions = {}): Promise<BatchSummary> {
  const started = performance.now();
  const failures: BatchFailure[] = [];
  const known = new Map<string, BatchFailure[]>();
  let promotions = 0;
  let excused = 0;
  const stopAfter = options.stopAfterFailures ?? Infinity;
  for (let seed = base; seed < base + count && failures.length < stopAfter; seed++) {
    const r = await simulate(seed, {
      ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
      ...(options.family === undefined ? {} : { family: options.family }),
    });
    promotions += r.promotions;
    if (r.healToLeaderMs === null && r.violation === null) excused++;
    if (r.violation === null) continue;
    const failure = { seed, message: r.violation.message, params: r.params, replay: replayCommand(seed, options) };
    const limitation = r.violation.knownLimitation;
    if (limitation === null) failures.push(failure);
    else known.set(limitation, [...(known.get(limitation) ?? []), failure]);
  }
  return summarize({ base, count, workers: 1, options, failures, known, promotions, excused, elapsedMs: performance.now() - started });
}

/** The summary and its text, for one batch or the merged slices of a parallel one. */
export function summarize(b: {
  base: number;
  count: number;
  workers: number;
  options: BatchOptions;
  failures: BatchFailure[];
  known: Map<string, BatchFailure[]>;
  promotions: number;
  excused: number;
  elapsedMs: number;
}): BatchSummary {
  const lines = b.failures.slice(0, 20).map((f) => `FAIL seed ${f.seed}: ${f.message}\n  ${f.params}\n  replay: ${f.replay}`);
  for (const [name, seeds] of b.known) {
    lines.push(
      `KNOWN LIMITATION "${name}": ${seeds.length} schedule(s): seeds ${seeds.map((f) => f.seed).join(', ')}\n  e.g. ${seeds[0]?.message ?? ''}\n  replay: ${seeds[0]?.replay ?? ''}`,
    );
  }
  const knownCount = [...b.known.values()].reduce((sum, seeds) => sum + seeds.length, 0);
  lines.push(
    `${b.count} schedules from seed ${b.base} on ${b.workers} worker(s) (family ${b.options.family ?? 'standard'}, mutant ${b.options.mutant ?? 'none'}): ${b.failures.length} failing, ` +
      `${knownCount} known limitation(s), ${b.promotions} promotions, ${b.excused} without an eligible leader after heal, ${(b.elapsedMs / 1000).toFixed(1)} s, ${(b.count / (b.elapsedMs / 1000)).toFixed(0)} seeds/s`,
  );
  return { failures: b.failures, known: b.known, promotions: b.promotions, elapsedMs: b.elapsedMs, excused: b.excused, text: lines.join('\n') };
}
