/**
 * Page checksums during a backup, on a real PostgreSQL 15 with data checksums: a byte flipped on
 * disk in one page of a table (PostgreSQL still holds the good page in its buffers, as when a disk
 * corrupts a page nobody read since) is reported by file and page, the backup still completes,
 * and `info` shows the error in text and JSON. A clean backup shows none.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, infoStanza, type BackupLab } from './standalone-postgres.js';

let lab: BackupLab;

before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

interface InfoBackup {
  label: string;
  error: boolean;
  'error-list': { file: string; pages: (number | [number, number])[] }[];
}

async function backups(): Promise<InfoBackup[]> {
  return (await infoStanza<{ backup: InfoBackup[] }>(lab)).backup;
}

test('a corrupted page is named by file and page, the backup completes, info shows it', { timeout: 180_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  await lab.source.query('CREATE TABLE pages (id int, filler text)');
  await lab.source.query("INSERT INTO pages SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");
  await lab.source.query('CHECKPOINT');
  const clean = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.doesNotMatch(clean.stdout + clean.stderr, /invalid page checksum/);
  assert.deepEqual(
    (await backups()).map((b) => b.error),
    [false],
  );

  const [row] = await lab.source.query<{ path: string }>("SELECT pg_relation_filepath('pages') AS path");
  assert.ok(row !== undefined);
  // Flip a byte in the middle of page 2 on disk; the page stays unread (its good copy is in shared buffers).
  const file = await open(join(lab.source.dataDir, row.path), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 2 * 8192 + 4000);
    byte[0] = (byte[0] as number) ^ 0xff;
    await file.write(byte, 0, 1, 2 * 8192 + 4000);
  } finally {
    await file.close();
  }

  const corrupt = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(corrupt.code, 0, `the backup must complete: ${corrupt.stderr}`);
  assert.match(corrupt.stdout + corrupt.stderr, new RegExp(`WARN: invalid page checksums found in file .*${row.path} at pages 2\\b`));
  const [first, second] = await backups();
  assert.equal(first?.error, false);
  assert.equal(second?.error, true);
  assert.deepEqual(second?.['error-list'], [{ file: row.path, pages: [2] }]);
  const text = await lab.keel(['info']);
  assert.match(text.stdout, new RegExp(`error list: invalid page checksums in ${row.path} \\(page 2\\)`));
});
