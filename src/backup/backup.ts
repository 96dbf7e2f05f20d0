/**
 * `keel backup backup --type full|diff|incr`: a non-exclusive base backup over a libpq session.
 *
 * Order, and why: the stanza lock is taken and what an interrupted backup left is collected;
 * the backup is marked in progress; pg_backup_start; every file is read in 8 KiB blocks and
 * only blocks unknown to the prior backup are stored (packs); pg_backup_stop returns
 * backup_label, stored as a file; the WAL up to the stop point must be archived (else the backup
 * could never be made consistent); packs are fsynced; only then the manifest is committed.
 * A failure or kill at any point before the commit leaves no manifest, so nothing usable-looking.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { Repository } from './repository.js';
import { PackWriter } from './pack-writer.js';
import { PgSession, type ClusterIdentity } from './pg-session.js';
import { listDataDir } from './data-dir.js';
import { blockHash } from './object-codec.js';
import { EncodePool } from './encode-pool.js';
import { waitForArchived } from './archive.js';
import { DEFAULT_BLOCK_BYTES } from './core/blocks.js';
import {
  blockIndex,
  databaseBytes,
  FRAME_BLOCKS_MAX,
  MANIFEST_FORMAT,
  type BlockLocation,
  type BlockRef,
  type Manifest,
  type ManifestFile,
} from './core/manifest.js';
import { makeLabel, parseLabel, type BackupType } from './core/label.js';
import { Progress } from './progress.js';
import type { BackupLog } from './log.js';
import type { PgConnection } from './settings.js';
import type { RepositoryOptions } from './repository.js';

export interface BackupRequest {
  repository: RepositoryOptions;
  connection: PgConnection;
  pgPath: string;
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
type StoredContent = { size: number; refs: HashedLocation[] };
/** A backed-up file before its block locations are turned into manifest references. */
type StoredFile = { file: Omit<ManifestFile, 'blocks'>; refs: HashedLocation[] };

export async function runBackup(request: BackupRequest): Promise<Manifest> {
  const repository = await Repository.open(request.repository);
  const session = await PgSession.connect(request.connection);
  try {
    const identity = await session.identity();
    checkIdentity(identity, request, repository);
    const unlock = await repository.lock('backup');
    try {
      const cleaned = await repository.collectGarbage();
      for (const label of cleaned.removedPartials) request.log.warn(`removed interrupted backup ${label} (it was never committed)`);
      return await takeBackup(repository, session, identity, request);
    } finally {
      await unlock();
    }
  } finally {
    await session.close();
  }
}

function checkIdentity(identity: ClusterIdentity, request: BackupRequest, repository: Repository): void {
  repository.checkCluster(identity);
  if (identity.inRecovery)
    throw new KeelError('backup.standby', 'the PostgreSQL at pg1 is a standby; keel backs up from the primary only (backup-standby is not supported yet)');
  if (identity.dataDirectory !== request.pgPath) {
    throw new KeelError('backup.path_mismatch', `pg1-path is ${request.pgPath} but the server at pg1 runs on ${identity.dataDirectory}`);
  }
  if (request.archiveCheck && identity.archiveMode === 'off') {
    throw new KeelError('backup.archive_off', 'archive_mode is off: a backup could not be made consistent without its WAL', {
      hint: "set archive_mode = on and archive_command = 'keel backup archive-push %p --stanza=...'",
    });
  }
}

async function takeBackup(repository: Repository, session: PgSession, identity: ClusterIdentity, request: BackupRequest): Promise<Manifest> {
  const labels = await repository.backupLabels();
  const latest = labels[labels.length - 1] ?? null;
  const latestFull = [...labels].reverse().find((l) => parseLabel(l)?.type === 'full') ?? null;
  let type = request.type;
  if (type !== 'full' && latestFull === null) {
    request.log.warn(`no prior backup exists, ${type} backup has been changed to full`);
    type = 'full';
  }
  const priorLabel = type === 'full' ? null : type === 'diff' ? latestFull : latest;
  const prior = priorLabel === null ? null : await repository.readManifest(priorLabel);
  const known: Map<string, BlockLocation> = prior === null ? new Map() : blockIndex(prior);
  const startTime = new Date();
  const label = makeLabel(type, startTime, type === 'full' ? null : (parseLabel(priorLabel ?? '')?.fullLabel ?? null), latest);
  request.log.info(`backup start: label ${label}${prior === null ? '' : `, prior ${prior.label}`}`);

  await repository.beginBackup(label);
  const packs = new PackWriter(repository.root, label);
  const pool = new EncodePool(repository.codec, request.processMax);
  try {
    const start = await session.backupStart(label, request.startFast);
    request.log.info(`backup start archive = ${start.walFile}, lsn = ${start.lsn}`);
    const listing = await listDataDir(request.pgPath);
    const progress = new Progress(
      `backup ${label}`,
      listing.files.reduce((sum, f) => sum + f.size, 0),
      request.progress,
      { log: request.log },
    );
    const store = new BlockStore(pool, packs, known, request.processMax * 8);
    const files: StoredFile[] = [];
    for (const file of listing.files) {
      const stored = await store.storeFile(join(request.pgPath, file.path), (bytes) => progress.advance(bytes));
      if (stored === null) continue; // removed during the backup (a dropped relation): WAL replay recreates what matters
      files.push({ file: { path: file.path, mode: file.mode, mtimeMs: file.mtimeMs, size: stored.size }, refs: stored.refs });
    }
    progress.finish();
    const stop = await session.backupStop();
    request.log.info(`backup stop archive = ${stop.walFile}, lsn = ${stop.lsn}`);
    for (const [path, text] of [
      ['backup_label', stop.backupLabel],
      ['tablespace_map', stop.tablespaceMap],
    ] as const) {
      if (text === '') continue;
      const stored = await store.storeBuffer(Buffer.from(text));
      files.push({ file: { path, mode: 0o600, mtimeMs: Date.now(), size: stored.size }, refs: stored.refs });
    }
    if (request.archiveCheck) {
      await waitForArchived(repository, stop.walFile, request.archiveTimeoutMs, identity.archiveCommand);
      request.log.info(`WAL segments to make the backup consistent (${start.walFile} to ${stop.walFile}) are archived`);
    }
    await store.drain();
    await packs.close();
    const manifest = buildManifest(label, type, prior, identity, start, stop, startTime, listing.dirs, files, store, request.repository, packs.storedBytes);
    await repository.commitBackup(manifest);
    request.log.info(`new backup label = ${label}`);
    return manifest;
  } catch (error) {
    await packs.abandon();
    throw error;
  } finally {
    await pool.close();
  }
}

function buildManifest(
  label: string,
  type: BackupType,
  prior: Manifest | null,
  identity: ClusterIdentity,
  start: { lsn: string; walFile: string },
  stop: { lsn: string; walFile: string },
  startTime: Date,
  dirs: { path: string; mode: number }[],
  stored: StoredFile[],
  store: BlockStore,
  repository: RepositoryOptions,
  newStored: number,
): Manifest {
  const packs: string[] = [];
  const packIndex = new Map<string, number>();
  let referencedStored = 0;
  const countedFrames = new Set<string>();
  const files: ManifestFile[] = stored.map(({ file, refs }) => ({
    ...file,
    blocks: refs.map((ref): BlockRef => {
      let index = packIndex.get(ref.pack);
      if (index === undefined) {
        index = packs.length;
        packs.push(ref.pack);
        packIndex.set(ref.pack, index);
      }
      const frameKey = `${ref.pack}@${ref.frameOffset}`;
      if (!countedFrames.has(frameKey)) {
        countedFrames.add(frameKey);
        referencedStored += ref.frameStoredBytes;
      }
      return [ref.hash, index, ref.frameOffset, ref.frameStoredBytes, ref.offsetInFrame, ref.plainBytes];
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
    references: [...references].sort(),
    startTime: startTime.toISOString(),
    stopTime: new Date().toISOString(),
    pg: { version: identity.pgVersion, systemId: identity.systemId, dataChecksums: identity.dataChecksums },
    timeline: parseInt(start.walFile.slice(0, 8), 16),
    lsnStart: start.lsn,
    lsnStop: stop.lsn,
    walStart: start.walFile,
    walStop: stop.walFile,
    compressType: repository.compressType,
    cipherType: repository.cipherType,
    blockBytes: DEFAULT_BLOCK_BYTES,
    packs,
    dirs,
    files,
    sizes: { database: databaseBytes(files), newStored, referencedStored, newPlain: store.newPlainBytes },
  };
}

/**
 * Stores the blocks of files that are not known yet. New blocks of one file are gathered into a
 * frame (up to FRAME_BLOCKS_MAX) and compressed together; their locations are filled in when the
 * frame is written, which happens before storeFile returns. A block seen twice is stored once.
 */
class BlockStore {
  newPlainBytes = 0;
  private frame: { ref: HashedLocation; data: Buffer }[] = [];
  /** Frames being encoded; each is appended to the packs after the one cut before it. */
  private appends: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  constructor(
    private readonly pool: EncodePool,
    private readonly packs: PackWriter,
    private readonly known: Map<string, BlockLocation>,
    private readonly framesInFlightMax: number,
  ) {}

  /** Waits until every frame is in a pack: only then are all block locations known. */
  async drain(): Promise<void> {
    this.appends = [];
    await this.tail;
  }

  async storeFile(path: string, onBytes: (bytes: number) => void): Promise<StoredContent | null> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const refs: HashedLocation[] = [];
    let size = 0;
    try {
      for (;;) {
        // a fresh buffer per read: blocks waiting in a frame keep referencing it
        const chunk = Buffer.allocUnsafe(DEFAULT_BLOCK_BYTES * FRAME_BLOCKS_MAX * 8);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        const data = chunk.subarray(0, bytesRead);
        for (let at = 0; at < bytesRead; at += DEFAULT_BLOCK_BYTES)
          refs.push(await this.storeBlock(data.subarray(at, Math.min(bytesRead, at + DEFAULT_BLOCK_BYTES))));
        size += bytesRead;
        onBytes(bytesRead);
      }
    } finally {
      await handle.close();
    }
    await this.flushFrame();
    return { size, refs };
  }

  async storeBuffer(data: Buffer): Promise<StoredContent> {
    const refs: HashedLocation[] = [];
    for (let at = 0; at < data.length; at += DEFAULT_BLOCK_BYTES)
      refs.push(await this.storeBlock(data.subarray(at, Math.min(data.length, at + DEFAULT_BLOCK_BYTES))));
    await this.flushFrame();
    return { size: data.length, refs };
  }

  private async storeBlock(block: Buffer): Promise<HashedLocation> {
    const hash = blockHash(block);
    const existing = this.known.get(hash);
    // a block of a frame not yet written is shared as is: its location is filled in at the flush
    if (existing !== undefined) return 'hash' in existing ? (existing as HashedLocation) : { ...existing, hash };
    const ref: HashedLocation = { hash, pack: '', frameOffset: 0, frameStoredBytes: 0, offsetInFrame: 0, plainBytes: block.length };
    this.frame.push({ ref, data: block });
    this.known.set(hash, ref);
    if (this.frame.length >= FRAME_BLOCKS_MAX) await this.flushFrame();
    return ref;
  }

  private async flushFrame(): Promise<void> {
    if (this.frame.length === 0) return;
    const blocks = this.frame;
    this.frame = [];
    const plain = Buffer.concat(blocks.map((b) => b.data));
    this.newPlainBytes += plain.length;
    // no checksum in the frame's header: each block's hash in the manifest checks it (one hashing pass)
    const encoded = this.pool.encode(plain);
    this.tail = this.tail.then(async () => {
      const stored = await this.packs.append(await encoded);
      let offsetInFrame = 0;
      for (const { ref } of blocks) {
        Object.assign(ref, { pack: stored.pack, frameOffset: stored.offset, frameStoredBytes: stored.storedBytes, offsetInFrame });
        offsetInFrame += ref.plainBytes;
      }
    });
    // a failure is thrown where the frame is awaited (backpressure or drain), never left unhandled
    this.tail.catch(() => undefined);
    this.appends.push(this.tail);
    const oldest = this.appends.length > this.framesInFlightMax ? this.appends.shift() : undefined;
    if (oldest !== undefined) await oldest;
  }
}
