/**
 * The real pg_wal watch behind HaPorts.nextWalWrite (real-ports.ts), on a temporary directory:
 * it calls back once at the first write, not at all once stopped, and says it cannot watch a
 * directory that is not there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextWalWrite } from '../../../src/ha/real-ports.js';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

test('a write in pg_wal calls back once; a stopped watch never does; no pg_wal: null', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-wal-watch-'));
  try {
    const segment = join(dir, '000000010000000000000001');
    await appendFile(segment, 'x');
    await settle(); // the creation above happened before any watch
    let calls = 0;
    const stop = nextWalWrite(dir, () => calls++);
    assert.ok(stop !== null);
    await settle();
    assert.equal(calls, 0, 'called back with nothing written');
    await appendFile(segment, 'x');
    await appendFile(segment, 'x');
    await settle();
    assert.equal(calls, 1, 'once at the first write, then the watch is closed');

    let stoppedCalls = 0;
    const stopped = nextWalWrite(dir, () => stoppedCalls++);
    assert.ok(stopped !== null);
    stopped();
    await appendFile(segment, 'x');
    await settle();
    assert.equal(stoppedCalls, 0, 'a stopped watch called back');
    stop(); // stopping one that already fired is harmless

    assert.equal(
      nextWalWrite(join(dir, 'missing'), () => undefined),
      null,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
