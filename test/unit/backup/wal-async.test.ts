/**
 * Pieces of asynchronous archiving that need no server: the segment after a segment (what the
 * archive-get worker prefetches, across the 256-segments-per-log-id boundary) and pgBackRest's
 * size option type (archive-get-queue-max=1GiB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSegmentName } from '../../../src/backup/core/wal.js';
import { convertOption } from '../../../src/config/pgbackrest.js';
import { ConfigError } from '../../../src/errors.js';

test('the next segment stays on its timeline and carries into the next log id', () => {
  assert.equal(nextSegmentName('000000010000000000000001'), '000000010000000000000002');
  assert.equal(nextSegmentName('00000002000000000000000F'), '000000020000000000000010');
  assert.equal(nextSegmentName('0000000300000001000000FF'), '000000030000000200000000');
});

test('sizes take power-of-1024 suffixes as pgBackRest does; anything else is a one-line error', () => {
  assert.equal(convertOption('archive-get-queue-max', '128MiB', 'test'), 128 * 1024 * 1024);
  assert.equal(convertOption('archive-get-queue-max', '1GB', 'test'), 1024 ** 3);
  assert.equal(convertOption('archive-get-queue-max', '4096', 'test'), 4096);
  assert.equal(convertOption('archive-get-queue-max', '2kb', 'test'), 2048);
  assert.throws(
    () => convertOption('archive-get-queue-max', 'lots', 'option --archive-get-queue-max'),
    (error: unknown) => {
      return (
        error instanceof ConfigError &&
        error.message === "option --archive-get-queue-max: invalid value 'lots' for option 'archive-get-queue-max' (a size such as 128MiB)"
      );
    },
  );
});
