/**
 * A file's block references packed as fixed-size binary records (manifest format 5), instead of
 * one JSON array per block. A scale-50 database has 100,000 blocks: as arrays, its manifest took
 * JSON.parse 120-175 ms (one array and one hash string allocated per block) before a restore
 * wrote anything, and each restore chunk crossed to its worker thread as 2,048 arrays to clone.
 * As records, a file's blocks are one base64 string to parse, and a chunk is one byte array.
 * Pure: layout, encoding, accessors and the structural check.
 *
 * Record layout (RECORD_BYTES, integers unsigned 32-bit little-endian):
 *
 * | offset | field |
 * |---|---|
 * | 0 | SHA-256 of the block's plain bytes (32 bytes; the manifest's base64url `hash`) |
 * | 32 | CRC-32 of the plain bytes (0 when the file records none) |
 * | 36 | pack index, 40 frame offset, 44 frame stored bytes, 48 offset in frame, 52 plain bytes |
 * | 56 | base pack index (NO_BASE: the block is stored as itself, not as a delta) |
 * | 60 | base frame offset, 64 base frame stored bytes, 68 base offset in frame (0 without a base) |
 */
import type { BlockRef, DeltaBlockRef } from './manifest.js';

export const RECORD_BYTES = 72;
const HASH_BYTES = 32;
/** The base pack index of a block stored as itself. */
const NO_BASE = 0xffff_ffff;
const CRC = 32;
const PACK = 36;
const FRAME_OFFSET = 40;
const FRAME_STORED = 44;
const OFFSET_IN_FRAME = 48;
const PLAIN_BYTES = 52;
const BASE_PACK = 56;
const BASE_FRAME_OFFSET = 60;
const BASE_FRAME_STORED = 64;
const BASE_OFFSET_IN_FRAME = 68;

const RECORD_WORDS = RECORD_BYTES / 4;
/**
 * The fields are read as a Uint32Array, in the machine's byte order (a restore reads 100,000
 * records a few times each, and typed array indexing is several times a DataView call's speed
 * before the JIT has warmed up): so only on a little-endian machine, as every one Node runs on
 * in practice.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Read access to packed records (a view: the bytes are not copied, unless misaligned). */
export class BlockRecords {
  readonly count: number;
  readonly bytes: Uint8Array;
  private readonly words: Uint32Array;

  constructor(bytes: Uint8Array) {
    if (!LITTLE_ENDIAN) throw new Error('keel backup needs a little-endian machine');
    if (bytes.byteLength % RECORD_BYTES !== 0)
      throw new Error(`block records of ${bytes.byteLength} bytes are not a whole number of ${RECORD_BYTES}-byte records`);
    this.bytes = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (a Buffer's slice is a view)
    this.count = bytes.byteLength / RECORD_BYTES;
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength / 4);
  }

  /** Packs references (and their CRC-32s, null when the file records none) into records. */
  static fromRefs(refs: readonly BlockRef[], crcs: readonly number[] | null): BlockRecords {
    const records = new BlockRecords(new Uint8Array(refs.length * RECORD_BYTES));
    refs.forEach((ref, i) => records.set(i, ref, crcs?.[i] ?? 0));
    return records;
  }

  /** Base64 of the records: a format 5 manifest's `blockRecords`. */
  static parse(text: string): BlockRecords {
    return new BlockRecords(Buffer.from(text, 'base64'));
  }

  toString(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('base64');
  }

  /** Records first..end as a copy with an ArrayBuffer of its own (what a worker message carries: a view would clone the whole buffer). */
  copy(first: number, end: number): Uint8Array {
    // not bytes.slice: on a Buffer (records parsed from base64) that is a view too
    return new Uint8Array(this.bytes.subarray(first * RECORD_BYTES, Math.min(end, this.count) * RECORD_BYTES));
  }

  /** Base64url SHA-256 of block i's plain bytes (BlockRef's hash). */
  hash(i: number): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + i * RECORD_BYTES, HASH_BYTES).toString('base64url');
  }

  crc(i: number): number {
    return this.u32(i, CRC);
  }
  pack(i: number): number {
    return this.u32(i, PACK);
  }
  frameOffset(i: number): number {
    return this.u32(i, FRAME_OFFSET);
  }
  frameStoredBytes(i: number): number {
    return this.u32(i, FRAME_STORED);
  }
  offsetInFrame(i: number): number {
    return this.u32(i, OFFSET_IN_FRAME);
  }
  plainBytes(i: number): number {
    return this.u32(i, PLAIN_BYTES);
  }
  isDelta(i: number): boolean {
    return this.u32(i, BASE_PACK) !== NO_BASE;
  }
  basePack(i: number): number {
    return this.u32(i, BASE_PACK);
  }
  baseFrameOffset(i: number): number {
    return this.u32(i, BASE_FRAME_OFFSET);
  }
  baseFrameStoredBytes(i: number): number {
    return this.u32(i, BASE_FRAME_STORED);
  }
  baseOffsetInFrame(i: number): number {
    return this.u32(i, BASE_OFFSET_IN_FRAME);
  }

  /** Plain bytes of records first..end. */
  plainBytesOf(first = 0, end = this.count): number {
    let sum = 0;
    for (let i = first; i < Math.min(end, this.count); i++) sum += this.plainBytes(i);
    return sum;
  }

  /** Block i as a manifest reference. */
  ref(i: number): BlockRef {
    const literal: BlockRef = [this.hash(i), this.pack(i), this.frameOffset(i), this.frameStoredBytes(i), this.offsetInFrame(i), this.plainBytes(i)];
    if (!this.isDelta(i)) return literal;
    return [...literal, this.basePack(i), this.baseFrameOffset(i), this.baseFrameStoredBytes(i), this.baseOffsetInFrame(i)];
  }

  refs(): BlockRef[] {
    return Array.from({ length: this.count }, (_, i) => this.ref(i));
  }

  crcs(): number[] {
    return Array.from({ length: this.count }, (_, i) => this.crc(i));
  }

  /**
   * The records' total plain bytes; throws a one-line description of the first record naming a
   * pack beyond `packCount`. One loop over the words (no accessor calls): it runs once over every
   * record of a manifest as it is read, before the JIT has warmed up.
   */
  checkedPlainBytes(packCount: number): number {
    const words = this.words;
    let sum = 0;
    for (let at = 0, i = 0; i < this.count; i++, at += RECORD_WORDS) {
      const pack = words[at + PACK / 4] as number;
      const basePack = words[at + BASE_PACK / 4] as number;
      if (pack >= packCount || (basePack !== NO_BASE && basePack >= packCount))
        throw new Error(`block ${i} references pack ${pack >= packCount ? pack : basePack}, which is not listed`);
      sum += words[at + PLAIN_BYTES / 4] as number;
    }
    return sum;
  }

  private set(i: number, ref: BlockRef, crc: number): void {
    const hash = Buffer.from(ref[0], 'base64url');
    if (hash.length !== HASH_BYTES) throw new Error(`block ${i}: hash ${ref[0]} is not a base64url SHA-256`);
    this.bytes.set(hash, i * RECORD_BYTES);
    const put = (field: number, value: number) => (this.words[i * RECORD_WORDS + field / 4] = value);
    put(CRC, crc);
    put(PACK, ref[1]);
    put(FRAME_OFFSET, ref[2]);
    put(FRAME_STORED, ref[3]);
    put(OFFSET_IN_FRAME, ref[4]);
    put(PLAIN_BYTES, ref[5]);
    // manifest.ts's isDeltaRef, spelled out: that module imports this one
    const base = ref.length === 10 ? (ref as DeltaBlockRef) : null;
    put(BASE_PACK, base?.[6] ?? NO_BASE);
    put(BASE_FRAME_OFFSET, base?.[7] ?? 0);
    put(BASE_FRAME_STORED, base?.[8] ?? 0);
    put(BASE_OFFSET_IN_FRAME, base?.[9] ?? 0);
  }

  private u32(i: number, field: number): number {
    return this.words[i * RECORD_WORDS + field / 4] as number;
  }
}
