/**
 * Worker thread of the restore pool: restores the chunks it is sent (read, decode, check, write)
 * with its own pack handles and frame cache (the manifest's packs are sent first, in a message of
 * their own: the thread starts before the manifest is read), and answers each with its outcome or its error
 * (code and message, rebuilt as a KeelError on the main thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { ChunkRestorer, type RestoreChunk } from './restore-chunk.js';
import { FileWriteLocks } from './file-write-lock.js';

const setup = workerData as { stanzaDir: string; key: Uint8Array | null; writeLocks: SharedArrayBuffer };
const key = setup.key === null ? null : Buffer.from(setup.key);
const writeLocks = new FileWriteLocks(setup.writeLocks);
/** Made when the pool sends the manifest's packs (RestorePool.usePacks), which come before any chunk. */
let restorer: ChunkRestorer | null = null;

parentPort?.on('message', (message: { packs: string[] } | { id: number; chunk: RestoreChunk }) => {
  if ('packs' in message) {
    restorer = new ChunkRestorer(setup.stanzaDir, message.packs, key, writeLocks);
    return;
  }
  const restoring = restorer === null ? Promise.reject(new Error('a chunk came before the packs')) : restorer.restore(message.chunk);
  restoring.then(
    (outcome) => parentPort?.postMessage({ id: message.id, outcome }),
    (error: unknown) =>
      parentPort?.postMessage({
        id: message.id,
        error: error instanceof KeelError ? { code: error.code, message: error.message } : { code: null, message: String((error as Error).stack ?? error) },
      }),
  );
});
