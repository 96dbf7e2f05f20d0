/**
 * Simulator command line.
 *   node dist/test/sim/run.js --seed 12345 --verbose          replay one schedule with its trace
 *   node dist/test/sim/run.js --count 10000 [--base N]        a batch (base: KEEL_SIM_SEED or 1)
 *   node dist/test/sim/run.js --count 2000 --mutant no-guard  run with a deliberately broken rule
 *   node dist/test/sim/run.js --count 200 --family frozen-unguarded   a schedule family
 * Prints the parameters derived from each failing seed and a one-line replay command.
 */
import { parseArgs } from 'node:util';
import { simulate } from './simulate.js';
import { runBatchParallel } from './parallel.js';
const { values } = parseArgs({
    options: {
        seed: { type: 'string' },
        count: { type: 'string' },
        base: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        mutant: { type: 'string', default: 'none' },
        family: { type: 'string', default: 'standard' },
    },
});
const mutant = values.mutant;
const family = values.family;
if (values.seed !== undefined) {
    const result = await simulate(Number(values.seed), { mutant, family, verbose: values.verbose });
    console.log(result.params);
    for (const line of result.log)
        console.log(line);
    console.log(result.violation === null
        ? `ok: ${result.promotions} promotions, ${result.writes} acknowledged writes, leader ${result.healToLeaderMs ?? '-'} ms after heal`
        : `VIOLATION ${result.violation.message}`);
    process.exitCode = result.violation === null ? 0 : 1;
}
else {
    const base = Number(values.base ?? process.env['KEEL_SIM_SEED'] ?? 1);
    const count = Number(values.count ?? 10000);
    const summary = await runBatchParallel(base, count, { mutant, family });
    console.log(summary.text);
    process.exitCode = summary.failures.length === 0 ? 0 : 1;
}
//# sourceMappingURL=run.js.map