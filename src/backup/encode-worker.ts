/**
 * Worker thread of the encode pool: examines chunks (block hashes, page checksums) and encodes
 * frames: delta-encoded against the prior backup's pages (with its own pack handles and cache of
 * decoded frames), then compressed (and encrypted) with the repository's codec settings. A failure
 * is answered as code and message (a KeelError on the main thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { encodeObject, type CodecSettings } from './object-codec.js';
import { BaseReader, deltaEncodeFrame, type DeltaCandidate } from './frame-delta.js';
import { examineChunk } from './examine-chunk.js';

const { stanzaDir } = workerData as { stanzaDir: string };
/** The repository's codec and the prior pages' reader: the pool's first message (the thread starts before the repository is opened). */
let codec: CodecSettings | null = null;
let bases: BaseReader | null = null;

type Job =
  | { kind: 'codec'; compressType: CodecSettings['compressType']; compressLevel: number | null; key: Uint8Array | null }
  | { id: number; kind: 'encode'; plain: Uint8Array; candidates: DeltaCandidate[] }
  | { id: number; kind: 'examine'; chunk: Uint8Array; pageCheck: { firstBlock: number; startLsn: bigint } | null; firstPage: number };

parentPort?.on('message', (job: Job) => {
  if (job.kind === 'codec') {
    codec = { compressType: job.compressType, compressLevel: job.compressLevel, key: job.key === null ? null : Buffer.from(job.key) };
    bases = new BaseReader(stanzaDir, codec.key);
    return;
  }
  try {
    if (job.kind === 'examine') {
      const chunk = Buffer.from(job.chunk.buffer, job.chunk.byteOffset, job.chunk.byteLength);
      const { hashes, crcs, failingPages } = examineChunk(chunk, job.pageCheck, job.firstPage);
      // the chunk goes back to the main thread, which reads the next one into it
      parentPort?.postMessage({ id: job.id, chunk: job.chunk, hashes, crcs, failingPages }, [job.chunk.buffer as ArrayBuffer]);
      return;
    }
    if (codec === null || bases === null) throw new Error('a frame came before the codec');
    const plain = Buffer.from(job.plain.buffer, job.plain.byteOffset, job.plain.byteLength);
    const deltas = job.candidates.length === 0 ? [] : deltaEncodeFrame(plain, job.candidates, bases);
    const encoded = encodeObject(plain, codec, false);
    const copy = new Uint8Array(encoded.length);
    copy.set(encoded);
    parentPort?.postMessage({ id: job.id, encoded: copy, deltas }, [copy.buffer]);
  } catch (error) {
    const failure =
      error instanceof KeelError ? { code: error.code, message: error.message } : { code: null, message: String((error as Error).stack ?? error) };
    parentPort?.postMessage({ id: job.id, error: failure });
  }
});
