/**
 * Delta-encodes a frame before it is compressed: each new block that has a previous version in
 * the backup taken against (a candidate) is replaced in the frame by its XOR with that version
 * when the XOR is mostly zeros (core/block-delta.ts). The previous versions are read back from
 * the repository's packs — committed, fsynced packs of earlier backups, never the one being
 * written — with a small cache of decoded frames, since consecutive changed pages of a file sit
 * in the same frames. Runs in the encode workers (process-max) or on the main thread; reads are
 * synchronous (a worker has nothing else to do meanwhile).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { CorruptObjectError, decodeFrame } from './object-codec.js';
import { deltaWorthIt, xorBytes } from './core/block-delta.js';
import type { BaseLocation } from './core/manifest.js';

/** A block of the frame that may be stored as a delta over `base`. */
export interface DeltaCandidate {
  /** Byte offset of the block in the frame's plain bytes. */
  offset: number;
  length: number;
  base: BaseLocation;
}

const DECODED_FRAMES_MAX = 32;
const OPEN_PACKS_MAX = 16;

/** Reads stored pages (the bases of deltas) from packs, keeping recently decoded frames. */
export class BaseReader {
  private readonly frames = new Map<string, Buffer>();
  private readonly packs = new Map<string, number>();

  constructor(
    private readonly stanzaDir: string,
    private readonly key: Buffer | null,
  ) {}

  /** The plain bytes of the stored page at `base` (`length` bytes). */
  read(base: BaseLocation, length: number): Buffer {
    const key = `${base.pack}@${base.frameOffset}`;
    let frame = this.frames.get(key);
    if (frame === undefined) {
      frame = this.decode(base);
      if (this.frames.size >= DECODED_FRAMES_MAX) this.frames.delete(this.frames.keys().next().value as string);
    } else this.frames.delete(key); // re-inserted below: the most recently used is last
    this.frames.set(key, frame);
    if (base.offsetInFrame + length > frame.length)
      throw new KeelError('backup.block_corrupt', `${base.pack} at ${base.frameOffset}: a base page lies outside its frame`);
    return frame.subarray(base.offsetInFrame, base.offsetInFrame + length);
  }

  private decode(base: BaseLocation): Buffer {
    let fd = this.packs.get(base.pack);
    if (fd === undefined) {
      if (this.packs.size >= OPEN_PACKS_MAX) this.close();
      fd = openSync(join(this.stanzaDir, base.pack), 'r');
      this.packs.set(base.pack, fd);
    }
    const stored = Buffer.allocUnsafe(base.frameStoredBytes);
    const bytesRead = readSync(fd, stored, 0, stored.length, base.frameOffset);
    if (bytesRead !== stored.length) throw new KeelError('backup.block_corrupt', `${base.pack} is truncated (at ${base.frameOffset})`);
    try {
      return decodeFrame(stored, this.key, (bytes) => Buffer.allocUnsafeSlow(bytes));
    } catch (error) {
      if (error instanceof CorruptObjectError) throw new KeelError('backup.block_corrupt', `${base.pack} at ${base.frameOffset}: ${error.message}`);
      throw error;
    }
  }

  close(): void {
    for (const fd of this.packs.values()) closeSync(fd);
    this.packs.clear();
    this.frames.clear();
  }
}

/**
 * Replaces, in `plain`, each candidate block whose XOR with its base is worth storing by that
 * XOR; returns which candidates were replaced (in order). A block whose base cannot be read is
 * an error: the prior backup's packs are damaged, and verify should say so before a new backup
 * leans on them.
 */
export function deltaEncodeFrame(plain: Buffer, candidates: readonly DeltaCandidate[], bases: BaseReader): boolean[] {
  // one scratch buffer for every candidate's XOR (a kept delta is copied back into the frame)
  const xor = Buffer.allocUnsafe(Math.max(0, ...candidates.map((c) => c.length)));
  return candidates.map((candidate) => {
    const block = plain.subarray(candidate.offset, candidate.offset + candidate.length);
    const out = xor.subarray(0, candidate.length);
    xorBytes(block, bases.read(candidate.base, candidate.length), out);
    if (!deltaWorthIt(out)) return false;
    out.copy(block);
    return true;
  });
}
