/**
 * process-max for restore: chunks are restored by worker threads (decompression, decryption and
 * hashing are most of a restore's CPU, and each worker's writes overlap the other's decoding).
 * With process-max 1 chunks are restored on the main thread. `run` keeps every worker busy with
 * a small queue, stops handing out chunks at the first error and rethrows it once the chunks in
 * flight have settled; close() stops the workers, also after a failure.
 */
import { Worker } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { ChunkRestorer, type ChunkOutcome, type RestoreChunk } from './restore-chunk.js';

/** Chunks queued per worker: one being restored, one ready (no idle gap between chunks). */
const QUEUED_PER_WORKER = 2;

type Reply = { id: number; outcome?: ChunkOutcome; error?: { code: string | null; message: string } };

export class RestorePool {
  private readonly workers: Worker[] = [];
  private readonly local: ChunkRestorer | null;
  private readonly waiting = new Map<number, { resolve: (outcome: ChunkOutcome) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  constructor(stanzaDir: string, packs: readonly string[], key: Buffer | null, workerCount: number) {
    if (workerCount <= 1) {
      this.local = new ChunkRestorer(stanzaDir, packs, key);
      return;
    }
    this.local = null;
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./restore-worker.js', import.meta.url), {
        workerData: { stanzaDir, packs: [...packs], key: key === null ? null : new Uint8Array(key) },
      });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`restore worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  /** Restores every chunk; `done` is called as each one completes (in completion order). */
  async run(chunks: readonly RestoreChunk[], done: (chunk: RestoreChunk, outcome: ChunkOutcome) => void): Promise<void> {
    const lanes = this.local === null ? this.workers.length : 1;
    let next = 0;
    let failure: Error | null = null;
    const lane = async (worker: number) => {
      while (failure === null && next < chunks.length) {
        const chunk = chunks[next++] as RestoreChunk;
        try {
          done(chunk, await this.restoreOn(worker, chunk));
        } catch (error) {
          failure ??= error as Error;
        }
      }
    };
    const running: Promise<void>[] = [];
    for (let worker = 0; worker < lanes; worker++) for (let slot = 0; slot < QUEUED_PER_WORKER; slot++) running.push(lane(worker));
    await Promise.all(running);
    if (failure !== null) throw failure;
  }

  private restoreOn(worker: number, chunk: RestoreChunk): Promise<ChunkOutcome> {
    if (this.local !== null) return this.local.restore(chunk);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[worker]?.postMessage({ id, chunk });
    });
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id);
    if (waiter === undefined) return;
    this.waiting.delete(reply.id);
    if (reply.outcome !== undefined) waiter.resolve(reply.outcome);
    else if (reply.error?.code !== null && reply.error?.code !== undefined) waiter.reject(new KeelError(reply.error.code, reply.error.message));
    else waiter.reject(new Error(`restore worker failed: ${reply.error?.message ?? 'no reply'}`));
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await this.local?.close();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers.length = 0;
  }
}
