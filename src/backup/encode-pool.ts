/**
 * process-max: frames are compressed and encrypted by worker threads (zstd level 3 is most of a
 * full backup's CPU). With process-max 1 frames are encoded on the main thread. Workers are
 * stopped by close(), also when the backup fails.
 */
import { Worker } from 'node:worker_threads';
import { encodeObject, type CodecSettings } from './object-codec.js';

export class EncodePool {
  private readonly workers: Worker[] = [];
  private readonly inFlight: number[] = [];
  private readonly waiting = new Map<number, { resolve: (encoded: Buffer) => void; reject: (error: Error) => void; worker: number }>();
  private nextId = 0;

  constructor(
    private readonly codec: CodecSettings,
    workerCount: number,
  ) {
    if (workerCount <= 1) return;
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./encode-worker.js', import.meta.url), {
        workerData: { compressType: codec.compressType, compressLevel: codec.compressLevel, key: codec.key === null ? null : new Uint8Array(codec.key) },
      });
      worker.on('message', (message: { id: number; encoded: Uint8Array }) => {
        const waiter = this.waiting.get(message.id);
        if (waiter === undefined) return;
        this.waiting.delete(message.id);
        this.inFlight[waiter.worker] = (this.inFlight[waiter.worker] ?? 1) - 1;
        waiter.resolve(Buffer.from(message.encoded.buffer, message.encoded.byteOffset, message.encoded.byteLength));
      });
      worker.on('error', (error) => this.failAll(error));
      this.workers.push(worker);
      this.inFlight.push(0);
    }
  }

  encode(plain: Buffer): Promise<Buffer> {
    if (this.workers.length === 0) return Promise.resolve(encodeObject(plain, this.codec, false));
    let chosen = 0;
    for (let i = 1; i < this.workers.length; i++) if ((this.inFlight[i] ?? 0) < (this.inFlight[chosen] ?? 0)) chosen = i;
    const id = this.nextId++;
    this.inFlight[chosen] = (this.inFlight[chosen] ?? 0) + 1;
    // a private copy is transferred: `plain` may share memory with blocks still referenced elsewhere
    const copy = new Uint8Array(plain.length);
    copy.set(plain);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: chosen });
      this.workers[chosen]?.postMessage({ id, plain: copy }, [copy.buffer]);
    });
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers.length = 0;
  }
}
