/**
 * Worker thread of the encode pool: delta-encodes frames against the prior backup's pages (with
 * its own pack handles and cache of decoded frames), then compresses (and encrypts) them with the
 * repository's codec settings, so process-max frames are encoded at once while the main thread
 * reads and hashes. A failure is answered as code and message (a KeelError on the main thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeelError } from '../errors.js';
import { encodeObject, type CodecSettings } from './object-codec.js';
import { BaseReader, deltaEncodeFrame, type DeltaCandidate } from './frame-delta.js';

const settings = workerData as { compressType: CodecSettings['compressType']; compressLevel: number | null; key: Uint8Array | null; stanzaDir: string };
const codec: CodecSettings = {
  compressType: settings.compressType,
  compressLevel: settings.compressLevel,
  key: settings.key === null ? null : Buffer.from(settings.key),
};
const bases = new BaseReader(settings.stanzaDir, codec.key);

parentPort?.on('message', (message: { id: number; plain: Uint8Array; candidates: DeltaCandidate[] }) => {
  try {
    const plain = Buffer.from(message.plain.buffer, message.plain.byteOffset, message.plain.byteLength);
    const deltas = message.candidates.length === 0 ? [] : deltaEncodeFrame(plain, message.candidates, bases);
    const encoded = encodeObject(plain, codec, false);
    const copy = new Uint8Array(encoded.length);
    copy.set(encoded);
    parentPort?.postMessage({ id: message.id, encoded: copy, deltas }, [copy.buffer]);
  } catch (error) {
    const failure =
      error instanceof KeelError ? { code: error.code, message: error.message } : { code: null, message: String((error as Error).stack ?? error) };
    parentPort?.postMessage({ id: message.id, error: failure });
  }
});
