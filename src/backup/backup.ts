/**
 * `keel backup backup --type full|diff|incr`: a non-exclusive base backup over a libpq session.
 *
 * Order, and why: the stanza lock is taken and what an interrupted backup left is collected;
 * the backup is marked in progress; pg_backup_start; every file is read in 8 KiB blocks and
 * only blocks unknown to the prior backup are stored (packs); pg_backup_stop returns
 * backup_label, stored as a file; the WAL up to the stop point must be archived (else the backup
 * could never be made consistent); packs are fsynced; only then the manifest is committed.
 * A failure or kill at any point before the commit leaves no manifest, so nothing usable-looking.
 * With backup-standby the relation files are read from a standby (standby.ts); tablespaces are
 * followed through pg_tblspc and recorded in the manifest for restore to relink.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { Repository } from './repository.js';
import { PackWriter } from './pack-writer.js';
import { PgSession, type ClusterIdentity } from './pg-session.js';
import { chooseHosts, readFromStandby, waitForStandbyAt, type ConnectedHost, type PgHost } from './standby.js';
import { listDataDir } from './data-dir.js';
import { blockCrc } from './object-codec.js';
import { examineChunk } from './examine-chunk.js';
import { EncodePool, type ExaminedChunk } from './encode-pool.js';
import type { DeltaCandidate } from './frame-delta.js';
import { waitForArchived } from './archive.js';
import { mapLimit } from './concurrency.js';
import { DEFAULT_BLOCK_BYTES } from './core/blocks.js';
import { pageRanges, relationFirstBlock } from './core/page-checksum.js';
import {
  blockIndex,
  databaseBytes,
  FRAME_BLOCKS_MAX,
  MANIFEST_FORMAT,
  literalBaseOf,
  locationOf,
  type BaseLocation,
  type BlockLocation,
  type BlockRef,
  type Manifest,
  type ManifestFile,
  type ManifestTablespace,
} from './core/manifest.js';
import { makeLabel, parseLabel, type BackupType } from './core/label.js';
import { Progress } from './progress.js';
import type { BackupLog } from './log.js';
import type { RepositoryOptions } from './repository.js';

export interface BackupRequest {
  repository: RepositoryOptions;
  /** pg1 (and pg2 ...): the primary is found among them; with backupStandby a standby too. */
  hosts: PgHost[];
  backupStandby: boolean;
  type: BackupType;
  startFast: boolean;
  archiveCheck: boolean;
  archiveTimeoutMs: number;
  /** Worker threads compressing/encrypting frames (1 = on the main thread). */
  processMax: number;
  log: BackupLog;
  progress: boolean | undefined;
}

type HashedLocation = BlockLocation & { hash: string };
/** A file's blocks as stored, and their CRC-32s (null on a Node without zlib.crc32). */
type StoredContent = { size: number; refs: HashedLocation[]; crcs: number[] | null };
/** A backed-up file before its block locations are turned into manifest references. */
type StoredFile = { file: Omit<ManifestFile, 'blocks'>; refs: HashedLocation[] };

export async function runBackup(request: BackupRequest): Promise<Manifest> {
  // the encode workers load their modules, and the repository's key is derived (on the thread
  // pool), while PostgreSQL is connected to
  const pool = new EncodePool(request.processMax, Repository.stanzaDir(request.repository));
  const connected: ConnectedHost[] = [];
  try {
    const opening = Repository.open(request.repository);
    opening.catch(() => undefined); // awaited below; a connection failing first must not leave it unhandled
    try {
      for (const host of request.hosts) {
        const session = await PgSession.connect(host.connection);
        connected.push({ host, session, identity: await session.identity() });
      }
    } catch (error) {
      await opening; // the repository's error (no stanza, wrong passphrase) first, as when it was opened first
      throw error;
    }
    const repository = await opening;
    pool.useCodec(repository.codec);
    const { primary, standby } = chooseHosts(connected, request.backupStandby);
    checkIdentity(primary, request, repository);
    if (standby !== null) checkDataDirectory(standby);
    const unlock = await repository.lock('backup');
    try {
      const cleaned = await repository.collectGarbage();
      for (const label of cleaned.removedPartials) request.log.warn(`removed interrupted backup ${label} (it was never committed)`);
      return await takeBackup(repository, primary, standby, request, pool);
    } finally {
      await unlock();
    }
  } finally {
    for (const { session } of connected) await session.close();
    await pool.close();
  }
}

function checkIdentity(primary: ConnectedHost, request: BackupRequest, repository: Repository): void {
  repository.checkCluster(primary.identity);
  checkDataDirectory(primary);
  if (request.archiveCheck && primary.identity.archiveMode === 'off') {
    throw new KeelError('backup.archive_off', 'archive_mode is off: a backup could not be made consistent without its WAL', {
      hint: "set archive_mode = on and archive_command = 'keel backup archive-push %p --stanza=...'",
    });
  }
}

function checkDataDirectory({ host, identity }: ConnectedHost): void {
  if (identity.dataDirectory !== host.pgPath) {
    throw new KeelError('backup.path_mismatch', `pg${host.index}-path is ${host.pgPath} but the server at pg${host.index} runs on ${identity.dataDirectory}`);
  }
}

/** The prior backup: for a diff the newest full, for an incr the newest backup, of the stanza's current database only. */
async function findPrior(repository: Repository, type: BackupType): Promise<Manifest | null> {
  const current = repository.currentDb.id;
  for (const label of (await repository.backupLabels()).reverse()) {
    if (type === 'diff' && parseLabel(label)?.type !== 'full') continue;
    const manifest = await repository.readManifest(label);
    if (manifest.dbId === current) return manifest;
  }
  return null;
}

async function takeBackup(
  repository: Repository,
  primary: ConnectedHost,
  standby: ConnectedHost | null,
  request: BackupRequest,
  pool: EncodePool,
): Promise<Manifest> {
  const { session, identity } = primary;
  const pgPath = primary.host.pgPath;
  const labels = await repository.backupLabels();
  const latest = labels[labels.length - 1] ?? null;
  let type = request.type;
  let prior = type === 'full' ? null : await findPrior(repository, type);
  if (type !== 'full' && prior === null) {
    // pgBackRest: also when the only backups are of a database before stanza-upgrade
    request.log.warn(`no prior backup exists, ${type} backup has been changed to full`);
    type = 'full';
    prior = null;
  }
  const known: Map<string, BlockLocation> = prior === null ? new Map() : blockIndex(prior);
  const startTime = new Date();
  const label = makeLabel(type, startTime, prior === null ? null : (parseLabel(prior.label)?.fullLabel ?? null), latest);
  request.log.info(`backup start: label ${label}${prior === null ? '' : `, prior ${prior.label}`}`);

  await repository.beginBackup(label);
  const packs = new PackWriter(repository.root, label);
  try {
    // before pg_backup_start: a transaction older than this ended before the backup began
    const [snapshot] = await session.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
    const start = await session.backupStart(label, request.startFast);
    request.log.info(`backup start archive = ${start.walFile}, lsn = ${start.lsn}`);
    if (standby !== null) {
      request.log.info(`wait for standby pg${standby.host.index} to replay and checkpoint to ${start.lsn}`);
      await waitForStandbyAt(standby, start.lsn, request.archiveTimeoutMs);
      request.log.info(`backup from standby pg${standby.host.index} (${standby.host.pgPath}): relation files are read from it`);
    }
    const startLsn = parseLsn(start.lsn);
    const listing = await listDataDir(pgPath, identity.pgVersion);
    const tablespaces = await tablespacesOf(session, listing.tablespaceLinks);
    const progress = new Progress(
      `backup ${label}`,
      listing.files.reduce((sum, f) => sum + f.size, 0),
      request.progress,
      { log: request.log },
    );
    const store = new BlockStore(pool, packs, known, request.processMax * 8, request.processMax);
    // a changed page is stored as a delta over its version in the prior backup, where that is smaller
    const priorFiles = new Map((prior?.files ?? []).map((file) => [file.path, file.blocks]));
    let standbyBytes = 0;
    const storeOne = async (file: (typeof listing.files)[number]): Promise<StoredFile | null> => {
      const fromStandby = standby !== null && readFromStandby(file.path);
      const firstBlock = identity.dataChecksums ? relationFirstBlock(file.path) : null;
      const pageCheck = firstBlock === null ? null : { firstBlock, startLsn };
      const previous = prior === null ? null : { blocks: priorFiles.get(file.path) ?? [], packs: prior.packs };
      const stored = await store.storeFile(
        join(fromStandby ? standby.host.pgPath : pgPath, file.path),
        (bytes) => progress.advance(bytes),
        pageCheck,
        previous,
      );
      if (stored === null) return null; // removed during the backup (a dropped relation): WAL replay recreates what matters
      if (fromStandby) standbyBytes += stored.size;
      const badPages = stored.badPages.length === 0 ? {} : { badPages: stored.badPages };
      if (stored.badPages.length > 0)
        request.log.warn(`invalid page checksums found in file ${join(pgPath, file.path)} at pages ${formatPages(stored.badPages)}`);
      return { file: { path: file.path, mode: file.mode, mtimeMs: file.mtimeMs, size: stored.size, ...badPages, ...crcField(stored.crcs) }, refs: stored.refs };
    };
    const files = (await mapLimit(listing.files, FILES_IN_FLIGHT, storeOne)).filter((file): file is StoredFile => file !== null);
    progress.finish();
    if (standby !== null) request.log.info(`${standbyBytes} bytes read from standby pg${standby.host.index}`);
    const stop = await session.backupStop();
    request.log.info(`backup stop archive = ${stop.walFile}, lsn = ${stop.lsn}`);
    // tablespace_map is not kept: restore recreates the pg_tblspc links itself, where --tablespace-map says
    const stored = await store.storeBuffer(Buffer.from(stop.backupLabel));
    files.push({ file: { path: 'backup_label', mode: 0o600, mtimeMs: Date.now(), size: stored.size, ...crcField(stored.crcs) }, refs: stored.refs });
    if (request.archiveCheck) {
      await waitForArchived(repository, stop.walFile, request.archiveTimeoutMs, identity.archiveCommand);
      request.log.info(`WAL segments to make the backup consistent (${start.walFile} to ${stop.walFile}) are archived`);
    }
    await store.drain();
    await packs.close();
    if (store.deltaBlocks > 0)
      request.log.info(`${store.deltaBlocks} changed pages stored as deltas over their version in ${prior?.label ?? 'the prior backup'}`);
    const manifest = buildManifest(
      { label, type, prior, identity, start, stop, startTime, dbId: repository.currentDb.id, xidMin: snapshot?.xmin ?? null, fromStandby: standby !== null },
      listing.dirs,
      tablespaces,
      files,
      store,
      request.repository,
      packs.storedBytes,
    );
    await repository.commitBackup(manifest);
    request.log.info(`new backup label = ${label}`);
    return manifest;
  } catch (error) {
    await packs.abandon();
    await repository.discardBackup(label).catch(() => undefined);
    throw error;
  }
}

/** Names the tablespaces behind pg_tblspc's links (pg_tablespace). */
async function tablespacesOf(session: PgSession, links: readonly { oid: number; path: string }[]): Promise<ManifestTablespace[]> {
  if (links.length === 0) return [];
  const rows = await session.query<{ oid: number; spcname: string }>('SELECT oid::int AS oid, spcname FROM pg_tablespace');
  return links.map((link) => {
    const name = rows.find((row) => row.oid === link.oid)?.spcname;
    if (name === undefined) throw new KeelError('backup.tablespaces', `pg_tblspc/${link.oid} links to ${link.path} but no tablespace has oid ${link.oid}`);
    return { oid: link.oid, name, path: link.path };
  });
}

interface BackupFacts {
  label: string;
  type: BackupType;
  prior: Manifest | null;
  identity: ClusterIdentity;
  start: { lsn: string; walFile: string };
  stop: { lsn: string; walFile: string };
  startTime: Date;
  dbId: number;
  xidMin: string | null;
  fromStandby: boolean;
}

/** The manifest's `crc32` field: absent when this Node computes none. */
function crcField(crcs: number[] | null): { crc32?: number[] } {
  return crcs === null ? {} : { crc32: crcs };
}

function buildManifest(
  facts: BackupFacts,
  dirs: { path: string; mode: number }[],
  tablespaces: ManifestTablespace[],
  stored: StoredFile[],
  store: BlockStore,
  repository: RepositoryOptions,
  newStored: number,
): Manifest {
  const { label, type, prior, identity, start, stop, startTime } = facts;
  const packs: string[] = [];
  const packIndex = new Map<string, number>();
  let referencedStored = 0;
  const countedFrames = new Set<string>();
  /** The pack's index in `packs`, and the frame counted once in referencedStored. */
  const refer = (pack: string, frameOffset: number, frameStoredBytes: number): number => {
    let index = packIndex.get(pack);
    if (index === undefined) {
      index = packs.length;
      packs.push(pack);
      packIndex.set(pack, index);
    }
    const frameKey = `${pack}@${frameOffset}`;
    if (!countedFrames.has(frameKey)) {
      countedFrames.add(frameKey);
      referencedStored += frameStoredBytes;
    }
    return index;
  };
  const files: ManifestFile[] = stored.map(({ file, refs }) => ({
    ...file,
    blocks: refs.map((ref): BlockRef => {
      const index = refer(ref.pack, ref.frameOffset, ref.frameStoredBytes);
      const literal: BlockRef = [ref.hash, index, ref.frameOffset, ref.frameStoredBytes, ref.offsetInFrame, ref.plainBytes];
      if (ref.base === undefined) return literal;
      const base = ref.base;
      return [...literal, refer(base.pack, base.frameOffset, base.frameStoredBytes), base.frameOffset, base.frameStoredBytes, base.offsetInFrame];
    }),
  }));
  const references = new Set<string>();
  for (const pack of packs) {
    const owner = pack.split('/')[1] ?? '';
    if (owner !== label) references.add(owner);
  }
  return {
    format: MANIFEST_FORMAT,
    label,
    type,
    prior: prior?.label ?? null,
    dbId: facts.dbId,
    references: [...references].sort(),
    startTime: startTime.toISOString(),
    stopTime: new Date().toISOString(),
    pg: { version: identity.pgVersion, systemId: identity.systemId, dataChecksums: identity.dataChecksums },
    timeline: parseInt(start.walFile.slice(0, 8), 16),
    lsnStart: start.lsn,
    lsnStop: stop.lsn,
    walStart: start.walFile,
    walStop: stop.walFile,
    xidMin: facts.xidMin,
    fromStandby: facts.fromStandby,
    compressType: repository.compressType,
    cipherType: repository.cipherType,
    blockBytes: DEFAULT_BLOCK_BYTES,
    packs,
    dirs,
    tablespaces,
    files,
    sizes: { database: databaseBytes(files), newStored, referencedStored, newPlain: store.newPlainBytes },
  };
}

/** Whether the page at `position` still holds `bytes` (a second read of a page that failed its checksum). */
async function readsTheSame(handle: FileHandle, position: number, bytes: Buffer): Promise<boolean> {
  const again = Buffer.alloc(bytes.length);
  const { bytesRead } = await handle.read(again, 0, again.length, position);
  return bytesRead === bytes.length && again.equals(bytes);
}

/** "3, 7-9": page numbers as a warning lists them. */
function formatPages(pages: readonly number[]): string {
  return pageRanges(pages)
    .map((range) => (typeof range === 'number' ? String(range) : `${range[0]}-${range[1]}`))
    .join(', ');
}

/** Bytes read (and hashed by a worker) at a time. */
const READ_CHUNK_BYTES = DEFAULT_BLOCK_BYTES * FRAME_BLOCKS_MAX * 8;

/**
 * A buffer for one frame's plain bytes: its own ArrayBuffer (not the shared pool), so it can be
 * transferred to an encode worker; not zeroed, since only the bytes blocks were copied to are
 * ever used (a backup allocates one per 128 KiB stored, and zeroing them was measurable).
 */
function newFrameBuffer(): Buffer {
  return Buffer.allocUnsafeSlow(DEFAULT_BLOCK_BYTES * FRAME_BLOCKS_MAX);
}

/** The stored page a block at `blockNumber` of the prior backup's file can be a delta over, if it had one of that size. */
function previousVersion(previous: { blocks: readonly BlockRef[]; packs: readonly string[] } | null, blockNumber: number, length: number): BaseLocation | null {
  const ref = previous?.blocks[blockNumber];
  if (previous === null || ref === undefined || ref[5] !== length) return null;
  return literalBaseOf(locationOf(ref, previous.packs));
}

/**
 * Files stored at once. Most of a data directory's files are small (a database's catalog is
 * hundreds of files of a few pages): one at a time, each waited on its open, read, hash and
 * close in turn, and the workers idled through them (about a second of a pgbench scale-50 full
 * backup). A few at once keep the reads and the workers busy; blocks of different files may then
 * share a frame, which changes nothing (a block's location is its own).
 */
const FILES_IN_FLIGHT = 4;

/** "16/B374D848" -> bigint. */
function parseLsn(text: string): bigint {
  const [high = '0', low = '0'] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/**
 * Stores the blocks of files that are not known yet. New blocks of one file are gathered into a
 * frame (up to FRAME_BLOCKS_MAX) and compressed together; their locations are filled in when the
 * frame is written, which happens before storeFile returns. A block seen twice is stored once.
 * A new block whose file had a block of the same size at the same place in the prior backup is
 * a delta candidate: the encoder stores it as its XOR with that page's stored version when that
 * is mostly zeros (frame-delta.ts), and the location then names that base too.
 */
class BlockStore {
  newPlainBytes = 0;
  /** Blocks stored as deltas (for the log). */
  deltaBlocks = 0;
  private frame: { ref: HashedLocation; base: BaseLocation | null }[] = [];
  /**
   * The frame being filled: new blocks are copied here as they are read, and the buffer is handed
   * to the encoder whole (transferred to a worker, no second copy); a fresh one per frame.
   */
  private frameBuffer = newFrameBuffer();
  private frameBytes = 0;
  /**
   * Read buffers, reused: a chunk goes to a worker to be hashed and comes back; its new blocks are
   * copied into frames before the buffer reads again (readAhead + 1 in use at a time).
   */
  private readonly chunkBuffers: Buffer[] = [];
  /** Chunks read and hashed ahead of the one being stored. */
  private readonly readAhead: number;
  /** Frames being encoded; each is appended to the packs after the one cut before it. */
  private appends: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  constructor(
    private readonly pool: EncodePool,
    private readonly packs: PackWriter,
    private readonly known: Map<string, BlockLocation>,
    private readonly framesInFlightMax: number,
    workers: number,
  ) {
    this.readAhead = Math.max(1, workers);
  }

  /** Waits until every frame is in a pack: only then are all block locations known. */
  async drain(): Promise<void> {
    this.appends = [];
    await this.tail;
  }

  /**
   * Stores one file's blocks. With `pageCheck` (a relation file while data checksums are on) each
   * full page's checksum is verified as pgBackRest does; a page that fails is read again, and
   * reported only if it reads the same (else PostgreSQL was writing it, and WAL replay rewrites it).
   */
  async storeFile(
    path: string,
    onBytes: (bytes: number) => void,
    pageCheck: { firstBlock: number; startLsn: bigint } | null = null,
    previous: { blocks: readonly BlockRef[]; packs: readonly string[] } | null = null,
  ): Promise<(StoredContent & { badPages: number[] }) | null> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const refs: HashedLocation[] = [];
    let crcs: number[] | null = blockCrc === null ? null : [];
    const badPages: number[] = [];
    let readAt = 0;
    let size = 0;
    /** Reads the chunk at the next offset and has a worker hash it (null past the end of the file). */
    const readNext = async (): Promise<{ examined: ExaminedChunk; offset: number } | null> => {
      const offset = readAt;
      readAt += READ_CHUNK_BYTES;
      const buffer = this.chunkBuffers.pop() ?? Buffer.from(new ArrayBuffer(READ_CHUNK_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) {
        this.chunkBuffers.push(buffer);
        return null;
      }
      return { examined: await this.pool.examine(buffer.subarray(0, bytesRead), pageCheck, offset / DEFAULT_BLOCK_BYTES), offset };
    };
    // chunks read and hashed ahead (one per worker), in file order, while earlier ones' new blocks go into frames
    const ahead: Promise<{ examined: ExaminedChunk; offset: number } | null>[] = [];
    try {
      for (;;) {
        while (ahead.length < this.readAhead) {
          const chunk = readNext();
          chunk.catch(() => undefined); // thrown where it is awaited
          ahead.push(chunk);
        }
        const current = await ahead.shift();
        if (current === null || current === undefined) break;
        const { examined, offset } = current;
        const data = examined.chunk;
        for (let at = 0, i = 0; at < data.length; at += DEFAULT_BLOCK_BYTES, i++) {
          const block = data.subarray(at, Math.min(data.length, at + DEFAULT_BLOCK_BYTES));
          const page = (offset + at) / DEFAULT_BLOCK_BYTES;
          // a page failing its checksum is read again: reported only if it reads the same (else PostgreSQL was writing it)
          if (examined.failingPages.includes(i) && (await readsTheSame(handle, offset + at, block))) badPages.push(page);
          refs.push(await this.storeBlock(block, examined.hashes[i] as string, previousVersion(previous, page, block.length)));
        }
        if (examined.crcs === null) crcs = null;
        else crcs?.push(...examined.crcs);
        size = offset + data.length;
        onBytes(data.length);
        this.chunkBuffers.push(Buffer.from(data.buffer, 0, READ_CHUNK_BYTES));
        // a short read is the end of the file as it was when read: chunks read after it (the file grew) would leave a hole
        if (data.length < READ_CHUNK_BYTES) break;
      }
    } finally {
      await Promise.allSettled(ahead); // no read may outlive the handle
      await handle.close();
    }
    await this.flushFrame();
    return { size, refs, crcs, badPages };
  }

  async storeBuffer(data: Buffer): Promise<StoredContent> {
    const refs: HashedLocation[] = [];
    // a file's blocks examined as storeFile's are (hashes and CRC-32s), on this thread: a few KiB
    const { hashes, crcs } = examineChunk(data, null, 0);
    for (let at = 0, i = 0; at < data.length; at += DEFAULT_BLOCK_BYTES, i++) {
      refs.push(await this.storeBlock(data.subarray(at, Math.min(data.length, at + DEFAULT_BLOCK_BYTES)), hashes[i] as string, null));
    }
    await this.flushFrame();
    return { size: data.length, refs, crcs };
  }

  private async storeBlock(block: Buffer, hash: string, base: BaseLocation | null): Promise<HashedLocation> {
    const existing = this.known.get(hash);
    // a block of a frame not yet written is shared as is: its location is filled in at the flush
    if (existing !== undefined) return 'hash' in existing ? (existing as HashedLocation) : { ...existing, hash };
    const ref: HashedLocation = { hash, pack: '', frameOffset: 0, frameStoredBytes: 0, offsetInFrame: 0, plainBytes: block.length };
    this.frameBytes += block.copy(this.frameBuffer, this.frameBytes);
    this.frame.push({ ref, base });
    this.known.set(hash, ref);
    if (this.frame.length >= FRAME_BLOCKS_MAX) await this.flushFrame();
    return ref;
  }

  private async flushFrame(): Promise<void> {
    if (this.frame.length === 0) return;
    const blocks = this.frame;
    this.frame = [];
    const plain = this.frameBuffer.subarray(0, this.frameBytes);
    this.frameBuffer = newFrameBuffer();
    this.frameBytes = 0;
    this.newPlainBytes += plain.length;
    const candidates: DeltaCandidate[] = [];
    const candidateRefs: HashedLocation[] = [];
    let offset = 0;
    for (const { ref, base } of blocks) {
      if (base !== null) {
        candidates.push({ offset, length: ref.plainBytes, base });
        candidateRefs.push(ref);
      }
      offset += ref.plainBytes;
    }
    // no checksum in the frame's header: each block's hash in the manifest checks it (one hashing pass)
    const encoding = this.pool.encode(plain, candidates);
    this.tail = this.tail.then(async () => {
      const { encoded, deltas } = await encoding;
      const stored = await this.packs.append(encoded);
      let offsetInFrame = 0;
      for (const { ref } of blocks) {
        Object.assign(ref, { pack: stored.pack, frameOffset: stored.offset, frameStoredBytes: stored.storedBytes, offsetInFrame });
        offsetInFrame += ref.plainBytes;
      }
      deltas.forEach((isDelta, i) => {
        if (!isDelta) return;
        (candidateRefs[i] as HashedLocation).base = (candidates[i] as DeltaCandidate).base;
        this.deltaBlocks++;
      });
    });
    // a failure is thrown where the frame is awaited (backpressure or drain), never left unhandled
    this.tail.catch(() => undefined);
    this.appends.push(this.tail);
    const oldest = this.appends.length > this.framesInFlightMax ? this.appends.shift() : undefined;
    if (oldest !== undefined) await oldest;
  }
}
