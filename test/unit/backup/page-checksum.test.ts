/**
 * PostgreSQL's page checksum (src/backup/core/page-checksum.ts) against a real page: page 0 of
 * pg_database (global/1262) from an initdb --data-checksums of PostgreSQL 15, kept as a fixture.
 * Its stored pd_checksum must be what we compute; a flipped byte, another block number, and the
 * rules for new pages and pages written during the backup; which files are relation files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BLOCKS_PER_SEGMENT, pageChecksum, pageChecksumFails, pageLsn, pageRanges, relationFirstBlock } from '../../../src/backup/core/page-checksum.js';

const PAGE = readFileSync(fileURLToPath(new URL('../../../../test/unit/backup/fixtures/pg15-pg_database-page0.bin', import.meta.url)));

test('the checksum PostgreSQL 15 stored in a real page is the one computed; a flipped byte or another block number fails', () => {
  assert.equal(PAGE.length, 8192);
  const stored = PAGE.readUInt16LE(8);
  assert.equal(pageChecksum(PAGE, 0), stored);
  assert.equal(pageChecksumFails(PAGE, 0, 1n << 62n), false);
  const flipped = Buffer.from(PAGE);
  flipped[5000] = (flipped[5000] as number) ^ 0x01;
  assert.equal(pageChecksumFails(flipped, 0, 1n << 62n), true, 'a flipped bit in the data');
  assert.equal(pageChecksumFails(PAGE, 1, 1n << 62n), true, 'the same page at another block number');
  assert.ok(pageChecksum(PAGE, 0) >= 1 && pageChecksum(PAGE, 0) <= 65535, 'never zero');
});

test('not checked: a new page (pd_upper 0), a page written at or after the backup start, a short page', () => {
  assert.equal(pageChecksumFails(Buffer.alloc(8192), 0, 1n << 62n), false, 'all zeros');
  const flipped = Buffer.from(PAGE);
  flipped[5000] = (flipped[5000] as number) ^ 0x01;
  const lsn = pageLsn(PAGE);
  assert.equal(pageChecksumFails(flipped, 0, lsn), false, 'page LSN equal to the backup start: PostgreSQL may be writing it');
  assert.equal(pageChecksumFails(flipped, 0, lsn + 1n), true);
  assert.equal(pageChecksumFails(flipped.subarray(0, 4096), 0, 1n << 62n), false);
});

test('relation files and their first block; other files are not checked', () => {
  assert.equal(relationFirstBlock('base/16384/16385'), 0);
  assert.equal(relationFirstBlock('base/16384/16385.2'), 2 * BLOCKS_PER_SEGMENT);
  assert.equal(relationFirstBlock('base/1/1259_fsm'), 0);
  assert.equal(relationFirstBlock('base/1/1259_vm.1'), BLOCKS_PER_SEGMENT);
  assert.equal(relationFirstBlock('global/1262'), 0);
  assert.equal(relationFirstBlock('pg_tblspc/16400/PG_15_202209061/16384/16401'), 0);
  for (const other of [
    'global/pg_control',
    'global/pg_filenode.map',
    'base/1/PG_VERSION',
    'base/1/pg_internal.init',
    'pg_wal/000000010000000000000001',
    'base/16384/t3_16385',
  ])
    assert.equal(relationFirstBlock(other), null, other);
});

test('pages are listed as pgBackRest does: singles and runs', () => {
  assert.deepEqual(pageRanges([9, 3, 7, 8]), [3, [7, 9]]);
  assert.deepEqual(pageRanges([]), []);
});
