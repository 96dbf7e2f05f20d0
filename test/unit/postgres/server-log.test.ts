/**
 * The server log, read for what SQL does not tell: commits made visible without the synchronous
 * replication they waited for (issue 9 item 6), read incrementally, complete lines only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countLocalOnlyCommits } from '../../../src/postgres/server-log.js';
import { PostgresInstance } from '../../../src/postgres/instance.js';

// What PostgreSQL 15 logs when a client cancels, and when a backend is terminated, during the wait.
const CANCELLED = `2026-12-02 03:30:00.123 UTC [4242] WARNING:  canceling wait for synchronous replication due to user request
2026-12-02 03:30:00.123 UTC [4242] DETAIL:  The transaction has already committed locally, but might not have been replicated to the standby.
`;
const TERMINATED = `2026-12-02 03:30:01.000 UTC [4243] WARNING:  canceling the wait for synchronous replication and terminating connection due to administrator command
2026-12-02 03:30:01.000 UTC [4243] DETAIL:  The transaction has already committed locally, but might not have been replicated to the standby.
`;

test('commits made visible without their synchronous replication are counted from the DETAIL line', () => {
  assert.equal(countLocalOnlyCommits(''), 0);
  assert.equal(countLocalOnlyCommits('LOG:  database system is ready to accept connections\n'), 0);
  assert.equal(countLocalOnlyCommits(CANCELLED), 1);
  assert.equal(countLocalOnlyCommits(CANCELLED + TERMINATED + CANCELLED), 3);
});

test('the server log is read from where the last read stopped, complete lines only; a recreated log from its start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-serverlog-'));
  try {
    const logFile = join(dir, 'postgresql.log');
    const instance = new PostgresInstance({ dataDir: join(dir, 'data'), configDir: join(dir, 'data'), binDir: '', logFile });
    await writeFile(logFile, 'old line\n');
    const start = await instance.serverLogSince(null, 1 << 20);
    assert.deepEqual(start, { text: '', end: 9 }, 'the first read skips what was there before');
    await appendFile(logFile, CANCELLED + 'a line still being writ');
    const next = await instance.serverLogSince(start.end, 1 << 20);
    assert.equal(countLocalOnlyCommits(next.text), 1);
    assert.ok(!next.text.includes('still being'), 'an incomplete line waits for the next read');
    await appendFile(logFile, 'ten\n');
    const rest = await instance.serverLogSince(next.end, 1 << 20);
    assert.equal(rest.text, 'a line still being written\n');
    await writeFile(logFile, TERMINATED);
    const recreated = await instance.serverLogSince(rest.end + 1000, 1 << 20);
    assert.equal(countLocalOnlyCommits(recreated.text), 1, 'a log shorter than the offset is read from its start');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
