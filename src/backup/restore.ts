/**
 * `keel backup restore`: rebuilds pg1-path from one backup (its manifest names every block, also
 * those stored by earlier backups), then writes the recovery settings. Invariants:
 *  - nothing is written before every check passed (backup chosen, target valid, directory
 *    empty or --delta/--force, PostgreSQL not running on it);
 *  - global/pg_control is removed first and written last, after every other file, the recovery
 *    settings and every directory are fsynced, so an interrupted restore (or a crash) leaves a
 *    directory PostgreSQL refuses to start;
 *  - every block is checked against its hash before it is written; a corrupt one stops the restore.
 * Files are cut into chunks that process-max worker threads restore (restore-pool.ts).
 */
import { mkdir, open, readFile, readdir, rm, utimes, writeFile, chmod, lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { Repository, isAlive } from './repository.js';
import { diskFullError } from './durable-file.js';
import { planRestore, type TablespaceDestination, type TablespaceMapping } from './restore-plan.js';
import { linkTablespaces, tablespaceLinkTargets } from './tablespace-links.js';
import { recoveryLines, rewriteAutoConf, type RecoveryTarget } from './recovery-settings.js';
import { Progress } from './progress.js';
import { RestorePool } from './restore-pool.js';
import type { RestoreChunk } from './restore-chunk.js';
import { blockRecordsOf, type Manifest, type ManifestFile } from './core/manifest.js';
import type { RepositoryOptions } from './repository.js';
import type { BackupLog } from './log.js';
import { mapLimit } from './concurrency.js';

export interface RestoreRequest {
  repository: RepositoryOptions;
  pgPath: string;
  set: string | null;
  target: RecoveryTarget;
  delta: boolean;
  force: boolean;
  tablespaceMapping: TablespaceMapping;
  restoreCommand: string;
  log: BackupLog;
  progress: boolean | undefined;
  /** Worker threads restoring chunks (1 or absent: on the main thread). */
  processMax?: number;
  /**
   * Called once the files are written, before the final fsyncs (the CPU is idle then): the
   * command starts restore_command's server there.
   */
  onFilesWritten?: () => void;
}

/** Blocks per chunk: a large relation is restored by several workers at once. */
const CHUNK_BLOCKS = 2048;
/**
 * A file restored in several chunks is flushed (fsync, in the background) after every this many
 * chunks that wrote something (64 MiB in a fresh restore), not only once complete: the kernel lets a tenth of memory stay
 * dirty before writing back on its own, so the final fsync of a large relation flushed hundreds
 * of MiB while every worker had finished and waited (about 0.3 s of a 770 MiB restore).
 */
const FLUSH_EVERY_CHUNKS = 4;
/** fsyncs in flight at once in the final sync pass. */
const SYNC_CONCURRENCY = 8;
/** File checks, truncations and mtime updates in flight at once. */
const PREPARE_CONCURRENCY = 8;

export async function runRestore(request: RestoreRequest): Promise<Manifest> {
  const repository = await Repository.open(request.repository);
  // the workers start loading while the manifest is read and checked (they write nothing until sent chunks)
  const pool = new RestorePool(repository.root, repository.codec.key, request.processMax ?? 1);
  try {
    const { manifest, tablespaces } = await planRestore(repository, request);
    await checkDestination(request);
    pool.usePacks(manifest.packs);
    request.log.info(`restore backup set ${manifest.label}${request.delta ? ' (delta)' : ''}`);
    for (const t of tablespaces) if (t.destination !== t.path) request.log.info(`map tablespace 'pg_tblspc/${t.oid}' to '${t.destination}'`);

    const written = await restoreInto(pool, request, manifest, tablespaces).catch(async (error: unknown) => {
      // a pg_control cut short (the filesystem filled while it was written) must not be left either
      await rm(join(request.pgPath, 'global', 'pg_control'), { force: true }).catch(() => undefined);
      // a full filesystem is one line naming the file, or pg1-path when the error names none (a write through a handle)
      throw diskFullError(error, (error as NodeJS.ErrnoException).path ?? request.pgPath);
    });
    request.log.info(`restore of ${manifest.label} complete: ${written} of ${manifest.files.length} files written`);
    return manifest;
  } finally {
    await pool.close();
  }
}

/** Writes the data directory (pg_control removed first, written last); returns how many files were written. */
async function restoreInto(pool: RestorePool, request: RestoreRequest, manifest: Manifest, tablespaces: readonly TablespaceDestination[]): Promise<number> {
  await mkdir(request.pgPath, { recursive: true, mode: 0o700 });
  await chmod(request.pgPath, 0o700);
  await rm(join(request.pgPath, 'global', 'pg_control'), { force: true });
  if (request.delta || request.force) await removeExtraneous(request.pgPath, manifest, tablespaceLinkTargets(tablespaces));
  await linkTablespaces(request.pgPath, tablespaces);
  for (const dir of manifest.dirs) await mkdir(join(request.pgPath, dir.path), { recursive: true, mode: dir.mode });

  const control = manifest.files.find((f) => f.path === 'global/pg_control');
  if (control === undefined) throw new KeelError('backup.manifest_corrupt', `backup ${manifest.label} has no global/pg_control`);
  const progress = new Progress(`restore ${manifest.label}`, manifest.sizes.database, request.progress, { log: request.log });
  const files = manifest.files.filter((f) => f !== control);
  const touched = await restoreFiles(pool, request.pgPath, files, request.delta || request.force, progress);
  request.onFilesWritten?.();
  await writeRecovery(request, manifest);
  // everything but pg_control is durable before pg_control is written: a crash before it leaves a directory PostgreSQL refuses
  await syncAll(request.pgPath, manifest);
  await restoreFiles(pool, request.pgPath, [control], false, progress); // fsynced when written
  await syncPaths([join(request.pgPath, 'global')]);
  progress.finish();
  return touched + 1;
}

/** What the chunks of one file did. */
interface FileState {
  /** Created, resized or written. */
  touched: boolean;
  timed: boolean;
  chunksLeft: number;
  /** Chunks written since the last early flush was started (FLUSH_EVERY_CHUNKS), and whether one is running. */
  writtenSinceFlush: number;
  flushing: boolean;
}

/**
 * Restores files (with delta, fitting existing ones to size first). As each file is complete,
 * sets its mtime (unless its only chunk did) and fsyncs it, in the background and many at once,
 * so the flush to disk overlaps the restore of the files after it (a large file is also flushed
 * while it is written: FLUSH_EVERY_CHUNKS). Returns how many files were
 * touched (created, resized or written); every one of them is durable when this returns.
 */
async function restoreFiles(pool: RestorePool, root: string, files: readonly ManifestFile[], delta: boolean, progress: Progress): Promise<number> {
  const chunks: RestoreChunk[] = [];
  const fileOf = new Map<RestoreChunk, ManifestFile>();
  const states = new Map<ManifestFile, FileState>();
  await mapLimit(files, PREPARE_CONCURRENCY, async (file) => {
    const changed = delta ? await fitExisting(join(root, file.path), file) : 'absent';
    const fileChunks = chunksOf(root, file, changed);
    states.set(file, { touched: changed !== 'same', timed: false, chunksLeft: fileChunks.length, writtenSinceFlush: 0, flushing: false });
    for (const chunk of fileChunks) {
      chunks.push(chunk);
      fileOf.set(chunk, file);
    }
  });
  const finishing = new BackgroundTasks(SYNC_CONCURRENCY);
  const finish = async (file: ManifestFile, state: FileState) => {
    const path = join(root, file.path);
    if (!state.timed) await utimes(path, new Date(file.mtimeMs), new Date(file.mtimeMs));
    await syncPaths([path]);
  };
  await pool
    .run(chunks, (chunk, outcome) => {
      const file = fileOf.get(chunk) as ManifestFile;
      const state = states.get(file) as FileState;
      state.touched ||= outcome.writtenBytes > 0;
      state.timed ||= outcome.timed;
      if (outcome.writtenBytes > 0) state.writtenSinceFlush++;
      if (--state.chunksLeft === 0) {
        if (state.touched) finishing.add(() => finish(file, state));
      } else if (state.writtenSinceFlush >= FLUSH_EVERY_CHUNKS && !state.flushing) {
        state.writtenSinceFlush = 0;
        state.flushing = true;
        finishing.add(() => syncPaths([join(root, file.path)]).finally(() => (state.flushing = false)));
      }
      progress.advance(chunk.bytes);
    })
    .finally(() => finishing.settled());
  await finishing.drain();
  return files.filter((f) => states.get(f)?.touched === true).length;
}

/** Tasks run in the background, at most `limit` at once. */
class BackgroundTasks {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly started: Promise<void>[] = [];

  constructor(private readonly limit: number) {}

  add(task: () => Promise<void>): void {
    const run = async () => {
      while (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
      this.running++;
      try {
        await task();
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    };
    const started = run();
    started.catch(() => undefined); // awaited by drain(); not an unhandled rejection meanwhile
    this.started.push(started);
  }

  /** Waits for every task, whatever its outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.started);
  }

  /** Waits for every task; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.started);
  }
}

/**
 * With delta: truncates or extends an existing file to the backed-up size and sets its mode.
 * 'absent' when there is no regular file there (it is created), 'same' when size and mode match.
 */
async function fitExisting(path: string, file: ManifestFile): Promise<'absent' | 'same' | 'fitted'> {
  const existing = await lstat(path).catch(() => null);
  if (existing === null || !existing.isFile()) return 'absent';
  if (existing.size === file.size && (existing.mode & 0o7777) === file.mode) return 'same';
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(file.size);
    await handle.chmod(file.mode);
  } finally {
    await handle.close();
  }
  return 'fitted';
}

/** The file's chunks (one, empty, for an empty file: the worker creates it). */
function chunksOf(root: string, file: ManifestFile, existing: 'absent' | 'same' | 'fitted'): RestoreChunk[] {
  const chunks: RestoreChunk[] = [];
  // the blocks stay packed: a chunk carries its records, and no block reference is ever built here
  const { records, crc32Recorded } = blockRecordsOf(file);
  const single = records.count <= CHUNK_BLOCKS;
  let fileOffset = 0;
  for (let first = 0; first === 0 || first < records.count; first += CHUNK_BLOCKS) {
    const bytes = records.plainBytesOf(first, first + CHUNK_BLOCKS);
    chunks.push({
      path: join(root, file.path),
      relativePath: file.path,
      mode: file.mode,
      firstBlock: first,
      fileOffset,
      records: records.copy(first, first + CHUNK_BLOCKS),
      crc32Recorded,
      bytes,
      delta: existing !== 'absent',
      changed: existing !== 'same',
      mtimeMs: single ? file.mtimeMs : null,
    });
    fileOffset += bytes;
  }
  return chunks;
}

/** fsyncs the recovery settings, then every directory (the files are synced as each is complete). */
async function syncAll(root: string, manifest: Manifest): Promise<void> {
  const recovery = ['postgresql.auto.conf', 'recovery.signal', 'standby.signal'].map((name) => join(root, name));
  await syncPaths(recovery);
  await syncPaths([root, ...manifest.dirs.map((d) => join(root, d.path))]);
}

/** fsyncs each path that exists, SYNC_CONCURRENCY at a time. */
async function syncPaths(paths: readonly string[]): Promise<void> {
  await mapLimit(paths, SYNC_CONCURRENCY, async (path) => {
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (handle === null) return;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

async function checkDestination(request: RestoreRequest): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(request.pgPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // absent: created now, so that a path this user cannot create fails before anything is read or written
    await mkdir(request.pgPath, { recursive: true, mode: 0o700 });
    return;
  }
  const pidText = await readFile(join(request.pgPath, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = pidText === null ? NaN : Number(pidText.split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    throw new KeelError('backup.pg_running', `PostgreSQL is running on ${request.pgPath} (pid ${pid}); stop it before restoring`);
  }
  if (entries.length > 0 && !request.delta && !request.force) {
    throw new KeelError('backup.dest_not_empty', `pg1-path ${request.pgPath} is not empty; refusing to restore over it`, {
      hint: 'use --delta (or --force) to restore over an existing cluster',
    });
  }
}

/**
 * With --delta: removes what the backup does not have (a relation created after it, stale WAL).
 * A tablespace link pointing where it should is walked into; any other link is removed (never followed).
 */
async function removeExtraneous(root: string, manifest: Manifest, links: ReadonlyMap<string, string>): Promise<void> {
  const wantedFiles = new Set(manifest.files.map((f) => f.path));
  const wantedDirs = new Set(manifest.dirs.map((d) => d.path));
  const visit = async (relative: string): Promise<void> => {
    for (const name of await readdir(join(root, relative)).catch(() => [] as string[])) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const info = await lstat(join(root, path));
      if (info.isSymbolicLink() && links.get(path) === (await readlink(join(root, path)))) await visit(path);
      else if (info.isDirectory() && wantedDirs.has(path)) await visit(path);
      else if (!(info.isFile() && wantedFiles.has(path))) await rm(join(root, path), { recursive: true, force: true });
    }
  };
  await visit('');
}

async function writeRecovery(request: RestoreRequest, manifest: Manifest): Promise<void> {
  const autoConf = join(request.pgPath, 'postgresql.auto.conf');
  for (const signal of ['recovery.signal', 'standby.signal']) await rm(join(request.pgPath, signal), { force: true });
  if (request.target.type === 'none' || request.target.type === 'preserve') return;
  const existing = await readFile(autoConf, 'utf8').catch(() => '');
  await writeFile(autoConf, rewriteAutoConf(existing, recoveryLines(request.restoreCommand, request.target), manifest.label), { mode: 0o600 });
  await writeFile(join(request.pgPath, request.target.type === 'standby' ? 'standby.signal' : 'recovery.signal'), '', { mode: 0o600 });
}
