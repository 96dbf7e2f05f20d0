/**
 * The timeline-origin marker as LocalPostgres reads it every cycle (src/postgres/local-node.ts):
 * absent is null (the usual case, answered by a stat), a written marker reads back, and a
 * malformed or half-filled one is null rather than an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalPostgres } from '../../../src/postgres/local-node.js';

test('the timeline-origin marker: absent, written, malformed', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keel-origin-'));
  try {
    const pg = new LocalPostgres({ dataDir, configDir: dataDir, binDir: '/nonexistent' });
    assert.equal(await pg.readTimelineOrigin(), null, 'absent');
    await pg.writeTimelineOrigin({ timeline: 3, member: 'node2' });
    assert.deepEqual(await pg.readTimelineOrigin(), { timeline: 3, member: 'node2' });
    await writeFile(join(dataDir, 'keel.timeline-origin'), '{"timeline": 3');
    assert.equal(await pg.readTimelineOrigin(), null, 'malformed JSON');
    await writeFile(join(dataDir, 'keel.timeline-origin'), '{"timeline": "3", "member": "node2"}\n');
    assert.equal(await pg.readTimelineOrigin(), null, 'a timeline that is not a number');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
