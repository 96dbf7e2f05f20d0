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
import { FileWriteLocks } from './file-write-lock.js';

/** Chunks queued per worker: one being restored, one ready (no idle gap between chunks). */
const QUEUED_PER_WORKER = 2;

/**
 * Hands out chunks in order, except that a worker skips the files another worker is writing: two
 * threads writing one file contend for its inode lock in the kernel (ext4 takes it for every
 * buffered write), and the loser spins, burning CPU. A large relation thus goes to one worker
 * while the others restore the small files, and they share it only at the end (taking turns at
 * its writes: file-write-lock.ts). A take looks at
 * most at one file per worker beyond the first it can have.
 */
class ChunkQueue {
  /** Files with chunks left, in order; `next` is the file's first chunk not handed out. */
  private readonly files: { path: string; chunks: RestoreChunk[]; next: number }[] = [];
  private readonly writers = new Map<string, { worker: number; chunks: number }>();

  constructor(chunks: readonly RestoreChunk[]) {
    const byPath = new Map<string, { path: string; chunks: RestoreChunk[]; next: number }>();
    for (const chunk of chunks) {
      let file = byPath.get(chunk.path);
      if (file === undefined) {
        file = { path: chunk.path, chunks: [], next: 0 };
        byPath.set(chunk.path, file);
        this.files.push(file);
      }
      file.chunks.push(chunk);
    }
  }

  take(worker: number): RestoreChunk | null {
    if (this.files.length === 0) return null;
    let chosen = this.files.findIndex((file) => {
      const writer = this.writers.get(file.path);
      return writer === undefined || writer.worker === worker;
    });
    if (chosen < 0) chosen = 0; // every file left is being written by another worker: share the first
    const file = this.files[chosen] as { path: string; chunks: RestoreChunk[]; next: number };
    const chunk = file.chunks[file.next++] as RestoreChunk;
    if (file.next === file.chunks.length) this.files.splice(chosen, 1);
    const writer = this.writers.get(chunk.path);
    if (writer === undefined) this.writers.set(chunk.path, { worker, chunks: 1 });
    else if (writer.worker === worker) writer.chunks++;
    return chunk;
  }

  /** The worker is done with the chunk (restored or failed). */
  release(worker: number, chunk: RestoreChunk): void {
    const writer = this.writers.get(chunk.path);
    if (writer === undefined || writer.worker !== worker) return;
    if (--writer.chunks === 0) this.writers.delete(chunk.path);
  }
}

type Reply = { id: number; outcome?: ChunkOutcome; error?: { code: string | null; message: string } };

export class RestorePool {
  private readonly workers: Worker[] = [];
  /** With process-max 1: the restorer on this thread, made by usePacks. */
  private local: ChunkRestorer | null = null;
  private readonly waiting = new Map<number, { resolve: (outcome: ChunkOutcome) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  /**
   * Starts the worker threads at once: the restore creates the pool before it reads the backup's
   * manifest, so the threads load their modules while the manifest is parsed (a quarter of a
   * second at scale 50) instead of after it.
   */
  constructor(
    private readonly stanzaDir: string,
    private readonly key: Buffer | null,
    workerCount: number,
  ) {
    if (workerCount <= 1) return;
    const writeLocks = FileWriteLocks.table();
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./restore-worker.js', import.meta.url), {
        workerData: { stanzaDir, key: key === null ? null : new Uint8Array(key), writeLocks },
      });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`restore worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  /**
   * The manifest's pack list, which the chunks' blocks index into; given once, before run(). A
   * worker handles its messages in order, so the packs reach it before any chunk.
   */
  usePacks(packs: readonly string[]): void {
    if (this.workers.length === 0) this.local = new ChunkRestorer(this.stanzaDir, packs, this.key);
    else for (const worker of this.workers) worker.postMessage({ packs: [...packs] });
  }

  /** Restores every chunk; `done` is called as each one completes (in completion order). */
  async run(chunks: readonly RestoreChunk[], done: (chunk: RestoreChunk, outcome: ChunkOutcome) => void): Promise<void> {
    if (this.workers.length === 0 && this.local === null) throw new Error('RestorePool.run before usePacks');
    const lanes = Math.max(this.workers.length, 1);
    const queue = new ChunkQueue(chunks);
    let failure: Error | null = null;
    const lane = async (worker: number) => {
      for (let chunk = queue.take(worker); failure === null && chunk !== null; chunk = queue.take(worker)) {
        try {
          done(chunk, await this.restoreOn(worker, chunk));
        } catch (error) {
          failure ??= error as Error;
        } finally {
          queue.release(worker, chunk);
        }
      }
    };
    const running: Promise<void>[] = [];
    // on this thread a queued chunk gains nothing, and one at a time lets the event loop turn between chunks
    const slots = this.workers.length > 0 ? QUEUED_PER_WORKER : 1;
    for (let worker = 0; worker < lanes; worker++) for (let slot = 0; slot < slots; slot++) running.push(lane(worker));
    await Promise.all(running);
    if (failure !== null) throw failure;
  }

  private restoreOn(worker: number, chunk: RestoreChunk): Promise<ChunkOutcome> {
    // a turn of the event loop first: a chunk is restored synchronously, and without it the
    // background fsyncs of finished files (restore.ts) would wait for the last chunk
    if (this.workers.length === 0) return new Promise((resolve) => setImmediate(resolve)).then(() => (this.local as ChunkRestorer).restore(chunk));
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
