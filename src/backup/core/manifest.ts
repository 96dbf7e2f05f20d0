/**
 * The backup manifest: what one committed backup contains and where every block of every file
 * is stored. A backup exists exactly when its manifest is committed; the manifest alone is
 * enough to restore it (every block's location is in it, also blocks stored by earlier backups),
 * so no backup depends on another backup's manifest. Pure: types, validation, sizes.
 *
 * Block references are `[hash, pack, frameOffset, frameStoredBytes, offsetInFrame, plainBytes]`:
 * `hash` is the base64url SHA-256 of the block's plain bytes (its identity and checksum), `pack`
 * an index into `packs`. New blocks are stored in frames (up to FRAME_BLOCKS_MAX blocks of one
 * file compressed together, which compresses far better than single pages); a block is the
 * slice `[offsetInFrame, offsetInFrame + plainBytes)` of its frame's plain bytes.
 *
 * A changed page usually differs from its previous version in a few dozen bytes (a tuple's xmax,
 * a new tuple, the page header), so a backup may store it as a delta: the XOR of the page with
 * its previous version in the backup taken against (`[..., basePack, baseFrameOffset,
 * baseFrameStoredBytes, baseOffsetInFrame]` after the six fields). The base is always a stored
 * page, never itself a delta (a delta over a delta is taken over that delta's base instead), so
 * a block is rebuilt from at most two stored slices; its hash is that of the rebuilt page.
 *
 * In memory a file's blocks are `BlockRef`s; on disk (format 5) they are packed binary records
 * (block-records.ts), and a file read from disk keeps them packed until `blocks` or `crc32` is
 * first read: a restore never reads them (its chunks carry the records), so it never pays for
 * 100,000 small arrays.
 */
import type { BackupType } from './label.js';
import { BlockRecords } from './block-records.js';

/**
 * 5: a file's blocks and CRC-32s are packed records (`blockRecords`, base64, and
 * `crc32Recorded`); 4: files may carry their blocks' CRC-32s (`crc32`); 3: block references may
 * be deltas (10 fields). Formats 2 (no deltas), 3 (no CRC-32s: restore checks their blocks by
 * SHA-256) and 4 are still read.
 */
export const MANIFEST_FORMAT = 5;
const MANIFEST_FORMATS_READ: readonly number[] = [2, 3, 4, 5];
/** Blocks compressed together at most (128 KiB of 8 KiB pages). */
export const FRAME_BLOCKS_MAX = 16;

/** `[hash, packIndex, frameOffset, frameStoredBytes, offsetInFrame, plainBytes]`: a stored page. */
export type LiteralBlockRef = [string, number, number, number, number, number];
/** A stored XOR of the page with its base: `[...LiteralBlockRef, basePackIndex, baseFrameOffset, baseFrameStoredBytes, baseOffsetInFrame]`. */
export type DeltaBlockRef = [string, number, number, number, number, number, number, number, number, number];
export type BlockRef = LiteralBlockRef | DeltaBlockRef;

/** Where a stored page is (the base of a delta: its length is the delta's `plainBytes`). */
export interface BaseLocation {
  pack: string;
  frameOffset: number;
  frameStoredBytes: number;
  offsetInFrame: number;
}

/** Where a block is: its frame in a pack, its place in the frame, and the base it is a delta over (if any). */
export interface BlockLocation {
  pack: string;
  frameOffset: number;
  frameStoredBytes: number;
  offsetInFrame: number;
  plainBytes: number;
  base?: BaseLocation;
}

/** The block reference is a delta over a base. */
export function isDeltaRef(ref: BlockRef): ref is DeltaBlockRef {
  return ref.length === 10;
}

/** The location a reference names (pack indexes resolved through `packs`). */
export function locationOf(ref: BlockRef, packs: readonly string[]): BlockLocation {
  const [, packIndex, frameOffset, frameStoredBytes, offsetInFrame, plainBytes] = ref;
  const location: BlockLocation = { pack: packs[packIndex] ?? '', frameOffset, frameStoredBytes, offsetInFrame, plainBytes };
  if (isDeltaRef(ref)) location.base = { pack: packs[ref[6]] ?? '', frameOffset: ref[7], frameStoredBytes: ref[8], offsetInFrame: ref[9] };
  return location;
}

/**
 * The stored page a new version of this block may be a delta over: the block itself if it is
 * stored as is, else its own base (so no delta is ever over a delta).
 */
export function literalBaseOf(location: BlockLocation): BaseLocation {
  return (
    location.base ?? {
      pack: location.pack,
      frameOffset: location.frameOffset,
      frameStoredBytes: location.frameStoredBytes,
      offsetInFrame: location.offsetInFrame,
    }
  );
}

export interface ManifestFile {
  /** Path relative to the data directory, `/`-separated. */
  path: string;
  mode: number;
  /** Modification time, ms since the epoch (restored as is). */
  mtimeMs: number;
  size: number;
  /** The file's blocks in order; their hashes are its checksum (restore and verify check each). */
  blocks: BlockRef[];
  /** Page checksum failures found while reading (block numbers), when data checksums are on. */
  badPages?: number[];
  /**
   * CRC-32 (zlib's) of each block's plain bytes, in the order of `blocks` (format 4; absent when
   * the backup's Node had no zlib.crc32). Restore checks each block it writes against it, a
   * quicker check than the SHA-256, which verify checks.
   */
  crc32?: number[];
}

export interface ManifestDir {
  path: string;
  mode: number;
}

/**
 * A tablespace: `pg_tblspc/<oid>` was a link to `path`; its files are in the manifest under
 * `pg_tblspc/<oid>/PG_<version>_<catalog>/...`. Restore recreates the link (to `path`, or where
 * --tablespace-map / --tablespace-map-all send it).
 */
export interface ManifestTablespace {
  oid: number;
  name: string;
  path: string;
}

export interface Manifest {
  format: number;
  label: string;
  type: BackupType;
  /** The backup this one was taken against (null for a full backup). */
  prior: string | null;
  /** The stanza database (history entry) it was taken from: stanza-upgrade starts a new one. */
  dbId: number;
  /** Every earlier backup whose packs this one references (for `info`'s reference list). */
  references: string[];
  startTime: string;
  stopTime: string;
  pg: { version: string; systemId: string; dataChecksums: boolean };
  timeline: number;
  lsnStart: string;
  lsnStop: string;
  walStart: string;
  walStop: string;
  /**
   * The oldest transaction still running when the backup started (pg_current_snapshot()'s xmin,
   * 32-bit): any xid before it committed or aborted before the backup, so a restore of this
   * backup can never stop at it.
   */
  xidMin: string | null;
  /** True when the files of base/, global/, pg_xact, pg_multixact and tablespaces were read from a standby. */
  fromStandby: boolean;
  compressType: string;
  cipherType: string;
  blockBytes: number;
  /** Pack files (paths relative to the stanza directory) that `BlockRef.pack` indexes. */
  packs: string[];
  dirs: ManifestDir[];
  tablespaces: ManifestTablespace[];
  files: ManifestFile[];
  /** Sizes in bytes: the data as on disk, what this backup newly stored, what it references in all. */
  sizes: { database: number; newStored: number; referencedStored: number; newPlain: number };
}

/**
 * What a manifest says about its backup without its file list: what info, expire, retention and
 * restore's choice of a set need. Stored beside the manifest (`backup/<label>/summary`), so those
 * commands read a few hundred bytes per backup instead of every block location.
 */
export type ManifestSummary = Omit<Manifest, 'files' | 'dirs'> & {
  /** The files in which page checksum failures were found, with their pages (info's error list). */
  badPageFiles: { path: string; badPages: number[] }[];
};

export function summarize(manifest: Manifest): ManifestSummary {
  const { files, dirs: _dirs, ...header } = manifest;
  const badPageFiles = files.filter((f) => (f.badPages?.length ?? 0) > 0).map((f) => ({ path: f.path, badPages: f.badPages ?? [] }));
  return { ...header, badPageFiles };
}

/** Throws a one-line description of the first structural problem of a summary. */
export function validateSummary(value: unknown): ManifestSummary {
  const summary = value as Partial<ManifestSummary> | null;
  if (summary === null || typeof summary !== 'object') throw new Error('summary is not an object');
  if (!MANIFEST_FORMATS_READ.includes(summary.format as number)) throw new Error(`summary format ${String(summary.format)} is not one this keel reads`);
  for (const key of ['label', 'type', 'startTime', 'stopTime', 'walStart', 'walStop', 'lsnStart', 'lsnStop'] as const) {
    if (typeof summary[key] !== 'string') throw new Error(`summary field ${key} is missing`);
  }
  if (!Array.isArray(summary.packs) || !Array.isArray(summary.badPageFiles) || typeof summary.dbId !== 'number' || typeof summary.sizes !== 'object')
    throw new Error('summary fields (packs, badPageFiles, dbId, sizes) are missing');
  return summary as ManifestSummary;
}

/** Total plain size of the files in a manifest. */
export function databaseBytes(files: readonly ManifestFile[]): number {
  return files.reduce((sum, file) => sum + file.size, 0);
}

/** Pack paths referenced by a set of manifests (the bases of deltas included): what garbage collection must keep. */
export function referencedPacks(manifests: readonly Pick<Manifest, 'packs'>[]): Set<string> {
  const kept = new Set<string>();
  for (const manifest of manifests) for (const pack of manifest.packs) kept.add(pack);
  return kept;
}

/** Map of block hash -> location for a manifest, so a later backup stores only blocks it lacks. */
export function blockIndex(manifest: Manifest): Map<string, BlockLocation> {
  const index = new Map<string, BlockLocation>();
  for (const file of manifest.files) {
    for (const ref of file.blocks) {
      if (manifest.packs[ref[1]] !== undefined && !index.has(ref[0])) index.set(ref[0], locationOf(ref, manifest.packs));
    }
  }
  return index;
}

function isUint32(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/** Throws a one-line description of the first structural problem (a hand-edited or foreign file). */
export function validateManifest(value: unknown): Manifest {
  const manifest = value as Partial<Manifest> | null;
  if (manifest === null || typeof manifest !== 'object') throw new Error('manifest is not an object');
  if (!MANIFEST_FORMATS_READ.includes(manifest.format as number))
    throw new Error(`manifest format ${String(manifest.format)} is not one this keel reads (${MANIFEST_FORMATS_READ.join(', ')})`);
  for (const key of ['label', 'type', 'startTime', 'stopTime', 'walStart', 'walStop', 'lsnStart', 'lsnStop'] as const) {
    if (typeof manifest[key] !== 'string') throw new Error(`manifest field ${key} is missing`);
  }
  if (!Array.isArray(manifest.files) || !Array.isArray(manifest.packs) || !Array.isArray(manifest.dirs) || !Array.isArray(manifest.tablespaces)) {
    throw new Error('manifest lists (files, packs, dirs, tablespaces) are missing');
  }
  if (typeof manifest.dbId !== 'number') throw new Error('manifest field dbId is missing');
  for (const file of manifest.files) {
    if (typeof file.path !== 'string' || file.path.startsWith('/') || file.path.split('/').includes('..')) {
      throw new Error(`manifest file path ${String(file.path)} is not a relative path inside the data directory`);
    }
    if (manifest.format === 5) continue; // checked by packedFile below
    const blockTotal = file.blocks.reduce((sum, block) => sum + block[5], 0);
    if (blockTotal !== file.size) throw new Error(`manifest file ${file.path}: blocks add up to ${blockTotal} bytes, not ${file.size}`);
    for (const block of file.blocks) {
      if (block.length !== 6 && !(block.length === 10 && (manifest.format ?? 0) >= 3))
        throw new Error(`manifest file ${file.path} has a malformed block reference`);
      if (manifest.packs[block[1]] === undefined || (isDeltaRef(block) && manifest.packs[block[6]] === undefined))
        throw new Error(`manifest file ${file.path} references a pack that is not listed`);
    }
    if (file.crc32 !== undefined) {
      const crcs: unknown = file.crc32;
      if ((manifest.format ?? 0) < 4 || !Array.isArray(crcs) || crcs.length !== file.blocks.length || !crcs.every(isUint32))
        throw new Error(`manifest file ${file.path} has a malformed crc32 list`);
    }
  }
  if (manifest.format === 5) {
    const packCount = manifest.packs.length;
    manifest.files = manifest.files.map((file) => packedFile(file as unknown as StoredManifestFile, packCount));
  }
  return manifest as Manifest;
}

/** A file as a format 5 manifest stores it: its blocks and their CRC-32s as packed records. */
interface StoredManifestFile extends Omit<ManifestFile, 'blocks' | 'crc32'> {
  /** Base64 of the file's block records (block-records.ts). */
  blockRecords: string;
  /** The records' CRC-32s are the blocks' (false: the backing-up Node had no zlib.crc32, restore checks the SHA-256s). */
  crc32Recorded: boolean;
}

/** The records of format 5 files read from disk whose `blocks` and `crc32` have not been read (see packedFile). */
const unreadRecords = new WeakMap<ManifestFile, { records: BlockRecords; crc32Recorded: boolean }>();

/**
 * A format 5 file, checked, whose `blocks` and `crc32` are decoded from its records when first
 * read. From then on those arrays are the file's blocks (a caller may change them, and a manifest
 * committed again stores what they hold), so its records are forgotten.
 */
function packedFile(stored: StoredManifestFile, packCount: number): ManifestFile {
  if (typeof stored.blockRecords !== 'string' || typeof stored.crc32Recorded !== 'boolean')
    throw new Error(`manifest file ${stored.path} has no block records`);
  let records: BlockRecords;
  let blockTotal: number;
  try {
    records = BlockRecords.parse(stored.blockRecords);
    blockTotal = records.checkedPlainBytes(packCount);
  } catch (error) {
    throw new Error(`manifest file ${stored.path}: ${(error as Error).message}`);
  }
  if (blockTotal !== stored.size) throw new Error(`manifest file ${stored.path}: blocks add up to ${blockTotal} bytes, not ${stored.size}`);
  const { blockRecords: _records, crc32Recorded, ...header } = stored;
  const file = header as ManifestFile;
  let decoded: { blocks: BlockRef[]; crc32: number[] | undefined } | null = null;
  const decode = () => {
    if (decoded === null) {
      decoded = { blocks: records.refs(), crc32: crc32Recorded ? records.crcs() : undefined };
      unreadRecords.delete(file);
    }
    return decoded;
  };
  Object.defineProperty(file, 'blocks', {
    enumerable: true,
    get: () => decode().blocks,
    set: (blocks: BlockRef[]) => void (decode().blocks = blocks),
  });
  Object.defineProperty(file, 'crc32', {
    enumerable: true,
    get: () => decode().crc32,
    set: (crc32: number[] | undefined) => void (decode().crc32 = crc32),
  });
  unreadRecords.set(file, { records, crc32Recorded });
  return file;
}

/**
 * A file's blocks as packed records, and whether their CRC-32s are recorded: as read for a
 * format 5 file whose `blocks` were never read, else packed from `blocks` and `crc32`.
 */
export function blockRecordsOf(file: ManifestFile): { records: BlockRecords; crc32Recorded: boolean } {
  return unreadRecords.get(file) ?? { records: BlockRecords.fromRefs(file.blocks, file.crc32 ?? null), crc32Recorded: file.crc32 !== undefined };
}

/** The manifest as a format 5 manifest stores it (JSON-ready): each file's blocks as records. */
export function storedManifest(manifest: Manifest): object {
  const files = manifest.files.map((file): StoredManifestFile => {
    const { records, crc32Recorded } = blockRecordsOf(file);
    const { path, mode, mtimeMs, size, badPages } = file;
    return { path, mode, mtimeMs, size, ...(badPages === undefined ? {} : { badPages }), blockRecords: records.toString(), crc32Recorded };
  });
  return { ...manifest, format: MANIFEST_FORMAT, files };
}
