/**
 * process-max: the worker threads do a backup's CPU work, so the main thread only reads files,
 * looks hashes up and assembles frames. Two kinds of job:
 *  - examine: hash every 8 KiB block of a chunk just read, and check its pages' checksums (data
 *    checksums on): a SHA-256 and a checksum per page are, with compression, most of a full
 *    backup's CPU, and on the main thread they made it the bottleneck;
 *  - encode: delta-encode a frame against the prior backup's pages (frame-delta.ts), compress and
 *    encrypt it (reading back the prior pages is most of an incremental's CPU).
 * With process-max 1 both run on the main thread. Buffers cross by transfer, never by copy.
 * Workers are stopped by close(), also when the backup fails.
 */
import { Worker } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { encodeObject, type CodecSettings } from './object-codec.js';
import { BaseReader, deltaEncodeFrame, type DeltaCandidate } from './frame-delta.js';
import { examineChunk } from './examine-chunk.js';

/** An encoded frame, and which of its delta candidates were stored as deltas (in order). */
export interface EncodedFrame {
  encoded: Buffer;
  deltas: boolean[];
}

/** Page checksums to check in a chunk: the relation's block number of its first page, and the backup's start LSN. */
export interface ChunkPageCheck {
  firstBlock: number;
  startLsn: bigint;
}

/** An examined chunk: its buffer (back from the worker), each block's hash and CRC-32 (null: none on this Node), and the pages (indexes in the chunk) failing their checksum. */
export interface ExaminedChunk {
  chunk: Buffer;
  hashes: string[];
  crcs: number[] | null;
  failingPages: number[];
}

type Reply =
  | { id: number; encoded: Uint8Array; deltas: boolean[] }
  | { id: number; chunk: Uint8Array; hashes: string[]; crcs: number[] | null; failingPages: number[] }
  | { id: number; error: { code: string | null; message: string } };

export class EncodePool {
  private readonly workers: Worker[] = [];
  private readonly inFlight: number[] = [];
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void; worker: number }>();
  private nextId = 0;
  /** The repository's codec, given by useCodec before any job. */
  private codec: CodecSettings | null = null;
  /** The main thread's reader of prior pages (process-max 1). */
  private bases: BaseReader | null = null;

  /**
   * Starts the worker threads at once: a backup makes the pool before it opens the repository
   * (the key derivation) and connects to PostgreSQL, so the threads load their modules (80 ms
   * here) meanwhile. They get the codec by useCodec, before any job.
   */
  constructor(
    workerCount: number,
    private readonly stanzaDir: string,
  ) {
    if (workerCount <= 1) return;
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData: { stanzaDir } });
      worker.on('message', (message: Reply) => {
        const waiter = this.waiting.get(message.id);
        if (waiter === undefined) return;
        this.waiting.delete(message.id);
        this.inFlight[waiter.worker] = (this.inFlight[waiter.worker] ?? 1) - 1;
        if ('error' in message) {
          const failure = message.error;
          waiter.reject(failure.code === null ? new Error(`encode worker failed: ${failure.message}`) : new KeelError(failure.code, failure.message));
          return;
        }
        waiter.resolve(message);
      });
      worker.on('error', (error) => this.failAll(error));
      this.workers.push(worker);
      this.inFlight.push(0);
    }
  }

  /** The repository's compression and key; given once, before the first job (a worker handles its messages in order). */
  useCodec(codec: CodecSettings): void {
    this.codec = codec;
    if (this.workers.length === 0) this.bases = new BaseReader(this.stanzaDir, codec.key);
    const settings = { compressType: codec.compressType, compressLevel: codec.compressLevel, key: codec.key === null ? null : new Uint8Array(codec.key) };
    for (const worker of this.workers) worker.postMessage({ kind: 'codec', ...settings });
  }

  /**
   * Encodes a frame; `candidates` (blocks with a previous version) become deltas where that pays.
   * The pool takes `plain`: with workers its whole ArrayBuffer is transferred to one, so it must
   * share that buffer with nothing the caller still uses (a fresh buffer per frame).
   */
  encode(plain: Buffer, candidates: readonly DeltaCandidate[]): Promise<EncodedFrame> {
    if (this.codec === null) return Promise.reject(new Error('EncodePool.encode before useCodec'));
    if (this.workers.length === 0) {
      try {
        const deltas = candidates.length === 0 || this.bases === null ? [] : deltaEncodeFrame(plain, candidates, this.bases);
        return Promise.resolve({ encoded: encodeObject(plain, this.codec, false), deltas });
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    // `plain` is the caller's to give: its ArrayBuffer is transferred (no copy), and unusable here after
    const frame = new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    return this.send({ kind: 'encode', plain: frame, candidates }, frame.buffer as ArrayBuffer).then((reply) => {
      if (!('encoded' in reply)) throw new Error('encode worker answered an encode with something else');
      return { encoded: Buffer.from(reply.encoded.buffer, reply.encoded.byteOffset, reply.encoded.byteLength), deltas: reply.deltas };
    });
  }

  /**
   * Hashes each block of `chunk` and checks its pages' checksums (`pageCheck`, first page of the
   * chunk at `firstPage` of the file). With workers the chunk's whole ArrayBuffer goes to one and
   * comes back in the result (`chunk`), so it must be a buffer of its own.
   */
  examine(chunk: Buffer, pageCheck: ChunkPageCheck | null, firstPage: number): Promise<ExaminedChunk> {
    if (this.workers.length === 0) return Promise.resolve({ chunk, ...examineChunk(chunk, pageCheck, firstPage) });
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    return this.send({ kind: 'examine', chunk: bytes, pageCheck, firstPage }, bytes.buffer as ArrayBuffer).then((reply) => {
      if (!('hashes' in reply)) throw new Error('encode worker answered an examine with something else');
      return {
        chunk: Buffer.from(reply.chunk.buffer, reply.chunk.byteOffset, reply.chunk.byteLength),
        hashes: reply.hashes,
        crcs: reply.crcs,
        failingPages: reply.failingPages,
      };
    });
  }

  /** Sends a job to the least busy worker, transferring `transfer`. */
  private send(job: Record<string, unknown>, transfer: ArrayBuffer): Promise<Reply> {
    let chosen = 0;
    for (let i = 1; i < this.workers.length; i++) if ((this.inFlight[i] ?? 0) < (this.inFlight[chosen] ?? 0)) chosen = i;
    const id = this.nextId++;
    this.inFlight[chosen] = (this.inFlight[chosen] ?? 0) + 1;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: chosen });
      this.workers[chosen]?.postMessage({ id, ...job }, [transfer]);
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
