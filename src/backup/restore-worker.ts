/**
 * Worker thread of the restore pool: restores the chunks it is sent (read, decode, check, write)
 * with its own pack handles and frame cache, and answers each with its outcome or its error
 * (code and message, rebuilt as a KeelError on the main thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { ChunkRestorer, type RestoreChunk } from './restore-chunk.js';
import { FileWriteLocks } from './file-write-lock.js';

const setup = workerData as { stanzaDir: string; packs: string[]; key: Uint8Array | null; writeLocks: SharedArrayBuffer };
const restorer = new ChunkRestorer(setup.stanzaDir, setup.packs, setup.key === null ? null : Buffer.from(setup.key), new FileWriteLocks(setup.writeLocks));

parentPort?.on('message', (message: { id: number; chunk: RestoreChunk }) => {
  restorer.restore(message.chunk).then(
    (outcome) => parentPort?.postMessage({ id: message.id, outcome }),
    (error: unknown) =>
      parentPort?.postMessage({
        id: message.id,
        error: error instanceof KeelError ? { code: error.code, message: error.message } : { code: null, message: String((error as Error).stack ?? error) },
      }),
  );
});
