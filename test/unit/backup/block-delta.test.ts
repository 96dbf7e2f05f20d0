/**
 * Page deltas (core/block-delta.ts, frame-delta.ts, restore-chunk.ts): a page changed in a few
 * bytes is stored as its XOR with the prior backup's version of it and rebuilt exactly by
 * restore, in a worker thread too; a rewritten page stays a page; a base that reads wrong makes
 * the rebuilt page fail its hash (restore refuses), never restores wrong bytes. Randomized: the
 * seed is printed so a failure replays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeObject, blockCrc, blockHash, deriveKey } from '../../../src/backup/object-codec.js';
import { deltaWorthIt, xorBytes } from '../../../src/backup/core/block-delta.js';
import { BaseReader, deltaEncodeFrame, type DeltaCandidate } from '../../../src/backup/frame-delta.js';
import { EncodePool } from '../../../src/backup/encode-pool.js';
import { ChunkRestorer, type RestoreChunk } from '../../../src/backup/restore-chunk.js';
import { RestorePool } from '../../../src/backup/restore-pool.js';
import { validateManifest, type BlockRef, type DeltaBlockRef } from '../../../src/backup/core/manifest.js';
import { BlockRecords } from '../../../src/backup/core/block-records.js';
import type { CodecSettings } from '../../../src/backup/object-codec.js';
import { Prng } from '../../sim/prng.js';

const BLOCK = 8192;
const FULL_PACK = 'pack/20240115-140000F/000001.pack';
const INCR_PACK = 'pack/20240115-140000F_20240116-020000I/000001.pack';

/** A copy of `bytes` starting `offset` bytes into a fresh ArrayBuffer (so its alignment is known). */
function placedAt(bytes: Buffer, offset: number): Buffer {
  const placed = Buffer.from(new ArrayBuffer(bytes.length + 8), offset, bytes.length);
  bytes.copy(placed);
  return placed;
}

test('xor: 8-byte, 4-byte and unaligned buffers give the same bytes; a delta is worth it only when mostly zeros', () => {
  const a = randomBytes(BLOCK);
  const b = Buffer.from(a);
  b.fill(7, 100, 300);
  // each byte, xored by hand: the reference every alignment's path must match
  const expected = Buffer.from(a.map((byte, i) => byte ^ (b[i] as number)));
  const aligned = placedAt(Buffer.alloc(BLOCK), 0);
  xorBytes(placedAt(a, 0), placedAt(b, 0), aligned);
  assert.ok(aligned.equals(expected), '64-bit path');
  const wordAligned = placedAt(Buffer.alloc(BLOCK), 4);
  xorBytes(placedAt(a, 4), placedAt(b, 4), wordAligned);
  assert.ok(wordAligned.equals(expected), '32-bit path');
  const unaligned = placedAt(Buffer.alloc(BLOCK), 1);
  xorBytes(a, b, unaligned);
  assert.ok(unaligned.equals(expected), 'byte path');
  assert.equal(aligned.subarray(0, 100).every((x) => x === 0) && aligned.subarray(300).every((x) => x === 0), true);
  assert.equal(deltaWorthIt(aligned), true);
  const out = Buffer.alloc(BLOCK);
  xorBytes(a, randomBytes(BLOCK), out);
  assert.equal(deltaWorthIt(out), false, 'a rewritten page is stored as itself');
  assert.throws(() => xorBytes(a, b.subarray(1), out), /lengths/);
});

test('deltaWorthIt: word by word and byte by byte agree, at the threshold and around it', () => {
  const byHand = (xor: Uint8Array) => xor.filter((x) => x !== 0).length <= Math.floor(xor.length / 2);
  for (const length of [BLOCK, 4096, 12, 7]) {
    const half = Math.floor(length / 2);
    for (const nonZero of [0, 1, half - 1, half, half + 1, length]) {
      const xor = Buffer.alloc(length);
      // the non-zero bytes spread over words, some words with one, some with several
      for (let i = 0; i < nonZero; i++) xor[(i * 7919) % length] === 0 ? (xor[(i * 7919) % length] = 1 + (i % 255)) : (xor[xor.indexOf(0)] = 9);
      assert.equal(xor.filter((x) => x !== 0).length, nonZero);
      for (const offset of [0, 4, 1]) {
        const placed = placedAt(xor, offset);
        assert.equal(deltaWorthIt(placed), byHand(placed), `length ${length}, ${nonZero} non-zero, offset ${offset}`);
      }
    }
  }
});

/**
 * A "full" pack of pages and an "incr" frame of their changed versions, delta-encoded through the
 * encode pool (main thread or workers); returns the refs restore gets and the expected bytes.
 */
async function deltaFixture(seed: number, codec: CodecSettings, workers: number) {
  const random = new Prng(seed);
  const dir = await mkdtemp(join(tmpdir(), 'keel-block-delta-'));
  await mkdir(join(dir, 'pack', '20240115-140000F_20240116-020000I'), { recursive: true });
  await mkdir(join(dir, 'pack', '20240115-140000F'), { recursive: true });
  // the full: 8 pages, some compressible (like a heap page), some random
  const pages = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? Buffer.alloc(BLOCK, i + 1) : randomBytes(BLOCK)));
  const fullFrame = encodeObject(Buffer.concat(pages), codec, false);
  await writeFile(join(dir, FULL_PACK), fullFrame);
  const fullRef = (i: number): BlockRef => [blockHash(pages[i] as Buffer), 0, 0, fullFrame.length, i * BLOCK, BLOCK];
  // the incr: pages 0-5 changed in a few random bytes (deltas), 6 rewritten throughout (a page)
  const changed = pages.slice(0, 7).map((page, i) => {
    const next = Buffer.from(page);
    if (i === 6) return randomBytes(BLOCK);
    for (let n = 0, count = random.int(1, 200); n < count; n++) next[random.int(0, BLOCK - 1)] = random.int(0, 255);
    next.writeUInt32LE(seed + i, 0); // never the same page as before
    return next;
  });
  const plain = Buffer.concat(changed);
  const candidates: DeltaCandidate[] = changed.map((_, i) => ({
    offset: i * BLOCK,
    length: BLOCK,
    base: { pack: FULL_PACK, frameOffset: 0, frameStoredBytes: fullFrame.length, offsetInFrame: i * BLOCK },
  }));
  const literalBytes = encodeObject(plain, codec, false).length; // before encoding: on the main thread it rewrites `plain` in place
  const pool = new EncodePool(workers, dir);
  pool.useCodec(codec);
  let encoded: Buffer;
  let deltas: boolean[];
  try {
    ({ encoded, deltas } = await pool.encode(plain, candidates));
  } finally {
    await pool.close();
  }
  await writeFile(join(dir, INCR_PACK), encoded);
  const refs: BlockRef[] = changed.map((page, i) => {
    const literal: BlockRef = [blockHash(page), 1, 0, encoded.length, i * BLOCK, BLOCK];
    return deltas[i] === true ? ([...literal, 0, 0, fullFrame.length, i * BLOCK] as DeltaBlockRef) : literal;
  });
  refs.push(fullRef(7)); // an unchanged page, referenced from the full
  return { dir, refs, deltas, expected: Buffer.concat([...changed, pages[7] as Buffer]), literalBytes, encodedBytes: encoded.length };
}

function chunkOf(path: string, refs: BlockRef[], crcs: number[] | null = null): RestoreChunk {
  const records = BlockRecords.fromRefs(refs, crcs).bytes;
  const bytes = refs.reduce((sum, ref) => sum + ref[5], 0);
  return {
    path,
    relativePath: 'base/5/16384',
    mode: 0o600,
    firstBlock: 0,
    fileOffset: 0,
    records,
    crc32Recorded: crcs !== null,
    bytes,
    delta: false,
    changed: true,
    mtimeMs: null,
  };
}

for (const [name, workers, encrypted] of [
  ['on the main thread', 1, false],
  ['in worker threads, encrypted', 2, true],
] as const) {
  test(`pages changed in a few bytes become deltas and restore rebuilds them exactly (${name})`, async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const key = encrypted ? deriveKey('delta test', Buffer.alloc(16, 1)) : null;
    const codec: CodecSettings = { compressType: 'zst', compressLevel: 3, key };
    const { dir, refs, deltas, expected, literalBytes, encodedBytes } = await deltaFixture(seed, codec, workers);
    try {
      assert.deepEqual(deltas, [true, true, true, true, true, true, false], `seed ${seed}: six deltas, the rewritten page stored as itself`);
      assert.ok(encodedBytes < literalBytes, `seed ${seed}: deltas are smaller (${encodedBytes} < ${literalBytes} bytes)`);
      const pool = new RestorePool(dir, key, workers);
      pool.usePacks([FULL_PACK, INCR_PACK]);
      try {
        await pool.run([chunkOf(join(dir, 'restored'), refs)], () => undefined);
      } finally {
        await pool.close();
      }
      assert.ok((await readFile(join(dir, 'restored'))).equals(expected), `seed ${seed}: restored bytes equal the changed pages`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('a delta over the wrong base fails its hash or its CRC-32: restore refuses it, nothing wrong is written', async () => {
  const { dir, refs, expected } = await deltaFixture(7, { compressType: 'zst', compressLevel: 3, key: null }, 1);
  const restorer = new ChunkRestorer(dir, [FULL_PACK, INCR_PACK], null);
  try {
    const wrong = refs.map((ref): BlockRef => [...ref]);
    (wrong[2] as DeltaBlockRef)[9] = 3 * BLOCK; // page 2's delta applied over page 3
    assert.ok(blockCrc !== null, 'zlib.crc32 (Node >= 20.15)');
    const crc = blockCrc;
    const crcs = refs.map((_, i) => crc(expected.subarray(i * BLOCK, (i + 1) * BLOCK)));
    for (const [name, recorded] of [
      ['wrong', null],
      ['wrong-crc', crcs],
    ] as const) {
      const target = join(dir, name);
      await assert.rejects(
        restorer.restore(chunkOf(target, wrong, recorded)),
        /^KeelError: block 2 of base\/5\/16384 .* block checksum mismatch; restore refused$/,
      );
      assert.equal((await readFile(target)).length, 0, 'nothing of the chunk was written');
    }
    await restorer.restore(chunkOf(join(dir, 'right-crc'), refs, crcs));
    assert.ok((await readFile(join(dir, 'right-crc'))).equals(expected), 'with the right base, the CRC-32s pass');
  } finally {
    await restorer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a base that cannot be read is an error naming the pack, not a silent page', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-block-delta-'));
  try {
    await mkdir(join(dir, 'pack', '20240115-140000F'), { recursive: true });
    const frame = encodeObject(Buffer.alloc(BLOCK, 1), { compressType: 'zst', compressLevel: 3, key: null }, false);
    await writeFile(join(dir, FULL_PACK), frame.subarray(0, frame.length - 3));
    const bases = new BaseReader(dir, null);
    const candidate: DeltaCandidate = { offset: 0, length: BLOCK, base: { pack: FULL_PACK, frameOffset: 0, frameStoredBytes: frame.length, offsetInFrame: 0 } };
    assert.throws(() => deltaEncodeFrame(Buffer.alloc(BLOCK, 2), [candidate], bases), /pack\/20240115-140000F\/000001\.pack is truncated/);
    bases.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('manifest: a delta reference needs format 3 and a listed base pack', () => {
  const delta: DeltaBlockRef = ['h', 1, 0, 10, 0, BLOCK, 0, 0, 10, 0];
  const manifest = {
    format: 3,
    label: 'x',
    type: 'incr',
    startTime: '',
    stopTime: '',
    walStart: '',
    walStop: '',
    lsnStart: '',
    lsnStop: '',
    dbId: 1,
    packs: [FULL_PACK, INCR_PACK],
    dirs: [],
    tablespaces: [],
    files: [{ path: 'base/1/1', mode: 0o600, mtimeMs: 0, size: BLOCK, blocks: [delta] }],
  };
  assert.equal(validateManifest(manifest).files[0]?.blocks[0]?.length, 10);
  assert.throws(() => validateManifest({ ...manifest, format: 2 }), /malformed block reference/);
  assert.throws(
    () =>
      validateManifest({
        ...manifest,
        packs: [INCR_PACK, INCR_PACK].slice(0, 2),
        files: [{ ...manifest.files[0], blocks: [['h', 1, 0, 10, 0, BLOCK, 5, 0, 10, 0]] }],
      }),
    /not listed/,
  );
  assert.throws(() => validateManifest({ ...manifest, format: 6 }), /format 6 is not one this keel reads/);
});
