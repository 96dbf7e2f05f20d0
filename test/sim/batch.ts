/** Runs a range of seeds and summarises them (used by run.ts and the tests). */
import type { Mutant } from './model.js';
import { simulate } from './simulate.js';

export interface BatchSummary {
  failures: Array<{ seed: number; message: string; params: string; replay: string }>;
  promotions: number;
  elapsedMs: number;
  text: string;
  excused: number;
}

export function replayCommand(seed: number, mutant: Mutant): string {
  return `node dist/test/sim/run.js --seed ${seed}${mutant === 'none' ? '' : ` --mutant ${mutant}`} --verbose`;
}

export function runBatch(base: number, count: number, mutant: Mutant = 'none', stopAfterFailures = Infinity): BatchSummary {
  const started = performance.now();
  const failures: BatchSummary['failures'] = [];
  let promotions = 0;
  let excused = 0;
  for (let seed = base; seed < base + count && failures.length < stopAfterFailures; seed++) {
    const r = simulate(seed, { mutant });
    promotions += r.promotions;
    if (r.healToLeaderMs === null && r.violation === null) excused++;
    if (r.violation !== null) failures.push({ seed, message: r.violation.message, params: r.params, replay: replayCommand(seed, mutant) });
  }
  const elapsedMs = performance.now() - started;
  const lines = failures.slice(0, 20).map((f) => `FAIL seed ${f.seed}: ${f.message}\n  ${f.params}\n  replay: ${f.replay}`);
  lines.push(`${count} schedules from seed ${base} (mutant ${mutant}): ${failures.length} failing, ${promotions} promotions, ` +
    `${excused} without an eligible leader after heal, ${(elapsedMs / 1000).toFixed(1)} s, ${(count / (elapsedMs / 1000)).toFixed(0)} seeds/s`);
  return { failures, promotions, elapsedMs, text: lines.join('\n'), excused };
}
