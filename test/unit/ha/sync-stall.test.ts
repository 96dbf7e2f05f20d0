/** The stall tracker (core/sync-stall.ts): behind the primary's flushed WAL and not moving, measured between samples. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteReplicationSample, stalledForMs, type ReplicationProgress } from '../../../src/ha/core/sync-stall.js';

function run(samples: Array<[nowMs: number, primary: number, standbys: Record<string, number | null>]>): ReplicationProgress {
  let progress: ReplicationProgress = new Map();
  for (const [nowMs, primary, standbys] of samples) {
    progress = noteReplicationSample(
      progress,
      { primaryFlushBytes: primary, standbys: Object.entries(standbys).map(([name, flushLsnBytes]) => ({ name, flushLsnBytes })) },
      nowMs,
    );
  }
  return progress;
}

test('a standby that keeps up is never stalled, however long the primary runs', () => {
  const p = run([
    [0, 100, { n2: 100 }],
    [200, 150, { n2: 150 }],
    [5000, 150, { n2: 150 }],
  ]);
  assert.equal(stalledForMs(p, 'n2', 9000), 0);
});

test('behind and not moving: stalled since the first sample that found it so', () => {
  const p = run([
    [0, 100, { n2: 100 }],
    [200, 180, { n2: 100 }],
    [400, 260, { n2: 100 }],
    [1400, 300, { n2: 100 }],
  ]);
  assert.equal(stalledForMs(p, 'n2', 1400), 1200);
});

test('behind but moving (a slow standby under load) starts the count again at each move', () => {
  const p = run([
    [0, 100, { n2: 90 }],
    [500, 200, { n2: 95 }],
    [1000, 300, { n2: 120 }],
    [1500, 400, { n2: 180 }],
  ]);
  assert.equal(stalledForMs(p, 'n2', 1500), 0);
  assert.equal(
    stalledForMs(
      run([
        [0, 100, { n2: 90 }],
        [500, 200, { n2: 95 }],
        [1300, 200, { n2: 95 }],
      ]),
      'n2',
      1300,
    ),
    800,
  );
});

test('caught up again ends the stall; a standby that has not said where it is counts as behind', () => {
  const p = run([
    [0, 100, { n2: 50, n3: null }],
    [2000, 100, { n2: 100, n3: null }],
  ]);
  assert.equal(stalledForMs(p, 'n2', 2000), 0);
  assert.equal(stalledForMs(p, 'n3', 2000), 2000);
});

test('a standby gone from pg_stat_replication is forgotten; one never sampled is not stalled', () => {
  const p = run([
    [0, 100, { n2: 50 }],
    [2000, 100, {}],
  ]);
  assert.equal(stalledForMs(p, 'n2', 3000), 0);
  assert.equal(stalledForMs(p, 'n9', 3000), 0);
});
