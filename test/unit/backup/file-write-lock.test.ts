/**
 * FileWriteLocks (file-write-lock.ts), the per-file write lock the restore workers share: two
 * threads holding the lock of one path never run their writes at once (a read-modify-write of a
 * shared counter, made slow on purpose, loses no increment), and a lock is released when the
 * write throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { FileWriteLocks } from '../../../src/backup/file-write-lock.js';

const MODULE = new URL('../../../src/backup/file-write-lock.js', import.meta.url).href;
const ROUNDS = 2000;

/** A thread that, ROUNDS times, holds the lock of `path` and increments the counter without atomics. */
function incrementer(table: SharedArrayBuffer, counter: SharedArrayBuffer, path: string): Promise<void> {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.module).then(({ FileWriteLocks }) => {
      const locks = new FileWriteLocks(workerData.table);
      const counter = new Int32Array(workerData.counter);
      for (let round = 0; round < ${ROUNDS}; round++) {
        locks.hold(workerData.path, () => {
          const seen = counter[0];
          for (let spin = 0; spin < 2000; spin++) counter[1] = spin; // widen the race between read and write
          counter[0] = seen + 1;
        });
      }
      parentPort.postMessage('done');
    });
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { module: MODULE, table, counter, path } });
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
}

test('two threads holding the lock of one file never write at once: no increment is lost', async () => {
  const table = FileWriteLocks.table();
  const counter = new SharedArrayBuffer(8);
  await Promise.all([incrementer(table, counter, '/data/base/5/16397'), incrementer(table, counter, '/data/base/5/16397')]);
  assert.equal(new Int32Array(counter)[0], 2 * ROUNDS);
});

test('a write that throws releases the lock', () => {
  const locks = new FileWriteLocks(FileWriteLocks.table());
  assert.throws(
    () =>
      locks.hold('/data/base/5/16397', () => {
        throw new Error('disk full');
      }),
    /disk full/,
  );
  // taken again at once (a lock left held would wait forever here)
  assert.equal(
    locks.hold('/data/base/5/16397', () => 'written'),
    'written',
  );
});
