import { simulate } from './simulate.js';
export function replayCommand(seed, options = {}) {
    const mutant = options.mutant ?? 'none';
    const family = options.family ?? 'standard';
    return `node dist/test/sim/run.js --seed ${seed}${mutant === 'none' ? '' : ` --mutant ${mutant}`}${family === 'standard' ? '' : ` --family ${family}`} --verbose`;
}
export async function runBatch(base, count, options = {}) {
    const started = performance.now();
    const failures = [];
    const known = new Map();
    let promotions = 0;
    let excused = 0;
    const stopAfter = options.stopAfterFailures ?? Infinity;
    for (let seed = base; seed < base + count && failures.length < stopAfter; seed++) {
        const r = await simulate(seed, {
            ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
            ...(options.family === undefined ? {} : { family: options.family }),
        });
        promotions += r.promotions;
        if (r.healToLeaderMs === null && r.violation === null)
            excused++;
        if (r.violation === null)
            continue;
        const failure = { seed, message: r.violation.message, params: r.params, replay: replayCommand(seed, options) };
        const limitation = r.violation.knownLimitation;
        if (limitation === null)
            failures.push(failure);
        else
            known.set(limitation, [...(known.get(limitation) ?? []), failure]);
    }
    return summarize({ base, count, workers: 1, options, failures, known, promotions, excused, elapsedMs: performance.now() - started });
}
/** The summary and its text, for one batch or the merged slices of a parallel one. */
export function summarize(b) {
    const lines = b.failures.slice(0, 20).map((f) => `FAIL seed ${f.seed}: ${f.message}\n  ${f.params}\n  replay: ${f.replay}`);
    for (const [name, seeds] of b.known) {
        lines.push(`KNOWN LIMITATION "${name}": ${seeds.length} schedule(s): seeds ${seeds.map((f) => f.seed).join(', ')}\n  e.g. ${seeds[0]?.message ?? ''}\n  replay: ${seeds[0]?.replay ?? ''}`);
    }
    const knownCount = [...b.known.values()].reduce((sum, seeds) => sum + seeds.length, 0);
    lines.push(`${b.count} schedules from seed ${b.base} on ${b.workers} worker(s) (family ${b.options.family ?? 'standard'}, mutant ${b.options.mutant ?? 'none'}): ${b.failures.length} failing, ` +
        `${knownCount} known limitation(s), ${b.promotions} promotions, ${b.excused} without an eligible leader after heal, ${(b.elapsedMs / 1000).toFixed(1)} s, ${(b.count / (b.elapsedMs / 1000)).toFixed(0)} seeds/s`);
    return { failures: b.failures, known: b.known, promotions: b.promotions, elapsedMs: b.elapsedMs, excused: b.excused, text: lines.join('\n') };
}
//# sourceMappingURL=batch.js.map