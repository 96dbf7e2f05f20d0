/**
 * Worker thread of the encode pool: compresses (and encrypts) frames with the repository's codec
 * settings, so process-max frames are encoded at once while the main thread reads and hashes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeObject, type CodecSettings } from './object-codec.js';

const settings = workerData as { compressType: CodecSettings['compressType']; compressLevel: number | null; key: Uint8Array | null };
const codec: CodecSettings = {
  compressType: settings.compressType,
  compressLevel: settings.compressLevel,
  key: settings.key === null ? null : Buffer.from(settings.key),
};

parentPort?.on('message', (message: { id: number; plain: Uint8Array }) => {
  const encoded = encodeObject(message.plain, codec, false);
  const copy = new Uint8Array(encoded.length);
  copy.set(encoded);
  parentPort?.postMessage({ id: message.id, encoded: copy }, [copy.buffer]);
});
