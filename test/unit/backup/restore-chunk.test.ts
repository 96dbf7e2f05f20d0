/**
 * Restoring chunks (restore-chunk.ts, restore-pool.ts) on a small hand-made pack: the chunks of
 * one file restored by two worker threads at once give the file's exact bytes; with delta only
 * the blocks that differ are written; a flipped byte in a frame or a block whose hash does not
 * match is a one-line KeelError naming the file and block, and the chunk stops there; with the
 * manifest's CRC-32s (format 4) a block is checked by its CRC-32 instead, and a wrong one is
 * refused the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeObject, blockCrc, blockHash } from '../../../src/backup/object-codec.js';
import { ChunkRestorer, type RestoreChunk } from '../../../src/backup/restore-chunk.js';
import { RestorePool } from '../../../src/backup/restore-pool.js';
import { KeelError } from '../../../src/errors.js';
import type { BlockRef } from '../../../src/backup/core/manifest.js';
import { BlockRecords } from '../../../src/backup/core/block-records.js';

const BLOCK = 8192;
const PACK = 'pack/20240115-140000F/000001.pack';

/** A pack of 3 frames of 4 blocks each, and a file of 14 blocks that reuses some out of order. */
async function fixture(): Promise<{ dir: string; refs: BlockRef[]; content: Buffer; crcs: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-restore-chunk-'));
  await mkdir(join(dir, 'pack', '20240115-140000F'), { recursive: true });
  const blocks = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? Buffer.alloc(BLOCK, i) : randomBytes(BLOCK)));
  const frames: Buffer[] = [];
  const located: BlockRef[] = [];
  let offset = 0;
  for (let f = 0; f < 3; f++) {
    const plain = Buffer.concat(blocks.slice(f * 4, f * 4 + 4));
    const encoded = encodeObject(plain, { compressType: 'zst', compressLevel: 3, key: null }, false);
    for (let b = 0; b < 4; b++) located.push([blockHash(blocks[f * 4 + b] as Buffer), 0, offset, encoded.length, b * BLOCK, BLOCK]);
    frames.push(encoded);
    offset += encoded.length;
  }
  await writeFile(join(dir, PACK), Buffer.concat(frames));
  const order = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2, 0];
  const refs = order.map((i) => located[i] as BlockRef);
  return { dir, refs, content: Buffer.concat(order.map((i) => blocks[i] as Buffer)), crcs: order.map((i) => crc(blocks[i] as Buffer)) };
}

function crc(block: Buffer): number {
  assert.ok(blockCrc !== null, 'zlib.crc32 (Node >= 20.15)');
  return blockCrc(block);
}

function chunksOf(path: string, refs: BlockRef[], perChunk: number, delta: boolean, crcs: number[] | null = null): RestoreChunk[] {
  const chunks: RestoreChunk[] = [];
  for (let first = 0; first < refs.length; first += perChunk) {
    chunks.push({
      path,
      relativePath: 'base/5/16384',
      mode: 0o600,
      firstBlock: first,
      fileOffset: first * BLOCK,
      records: BlockRecords.fromRefs(refs, crcs).copy(first, first + perChunk),
      crc32Recorded: crcs !== null,
      bytes: refs.slice(first, first + perChunk).reduce((sum, ref) => sum + ref[5], 0),
      delta,
      changed: !delta,
      mtimeMs: null,
    });
  }
  return chunks;
}

test('the chunks of one file restored by two worker threads at once give its exact bytes, checked by SHA-256 or CRC-32', async () => {
  const { dir, refs, content, crcs } = await fixture();
  const pool = new RestorePool(dir, null, 2);
  pool.usePacks([PACK]);
  try {
    for (const [name, recorded] of [
      ['restored', null],
      ['restored-crc', crcs],
    ] as const) {
      const target = join(dir, name);
      let written = 0;
      await pool.run(chunksOf(target, refs, 3, false, recorded), (_chunk, outcome) => (written += outcome.writtenBytes));
      assert.equal(written, content.length);
      assert.ok((await readFile(target)).equals(content), 'restored bytes equal the backed-up file');
      assert.equal((await stat(target)).mode & 0o777, 0o600);
    }
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('delta writes only the blocks that differ and leaves the others untouched', async () => {
  const { dir, refs, content } = await fixture();
  const restorer = new ChunkRestorer(dir, [PACK], null);
  try {
    const target = join(dir, 'existing');
    const damaged = Buffer.from(content);
    damaged.fill(0x5a, 5 * BLOCK, 5 * BLOCK + 100);
    damaged.fill(0x5a, 13 * BLOCK + 8000, 14 * BLOCK);
    await writeFile(target, damaged);
    let written = 0;
    for (const chunk of chunksOf(target, refs, 4, true)) written += (await restorer.restore(chunk)).writtenBytes;
    assert.equal(written, 2 * BLOCK, 'two blocks rewritten');
    assert.ok((await readFile(target)).equals(content));
    const again = await restorer.restore(chunksOf(target, refs, 14, true)[0] as RestoreChunk);
    assert.deepEqual(again, { writtenBytes: 0, timed: false, dirty: false }, 'nothing to do the second time');
  } finally {
    await restorer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flipped byte in a frame or a block whose hash differs: a KeelError naming file and block, in a worker too', async () => {
  const { dir, refs } = await fixture();
  const pack = await readFile(join(dir, PACK));
  const secondFrame = (refs[4] as BlockRef)[2];
  pack[secondFrame + 30] = (pack[secondFrame + 30] ?? 0) ^ 0x01;
  await writeFile(join(dir, PACK), pack);
  const pool = new RestorePool(dir, null, 2);
  pool.usePacks([PACK]);
  try {
    await assert.rejects(
      pool.run(chunksOf(join(dir, 'r1'), refs, 4, false), () => undefined),
      (error: unknown) => {
        assert.ok(error instanceof KeelError, String(error));
        assert.equal(error.code, 'backup.block_corrupt');
        assert.match(error.message, /^block 4 of base\/5\/16384 \(pack\/20240115-140000F\/000001\.pack at \d+\) is corrupt: .*; restore refused$/);
        return true;
      },
    );
  } finally {
    await pool.close();
  }
  const restorer = new ChunkRestorer(dir, [PACK], null);
  try {
    const wrongHash = refs.slice(0, 2).map((ref): BlockRef => [...ref]);
    (wrongHash[1] as BlockRef)[0] = blockHash(Buffer.alloc(BLOCK, 99));
    const target = join(dir, 'r2');
    await assert.rejects(
      restorer.restore(chunksOf(target, wrongHash, 2, false)[0] as RestoreChunk),
      /^KeelError: block 1 of base\/5\/16384 .* block checksum mismatch; restore refused$/,
    );
    assert.equal((await stat(target)).size, 0, 'nothing of the chunk was written');
  } finally {
    await restorer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('with CRC-32s recorded, a block is checked by its CRC-32: a wrong one is refused, nothing of the chunk written', async () => {
  const { dir, refs, crcs, content } = await fixture();
  const restorer = new ChunkRestorer(dir, [PACK], null);
  try {
    const wrongCrc = [...crcs];
    wrongCrc[1] = ((wrongCrc[1] as number) ^ 1) >>> 0;
    const target = join(dir, 'r3');
    await assert.rejects(
      restorer.restore(chunksOf(target, refs.slice(0, 2), 2, false, wrongCrc.slice(0, 2))[0] as RestoreChunk),
      /^KeelError: block 1 of base\/5\/16384 .* block checksum mismatch; restore refused$/,
    );
    assert.equal((await stat(target)).size, 0, 'nothing of the chunk was written');
    // the CRC-32 is what is checked: a reference whose recorded SHA-256 is off still restores its (right) bytes
    const offHash = refs.map((ref): BlockRef => [...ref]);
    (offHash[1] as BlockRef)[0] = blockHash(Buffer.alloc(BLOCK, 99));
    const good = join(dir, 'r4');
    for (const chunk of chunksOf(good, offHash, 5, false, crcs)) await restorer.restore(chunk);
    assert.ok((await readFile(good)).equals(content));
  } finally {
    await restorer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * 300 pages stored as deltas against 4 base blocks: more rebuilt pages than the 1 MiB slab they
 * are rebuilt in holds (128), so the slab is flushed and reused mid-run; and, restored with
 * delta over a file where every other page is already right, a write run breaks at every page.
 */
async function deltaFixture(): Promise<{ dir: string; refs: BlockRef[]; content: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-restore-slab-'));
  await mkdir(join(dir, 'pack', '20240115-140000F'), { recursive: true });
  const bases = Array.from({ length: 4 }, () => randomBytes(BLOCK));
  const baseFrame = encodeObject(Buffer.concat(bases), { compressType: 'zst', compressLevel: 3, key: null }, false);
  const pages = Array.from({ length: 300 }, () => randomBytes(BLOCK));
  const frames: Buffer[] = [baseFrame];
  const refs: BlockRef[] = [];
  let offset = baseFrame.length;
  for (let first = 0; first < pages.length; first += 16) {
    const group = pages.slice(first, first + 16);
    const deltas = group.map((page, i) => {
      const base = bases[(first + i) % 4] as Buffer;
      return Buffer.from(page.map((byte, k) => byte ^ (base[k] as number)));
    });
    const encoded = encodeObject(Buffer.concat(deltas), { compressType: 'zst', compressLevel: 3, key: null }, false);
    group.forEach((page, i) =>
      refs.push([blockHash(page), 0, offset, encoded.length, i * BLOCK, BLOCK, 0, 0, baseFrame.length, ((first + i) % 4) * BLOCK] as unknown as BlockRef),
    );
    frames.push(encoded);
    offset += encoded.length;
  }
  await writeFile(join(dir, PACK), Buffer.concat(frames));
  return { dir, refs, content: Buffer.concat(pages) };
}

test('pages rebuilt from deltas, more than one slab of them: exact bytes, whole and with delta over every other page', async () => {
  const { dir, refs, content } = await deltaFixture();
  const restorer = new ChunkRestorer(dir, [PACK], null);
  try {
    const whole = join(dir, 'whole');
    for (const chunk of chunksOf(whole, refs, 300, false)) await restorer.restore(chunk);
    assert.ok((await readFile(whole)).equals(content), 'a file of delta pages restored whole');
    const patched = join(dir, 'patched');
    const existing = Buffer.from(content);
    for (let page = 0; page < 300; page += 2) existing.fill(0, page * BLOCK, (page + 1) * BLOCK);
    await writeFile(patched, existing);
    let written = 0;
    for (const chunk of chunksOf(patched, refs, 300, true)) written += (await restorer.restore(chunk)).writtenBytes;
    assert.equal(written, 150 * BLOCK);
    assert.ok((await readFile(patched)).equals(content), 'every other page rewritten in place');
  } finally {
    await restorer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('with process-max 1 the event loop turns between chunks, so the background fsyncs of finished files go on meanwhile', async () => {
  const { dir, refs, content } = await fixture();
  const pool = new RestorePool(dir, null, 1);
  pool.usePacks([PACK]);
  try {
    const target = join(dir, 'local');
    // what the restore's fsyncs need: a callback of the event loop, run while chunks remain
    let turned = false;
    const seenBetween: boolean[] = [];
    await pool.run(chunksOf(target, refs, 2, false), () => {
      seenBetween.push(turned);
      turned = false;
      setImmediate(() => (turned = true));
    });
    assert.equal(seenBetween.length, 7);
    assert.deepEqual(seenBetween.slice(1), [true, true, true, true, true, true], 'a turn of the loop before every next chunk');
    assert.ok((await readFile(target)).equals(content));
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
