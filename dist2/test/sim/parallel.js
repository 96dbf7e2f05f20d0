/**
 * Runs a batch of seeds on several worker threads (each seed is independent and deterministic,
 * so splitting the range changes nothing but the wall time) and merges the summaries.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { summarize } from './batch.js';
const WORKER = new URL('./parallel-worker.js', import.meta.url);
function runSlice(base, count, options) {
    return new Promise((resolve, reject) => {
        const worker = new Worker(WORKER, { workerData: { base, count, options } });
        worker.once('message', (result) => resolve(result));
        worker.once('error', reject);
        worker.once('exit', (code) => {
            if (code !== 0)
                reject(new Error(`simulator worker exited with code ${code}`));
        });
    });
}
export async function runBatchParallel(base, count, options = {}, workers = Math.min(2, availableParallelism())) {
    const started = performance.now();
    const size = Math.ceil(count / workers);
    const slices = Array.from({ length: workers }, (_, i) => ({ base: base + i * size, count: Math.max(0, Math.min(size, count - i * size)) })).filter((s) => s.count > 0);
    const results = await Promise.all(slices.map((s) => runSlice(s.base, s.count, options)));
    const failures = results.flatMap((r) => r.failures).sort((a, b) => a.seed - b.seed);
    const known = new Map();
    for (const [name, seeds] of results.flatMap((r) => r.known))
        known.set(name, [...(known.get(name) ?? []), ...seeds].sort((a, b) => a.seed - b.seed));
    const promotions = results.reduce((sum, r) => sum + r.promotions, 0);
    const excused = results.reduce((sum, r) => sum + r.excused, 0);
    return summarize({ base, count, workers: slices.length, options, failures, known, promotions, excused, elapsedMs: performance.now() - started });
}
//# sourceMappingURL=parallel.js.map