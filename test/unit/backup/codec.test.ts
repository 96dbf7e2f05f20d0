/**
 * Stored objects (object-codec.ts): every compression and cipher round-trips, and a flipped byte,
 * a truncated object or a wrong key is an error, never wrong data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeObject, decodeObject, decodeFrame, deriveKey, blockHash, CorruptObjectError, type CompressType } from '../../../src/backup/object-codec.js';
import { recoveryLines, rewriteAutoConf } from '../../../src/backup/recovery-settings.js';

const page = Buffer.concat([Buffer.alloc(4096, 7), randomBytes(4096)]);
const key = deriveKey('passphrase', Buffer.alloc(16, 1));

test('every compression type round-trips, with and without encryption, checked by hash or header', () => {
  for (const compressType of ['none', 'gz', 'zst'] as CompressType[]) {
    for (const cipherKey of [null, key]) {
      const settings = { compressType, compressLevel: null, key: cipherKey };
      assert.deepEqual(decodeObject(encodeObject(page, settings, false), cipherKey, blockHash(page)), page);
      assert.deepEqual(decodeObject(encodeObject(page, settings, true), cipherKey), page);
    }
  }
  const zst = encodeObject(Buffer.alloc(8192), { compressType: 'zst', compressLevel: 3, key: null }, false);
  assert.ok(zst.length < 100, `an empty page compresses (${zst.length} bytes)`);
});

test('a flipped byte, a truncated object, a wrong or missing key: CorruptObjectError', () => {
  const settings = { compressType: 'zst' as const, compressLevel: null, key };
  const stored = encodeObject(page, settings, true);
  const flipped = Buffer.from(stored);
  flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 0x40;
  assert.throws(() => decodeObject(flipped, key), CorruptObjectError);
  assert.throws(() => decodeObject(stored.subarray(0, stored.length - 7), key), CorruptObjectError);
  assert.throws(() => decodeObject(stored, deriveKey('wrong', Buffer.alloc(16, 1))), CorruptObjectError);
  assert.throws(() => decodeObject(stored, null), /no repo1-cipher-pass/);
  const plainBlock = encodeObject(page, { compressType: 'none', compressLevel: null, key: null }, false);
  plainBlock[100] = (plainBlock[100] ?? 0) ^ 1;
  assert.throws(() => decodeObject(plainBlock, null, blockHash(page)), /block checksum mismatch/);
  assert.throws(() => decodeObject(Buffer.from('garbage'), null), /bad header/);
});

test('recovery settings: restore_command and the target, earlier recovery lines commented out', () => {
  const lines = recoveryLines('keel backup archive-get %f "%p" --stanza=\'x\'', {
    type: 'time',
    target: '2024-01-15 14:00:00+00',
    targetAction: 'promote',
    targetExclusive: true,
    targetTimeline: null,
  });
  assert.deepEqual(lines, [
    "restore_command = 'keel backup archive-get %f \"%p\" --stanza=''x'''",
    "recovery_target_time = '2024-01-15 14:00:00+00'",
    "recovery_target_action = 'promote'",
    "recovery_target_inclusive = 'false'",
  ]);
  assert.deepEqual(recoveryLines('c', { type: 'default', target: null, targetAction: 'promote', targetExclusive: false, targetTimeline: null }), [
    "restore_command = 'c'",
  ]);
  const text = rewriteAutoConf("work_mem = '4MB'\nrestore_command = 'old'\n", ["restore_command = 'new'"], 'L');
  assert.equal(
    text,
    "work_mem = '4MB'\n# Removed by keel restore L: restore_command = 'old'\n# Recovery settings written by keel restore (backup L)\nrestore_command = 'new'\n",
  );
});

test('decodeFrame decodes every compression into the buffer it is given, never a view of the stored bytes', () => {
  for (const compressType of ['none', 'gz', 'zst'] as CompressType[]) {
    for (const cipherKey of [null, key]) {
      const stored = encodeObject(page, { compressType, compressLevel: null, key: cipherKey }, false);
      const given = Buffer.alloc(64 * 1024);
      const plain = decodeFrame(stored, cipherKey, () => given);
      assert.deepEqual(plain, page, `${compressType}${cipherKey === null ? '' : ' encrypted'}`);
      if (compressType !== 'gz') assert.equal(plain.buffer, given.buffer, `${compressType}: decoded into the given buffer`);
      stored.fill(0);
      assert.deepEqual(plain, page, `${compressType}: the result survives the reuse of the stored bytes`);
    }
  }
  // a damaged zstd frame header (its magic number, after keel's 8-byte header) does not decode; damaged data is caught by the blocks' hashes
  const flipped = encodeObject(page, { compressType: 'zst', compressLevel: null, key: null }, false);
  flipped[8] = (flipped[8] ?? 0) ^ 0x10;
  assert.throws(() => decodeFrame(flipped, null, (bytes) => Buffer.alloc(bytes)), CorruptObjectError);
});
