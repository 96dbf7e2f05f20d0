/** One worker thread of parallel.ts: runs its slice of seeds and posts the summary back. */
import { parentPort, workerData } from 'node:worker_threads';
import { runBatch } from './batch.js';
const { base, count, options } = workerData;
const summary = await runBatch(base, count, options);
parentPort?.postMessage({ failures: summary.failures, known: [...summary.known.entries()], promotions: summary.promotions, excused: summary.excused });
//# sourceMappingURL=parallel-worker.js.map