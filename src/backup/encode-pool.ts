/**
 * process-max: frames are delta-encoded against the prior backup's pages (frame-delta.ts),
 * compressed and encrypted by worker threads (zstd level 3 is most of a full backup's CPU,
 * reading back the prior pages most of an incremental's). With process-max 1 frames are encoded
 * on the main thread. Workers are stopped by close(), also when the backup fails.
 */
import { Worker } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { encodeObject, type CodecSettings } from './object-codec.js';
import { BaseReader, deltaEncodeFrame, type DeltaCandidate } from './frame-delta.js';

/** An encoded frame, and which of its delta candidates were stored as deltas (in order). */
export interface EncodedFrame {
  encoded: Buffer;
  deltas: boolean[];
}

export class EncodePool {
  private readonly workers: Worker[] = [];
  private readonly inFlight: number[] = [];
  private readonly waiting = new Map<number, { resolve: (frame: EncodedFrame) => void; reject: (error: Error) => void; worker: number }>();
  private nextId = 0;
  /** The main thread's reader of prior pages (process-max 1). */
  private readonly bases: BaseReader | null = null;

  constructor(
    private readonly codec: CodecSettings,
    workerCount: number,
    stanzaDir: string,
  ) {
    if (workerCount <= 1) {
      this.bases = new BaseReader(stanzaDir, codec.key);
      return;
    }
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./encode-worker.js', import.meta.url), {
        workerData: {
          compressType: codec.compressType,
          compressLevel: codec.compressLevel,
          key: codec.key === null ? null : new Uint8Array(codec.key),
          stanzaDir,
        },
      });
      worker.on('message', (message: { id: number; encoded?: Uint8Array; deltas?: boolean[]; error?: { code: string | null; message: string } }) => {
        const waiter = this.waiting.get(message.id);
        if (waiter === undefined) return;
        this.waiting.delete(message.id);
        this.inFlight[waiter.worker] = (this.inFlight[waiter.worker] ?? 1) - 1;
        if (message.encoded === undefined) {
          const failure = message.error ?? { code: null, message: 'no reply' };
          waiter.reject(failure.code === null ? new Error(`encode worker failed: ${failure.message}`) : new KeelError(failure.code, failure.message));
          return;
        }
        waiter.resolve({ encoded: Buffer.from(message.encoded.buffer, message.encoded.byteOffset, message.encoded.byteLength), deltas: message.deltas ?? [] });
      });
      worker.on('error', (error) => this.failAll(error));
      this.workers.push(worker);
      this.inFlight.push(0);
    }
  }

  /**
   * Encodes a frame; `candidates` (blocks with a previous version) become deltas where that pays.
   * The pool takes `plain`: with workers its whole ArrayBuffer is transferred to one, so it must
   * share that buffer with nothing the caller still uses (a fresh buffer per frame).
   */
  encode(plain: Buffer, candidates: readonly DeltaCandidate[]): Promise<EncodedFrame> {
    if (this.workers.length === 0) {
      try {
        const deltas = candidates.length === 0 || this.bases === null ? [] : deltaEncodeFrame(plain, candidates, this.bases);
        return Promise.resolve({ encoded: encodeObject(plain, this.codec, false), deltas });
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    let chosen = 0;
    for (let i = 1; i < this.workers.length; i++) if ((this.inFlight[i] ?? 0) < (this.inFlight[chosen] ?? 0)) chosen = i;
    const id = this.nextId++;
    this.inFlight[chosen] = (this.inFlight[chosen] ?? 0) + 1;
    // `plain` is the caller's to give: its ArrayBuffer is transferred (no copy), and unusable here after
    const frame = new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: chosen });
      this.workers[chosen]?.postMessage({ id, plain: frame, candidates }, [frame.buffer as ArrayBuffer]);
    });
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.bases?.close();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers.length = 0;
  }
}
