/**
 * mapLimit (concurrency.ts), the bounded loop of backup's and restore's file work: results in the
 * items' order whatever order they finish in, never more than `limit` at once, and after a
 * failure no new item starts and nothing started is still running when the failure is thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimit } from '../../../src/backup/concurrency.js';

/** Resolves after `turns` trips through the microtask and timer queues (no wall-clock timing). */
function turns(count: number): Promise<void> {
  let chain = Promise.resolve();
  for (let i = 0; i < count; i++) chain = chain.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  return chain;
}

test('results come back in the items order although later items finish first', async () => {
  const items = [5, 1, 4, 2, 3, 0];
  const results = await mapLimit(items, 3, async (item) => {
    await turns(item);
    return item * 10;
  });
  assert.deepEqual(results, [50, 10, 40, 20, 30, 0]);
});

test('never more than limit items are in work at once, and the limit is reached', async () => {
  let running = 0;
  let most = 0;
  await mapLimit(
    Array.from({ length: 20 }, (_, i) => i),
    4,
    async (item) => {
      running++;
      most = Math.max(most, running);
      await turns((item % 3) + 1);
      running--;
    },
  );
  assert.equal(most, 4);
  assert.equal(running, 0);
});

test('a failure starts no new item and is thrown only once every started item has settled', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  await assert.rejects(
    mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('item 1 failed');
      await turns(5);
      finished.push(item);
    }),
    /item 1 failed/,
  );
  // 0 and 2 were in work with 1; nothing started after 1 failed, and both finished before the throw
  assert.deepEqual(started, [0, 1, 2]);
  assert.deepEqual(finished.sort(), [0, 2]);
});

test('an empty list maps to an empty list', async () => {
  assert.deepEqual(await mapLimit([], 4, async () => assert.fail('no item to work on')), []);
});
