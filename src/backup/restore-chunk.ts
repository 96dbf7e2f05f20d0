/**
 * Restores one chunk of a file: a run of its blocks, written at their place in the file (created
 * here if absent; with --delta already fitted to its size by the restore). Runs on a restore
 * worker thread (restore-pool.ts) or, with process-max 1, on the main thread. Invariants:
 *  - every block written is checked first, against its CRC-32 when the manifest has one (format
 *    4; a third of the SHA-256's time: restore must catch a stored byte gone bad or a reference
 *    to the wrong bytes, not a forgery, and verify checks the SHA-256), else its SHA-256; a
 *    corrupt one throws and nothing more of the chunk is written;
 *  - with delta, a block already on disk with the right hash is neither read from the repository
 *    nor rewritten (its bytes on disk are what the hash checked);
 *  - each pack is read in increasing offsets through a 2 MiB read-ahead window, and a frame is
 *    decoded once however many of its blocks the chunk holds (an LRU cache of decoded frames);
 *  - a block stored as a delta is rebuilt from two frames (the delta's and its base's, both read
 *    and cached the same way) into a page slab of its own (reused once its pages are written),
 *    then checked like any other.
 */
import { closeSync, constants, futimesSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { CorruptObjectError, blockCrc, blockHash, decodeFrame } from './object-codec.js';
import { FRAME_BLOCKS_MAX } from './core/manifest.js';
import { BlockRecords } from './core/block-records.js';
import { DEFAULT_BLOCK_BYTES } from './core/blocks.js';
import { xorBytes } from './core/block-delta.js';
import { writevAllSync } from './durable-file.js';
import { FileWriteLocks } from './file-write-lock.js';

/** One unit of restore work; plain data, so it crosses to a worker thread as is. */
export interface RestoreChunk {
  /** Absolute path of the file being restored (created with `mode` if absent). */
  path: string;
  mode: number;
  /** Path relative to the data directory (for messages). */
  relativePath: string;
  /** Index in the file of the chunk's first block (for messages). */
  firstBlock: number;
  /** Byte offset in the file of the chunk's first block. */
  fileOffset: number;
  /** The chunk's blocks as packed records (block-records.ts), in an ArrayBuffer of their own. */
  records: Uint8Array;
  /** The records hold the blocks' CRC-32s; else the blocks are checked by their SHA-256. */
  crc32Recorded: boolean;
  /** Plain bytes of the chunk's blocks. */
  bytes: number;
  /** Compare with the file's current content and write only the blocks that differ. */
  delta: boolean;
  /** The file was created, truncated or extended for this restore (its mtime is set even if no block differs). */
  changed: boolean;
  /** The file's mtime, set after writing when this is its only chunk (null: the caller sets it). */
  mtimeMs: number | null;
}

/** What restoring a chunk did. */
export interface ChunkOutcome {
  /** Bytes written (0 when delta found every block in place). */
  writtenBytes: number;
  /** The mtime was set. */
  timed: boolean;
  /** Data or mtime written: the file needs an fsync (the restore does them all at the end). */
  dirty: boolean;
}

const WRITE_RUN_BYTES_MAX = 4 * 1024 * 1024;
const FRAME_CACHE_MAX = 256;
/** Distinct frames a prefetch covers: half the cache, so prefetching never evicts what it is for. */
const PREFETCH_FRAMES_MAX = FRAME_CACHE_MAX / 2;
const PACK_HANDLES_MAX = 32;
/** A decoded frame's buffer: FRAME_BLOCKS_MAX blocks of 8 KiB. */
const FRAME_BUFFER_BYTES = FRAME_BLOCKS_MAX * DEFAULT_BLOCK_BYTES;
/** Read ahead in a pack (so at most PACK_HANDLES_MAX × 2 MiB of windows per worker). */
const PACK_WINDOW_BYTES = 2 * 1024 * 1024;

/** A block to write: its record in the chunk (its index in the file is the chunk's firstBlock + at) and its byte offset in the file. */
interface Wanted {
  at: number;
  position: number;
}

/** A frame to read: where it is stored (pack index, offset, stored bytes), and the first block that needs it (for messages). */
interface FrameToRead {
  packIndex: number;
  offset: number;
  stored: number;
  index: number;
}

/** Delta pages are rebuilt into slabs of this size (one allocation per 128 pages, not per page). */
const PAGE_SLAB_BYTES = 1024 * 1024;

/**
 * Restores chunks, keeping pack files open and recently decoded frames: an incremental's files
 * interleave blocks of older frames with new ones, and without the cache a frame would be read
 * and decompressed once per block it holds.
 */
export class ChunkRestorer {
  private readonly frames = new Map<number, Buffer>();
  /** The frame touched last: a run of blocks from one frame moves it to the LRU's end once. */
  private lastTouched = -1;
  /**
   * Buffers of evicted frames, reused for the next frames decoded. Safe because frames are
   * evicted only while reading, a chunk flushes its pending writes before any read, and a chunk
   * is restored synchronously, so never while another is.
   */
  private readonly recycled: Buffer[] = [];
  /** Rebuilt delta pages, and how much of it holds pages not written yet (restoreNow's pageBuffer). */
  private readonly slab = Buffer.allocUnsafeSlow(PAGE_SLAB_BYTES);
  private slabUsed = 0;
  /**
   * Open packs, and for each the last stretch read ahead from it (`window`). An incremental's file
   * takes frames from several packs in turn, each pack in increasing offsets: reading ahead turns
   * thousands of small reads (one per run of frames) into a few large sequential ones.
   *
   * File I/O here is synchronous: this runs on a worker thread (or, with process-max 1, on the
   * main thread, which turns its event loop between chunks for the fsyncs), and asynchronous calls would queue in libuv's thread
   * pool (4 threads per process) behind the fsyncs of finished files that the main thread runs
   * there, leaving the worker idle (profiled: 40% idle before).
   */
  private readonly packHandles = new Map<string, { fd: number; window: { offset: number; bytes: Buffer } | null }>();

  constructor(
    private readonly stanzaDir: string,
    private readonly packs: readonly string[],
    private readonly key: Buffer | null,
    /** Shared with the other restore workers (with process-max 1, a table of its own: never contended). */
    private readonly writeLocks: FileWriteLocks = new FileWriteLocks(FileWriteLocks.table()),
  ) {}

  /** Restores one chunk, synchronously (chunks never overlap: frame buffers are recycled, see `recycled`); its outcome or error as a promise. */
  restore(chunk: RestoreChunk): Promise<ChunkOutcome> {
    try {
      return Promise.resolve(this.restoreNow(chunk));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private restoreNow(chunk: RestoreChunk): ChunkOutcome {
    // O_CREAT without O_TRUNC: the chunks of one new file are written at once, each at its place
    const records = new BlockRecords(chunk.records);
    const fd = openSync(chunk.path, constants.O_RDWR | constants.O_CREAT, chunk.mode);
    try {
      const wanted = chunk.delta ? this.differingBlocks(fd, chunk, records) : allBlocks(chunk, records);
      let writtenBytes = 0;
      let pending: Buffer[] = [];
      let pendingAt = 0;
      let pendingBytes = 0;
      // writes are synchronous: once flushed, nothing points into the page slab any more
      const flush = () => {
        if (pending.length > 0) this.writeLocks.hold(chunk.path, () => writevAllSync(fd, pending, pendingAt, chunk.path));
        writtenBytes += pendingBytes;
        pendingAt += pendingBytes; // a run flushed because the slab filled goes on where it stopped
        pending = [];
        pendingBytes = 0;
        this.slabUsed = 0;
      };
      // rebuilt delta pages are carved from one slab, reused after each flush (a full slab flushes
      // first): fresh memory for every page cost a page fault per 4 KiB (80,000 in a scale-50 restore)
      const pageBuffer = (bytes: number): Buffer => {
        if (bytes > this.slab.length) return Buffer.allocUnsafeSlow(bytes);
        if (this.slabUsed + bytes > this.slab.length) flush();
        this.slabUsed += bytes;
        return this.slab.subarray(this.slabUsed - bytes, this.slabUsed);
      };
      for (let w = 0; w < wanted.length; w++) {
        const { at, position } = wanted[w] as Wanted;
        // a read may evict frames and recycle their buffers: nothing pending may still point into one
        if (!this.framesCached(records, at)) flush();
        // before the block is rebuilt: a flush empties the slab the rebuilt page would be in
        if (pendingAt + pendingBytes !== position || pendingBytes >= WRITE_RUN_BYTES_MAX) {
          flush();
          pendingAt = position;
        }
        const data = this.blockData(records, wanted, w, chunk, pageBuffer);
        if (!blockIsIntact(data, records, at, chunk.crc32Recorded)) {
          throw corrupt(chunk.relativePath, chunk.firstBlock + at, this.packNamed(records.pack(at)), records.frameOffset(at), 'block checksum mismatch');
        }
        pending.push(data);
        pendingBytes += data.length;
      }
      flush();
      const timed = chunk.mtimeMs !== null && (writtenBytes > 0 || chunk.changed);
      if (timed) futimesSync(fd, new Date(chunk.mtimeMs as number), new Date(chunk.mtimeMs as number));
      const dirty = writtenBytes > 0 || timed;
      return { writtenBytes, timed, dirty };
    } finally {
      closeSync(fd);
    }
  }

  async close(): Promise<void> {
    this.closeAll();
    this.frames.clear();
    this.recycled.length = 0;
  }

  /** With delta: the blocks whose bytes on disk do not hash to the backed-up block. */
  private differingBlocks(fd: number, chunk: RestoreChunk, records: BlockRecords): Wanted[] {
    const existing = Buffer.allocUnsafe(chunk.bytes);
    const bytesRead = chunk.bytes === 0 ? 0 : readSync(fd, existing, 0, chunk.bytes, chunk.fileOffset);
    const wanted: Wanted[] = [];
    let offset = 0;
    for (let at = 0; at < records.count; at++) {
      const end = offset + records.plainBytes(at);
      if (end > bytesRead || blockHash(existing.subarray(offset, end)) !== records.hash(at)) {
        wanted.push({ at, position: chunk.fileOffset + offset });
      }
      offset = end;
    }
    return wanted;
  }

  /**
   * The plain bytes of wanted[w]; on a cache miss, first reads the frames the next blocks need.
   * A delta is XORed with its base into the page slab (so it points into no frame).
   */
  private blockData(records: BlockRecords, wanted: readonly Wanted[], w: number, chunk: RestoreChunk, pageBuffer: (bytes: number) => Buffer): Buffer {
    const { at } = wanted[w] as Wanted;
    if (!this.framesCached(records, at)) this.prefetch(records, wanted, w, chunk);
    const ownKey = frameKey(records.pack(at), records.frameOffset(at));
    const baseKey = records.isDelta(at) ? frameKey(records.basePack(at), records.baseFrameOffset(at)) : null;
    const plainBytes = records.plainBytes(at);
    const offsetInFrame = records.offsetInFrame(at);
    const data = this.cachedFrame(ownKey).subarray(offsetInFrame, offsetInFrame + plainBytes);
    if (baseKey === null) return data;
    const baseOffset = records.baseOffsetInFrame(at);
    const baseData = this.cachedFrame(baseKey).subarray(baseOffset, baseOffset + plainBytes);
    if (baseData.length !== plainBytes || data.length !== plainBytes)
      throw new KeelError('backup.block_corrupt', `a block of ${chunk.relativePath} lies outside its frame; restore refused`);
    const page = pageBuffer(plainBytes);
    xorBytes(data, baseData, page);
    return page;
  }

  /** A frame known to be cached, marked as just used (once per run of blocks from the same frame). */
  private cachedFrame(key: number): Buffer {
    const frame = this.frames.get(key);
    if (frame === undefined) throw new Error(`frame ${key} was not read`);
    if (key !== this.lastTouched) this.touch(key, frame);
    return frame;
  }

  /**
   * Reads and decodes the frames that the blocks from `start` need and the cache lacks, for as
   * many blocks as keep the distinct frames they use under half the cache (so none of them is
   * evicted meanwhile): each pack's frames in increasing offsets, served by its read-ahead window.
   * An incremental's file alternates between packs block by block; this reads each pack in order
   * and leaves the chunk a long stretch of cache hits (so long writes) before the next miss.
   */
  private prefetch(records: BlockRecords, wanted: readonly Wanted[], start: number, chunk: RestoreChunk): void {
    const seen = new Set<number>();
    const toRead: FrameToRead[] = [];
    const need = (packIndex: number, offset: number, stored: number, index: number) => {
      const key = frameKey(packIndex, offset);
      if (seen.has(key)) return;
      seen.add(key);
      const cached = this.frames.get(key);
      if (cached !== undefined) this.touch(key, cached);
      else toRead.push({ packIndex, offset, stored, index });
    };
    for (let w = start; w < wanted.length && seen.size < PREFETCH_FRAMES_MAX; w++) {
      const { at } = wanted[w] as Wanted;
      const index = chunk.firstBlock + at;
      need(records.pack(at), records.frameOffset(at), records.frameStoredBytes(at), index);
      if (records.isDelta(at)) need(records.basePack(at), records.baseFrameOffset(at), records.baseFrameStoredBytes(at), index);
    }
    toRead.sort((a, b) => (a.packIndex === b.packIndex ? a.offset - b.offset : a.packIndex - b.packIndex));
    for (const frame of toRead) {
      const pack = this.packNamed(frame.packIndex);
      const stored = this.readPack(pack, frame.offset, frame.stored);
      let plain: Buffer;
      try {
        plain = decodeFrame(stored, this.key, (bytes) => this.frameBuffer(bytes));
      } catch (error) {
        if (error instanceof CorruptObjectError) throw corrupt(chunk.relativePath, frame.index, pack, frame.offset, error.message);
        throw error;
      }
      if (this.frames.size >= FRAME_CACHE_MAX) this.evictOldest();
      this.frames.set(frameKey(frame.packIndex, frame.offset), plain);
    }
  }

  /** Block `at`'s frame, and its base's frame if it is a delta, are in the cache. */
  private framesCached(records: BlockRecords, at: number): boolean {
    if (!this.frames.has(frameKey(records.pack(at), records.frameOffset(at)))) return false;
    return !records.isDelta(at) || this.frames.has(frameKey(records.basePack(at), records.baseFrameOffset(at)));
  }

  /** Marks a frame as just used (the cache evicts the least recently used). */
  private touch(key: number, frame: Buffer): void {
    this.frames.delete(key);
    this.frames.set(key, frame);
    this.lastTouched = key;
  }

  private evictOldest(): void {
    const [oldest, evicted] = this.frames.entries().next().value as [number, Buffer];
    this.frames.delete(oldest);
    if (evicted.buffer.byteLength === FRAME_BUFFER_BYTES) this.recycled.push(Buffer.from(evicted.buffer, evicted.byteOffset, FRAME_BUFFER_BYTES));
  }

  private packNamed(index: number): string {
    const pack = this.packs[index];
    if (pack === undefined) throw new KeelError('backup.manifest_corrupt', `a block references pack ${index}, which the manifest does not list`);
    return pack;
  }

  /** A buffer for a decoded frame: a recycled one when the frame fits (all but oversized frames do). */
  private frameBuffer(bytes: number): Buffer {
    if (bytes > FRAME_BUFFER_BYTES) return Buffer.allocUnsafeSlow(bytes);
    return this.recycled.pop() ?? Buffer.allocUnsafeSlow(FRAME_BUFFER_BYTES);
  }

  private readPack(pack: string, offset: number, length: number): Buffer {
    let entry = this.packHandles.get(pack);
    if (entry === undefined) {
      if (this.packHandles.size >= PACK_HANDLES_MAX) this.closeAll();
      entry = { fd: openSync(join(this.stanzaDir, pack), 'r'), window: null };
      this.packHandles.set(pack, entry);
    }
    const window = entry.window;
    if (window !== null && offset >= window.offset && offset + length <= window.offset + window.bytes.length) {
      return window.bytes.subarray(offset - window.offset, offset - window.offset + length);
    }
    // the pack's window buffer is reused: what was read into it before is decoded already (decodeFrame copies)
    const size = Math.max(length, PACK_WINDOW_BYTES);
    const reusable = window !== null && window.bytes.buffer.byteLength >= size;
    const buffer = reusable ? Buffer.from(window.bytes.buffer, 0, size) : Buffer.allocUnsafeSlow(size);
    const bytesRead = readSync(entry.fd, buffer, 0, buffer.length, offset);
    if (bytesRead < length) throw new KeelError('backup.block_corrupt', `${pack} is truncated (at ${offset}); restore refused`);
    entry.window = { offset, bytes: buffer.subarray(0, bytesRead) };
    return buffer.subarray(0, length);
  }

  /** Closes every open pack (chunks are restored one at a time, so none is being read). */
  private closeAll(): void {
    for (const entry of this.packHandles.values()) closeSync(entry.fd);
    this.packHandles.clear();
  }
}

/** A frame's key in the cache: its pack's index in the manifest and its offset (exact in a double: offsets are below 2^32). */
function frameKey(packIndex: number, offset: number): number {
  return packIndex * 0x1_0000_0000 + offset;
}

/** Block `at`'s bytes are what the backup read: its length, and its CRC-32 if recorded, else its SHA-256. */
function blockIsIntact(data: Buffer, records: BlockRecords, at: number, crc32Recorded: boolean): boolean {
  if (data.length !== records.plainBytes(at)) return false;
  return crc32Recorded && blockCrc !== null ? blockCrc(data) === records.crc(at) : blockHash(data) === records.hash(at);
}

function allBlocks(chunk: RestoreChunk, records: BlockRecords): Wanted[] {
  const wanted: Wanted[] = new Array(records.count);
  let position = chunk.fileOffset;
  for (let at = 0; at < records.count; at++) {
    wanted[at] = { at, position };
    position += records.plainBytes(at);
  }
  return wanted;
}

function corrupt(relativePath: string, index: number, pack: string, frameOffset: number, why: string): KeelError {
  return new KeelError('backup.block_corrupt', `block ${index} of ${relativePath} (${pack} at ${frameOffset}) is corrupt: ${why}; restore refused`);
}
