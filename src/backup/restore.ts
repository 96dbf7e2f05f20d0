/**
 * `keel backup restore`: rebuilds pg1-path from one backup (its manifest names every block, also
 * those stored by earlier backups), then writes the recovery settings. Invariants:
 *  - nothing is written before every check passed (backup chosen, target valid, directory
 *    empty or --delta/--force, PostgreSQL not running on it);
 *  - global/pg_control is removed first and written last, so an interrupted restore leaves a
 *    directory PostgreSQL refuses to start;
 *  - every block is checked against its hash as it is read; a corrupt one stops the restore.
 */
import { mkdir, open, readFile, readdir, rm, stat, utimes, writeFile, chmod, lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { Repository, PackReader, isAlive } from './repository.js';
import { planRestore, type TablespaceMapping } from './restore-plan.js';
import { linkTablespaces, tablespaceLinkTargets } from './tablespace-links.js';
import { CorruptObjectError, blockHash, decodeObject } from './object-codec.js';
import { recoveryLines, rewriteAutoConf, type RecoveryTarget } from './recovery-settings.js';
import { Progress } from './progress.js';
import type { BlockRef, Manifest, ManifestFile } from './core/manifest.js';
import type { RepositoryOptions } from './repository.js';
import type { BackupLog } from './log.js';

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
}

const READ_RUN_BYTES_MAX = 4 * 1024 * 1024;
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;
const FRAME_CACHE_MAX = 256;
/** A run's frames must all fit in the cache until their blocks are written. */
const RUN_FRAMES_MAX = FRAME_CACHE_MAX / 2;

/**
 * Decoded frames recently read. An incremental's files interleave blocks of older frames with
 * new ones; without the cache a frame would be read and decompressed once per block it holds.
 */
class FrameCache {
  private readonly frames = new Map<string, Buffer>();
  get(pack: string, offset: number): Buffer | undefined {
    return this.frames.get(`${pack}@${offset}`);
  }
  set(pack: string, offset: number, frame: Buffer): void {
    if (this.frames.size >= FRAME_CACHE_MAX) {
      const oldest = this.frames.keys().next().value;
      if (oldest !== undefined) this.frames.delete(oldest);
    }
    this.frames.set(`${pack}@${offset}`, frame);
  }
}

/** Reads a run of back-to-back frames with one read and decodes each into the cache. */
async function readFrames(
  repository: Repository,
  reader: PackReader,
  cache: FrameCache,
  pack: string,
  run: FramesRun,
  path: string,
  index: number,
): Promise<void> {
  const bytes = await reader.read(repository.path(pack), run.offset, run.bytes);
  for (const frame of run.frames) {
    try {
      cache.set(pack, frame.offset, decodeObject(bytes.subarray(frame.offset - run.offset, frame.offset - run.offset + frame.stored), repository.codec.key));
    } catch (error) {
      if (error instanceof CorruptObjectError) {
        throw new KeelError('backup.block_corrupt', `block ${index} of ${path} (${pack} at ${frame.offset}) is corrupt: ${error.message}; restore refused`);
      }
      throw error;
    }
  }
}

export async function runRestore(request: RestoreRequest): Promise<Manifest> {
  const repository = await Repository.open(request.repository);
  const { manifest, tablespaces } = await planRestore(repository, request);
  await checkDestination(request);
  request.log.info(`restore backup set ${manifest.label}${request.delta ? ' (delta)' : ''}`);
  for (const t of tablespaces) if (t.destination !== t.path) request.log.info(`map tablespace 'pg_tblspc/${t.oid}' to '${t.destination}'`);

  await mkdir(request.pgPath, { recursive: true, mode: 0o700 });
  await chmod(request.pgPath, 0o700);
  await rm(join(request.pgPath, 'global', 'pg_control'), { force: true });
  if (request.delta || request.force) await removeExtraneous(request.pgPath, manifest, tablespaceLinkTargets(tablespaces));
  await linkTablespaces(request.pgPath, tablespaces);
  for (const dir of manifest.dirs) await mkdir(join(request.pgPath, dir.path), { recursive: true, mode: dir.mode });

  const reader = new PackReader();
  const frames = new FrameCache();
  const progress = new Progress(`restore ${manifest.label}`, manifest.sizes.database, request.progress);
  let copied = 0;
  try {
    const control = manifest.files.find((f) => f.path === 'global/pg_control');
    for (const file of manifest.files) {
      if (file === control) continue;
      if (await restoreFile(repository, reader, frames, request.pgPath, manifest.packs, file, request.delta || request.force)) copied++;
      progress.advance(file.size);
    }
    await writeRecovery(request, manifest);
    if (control === undefined) throw new KeelError('backup.manifest_corrupt', `backup ${manifest.label} has no global/pg_control`);
    await restoreFile(repository, reader, frames, request.pgPath, manifest.packs, control, false);
    progress.advance(control.size);
  } finally {
    await reader.close();
  }
  progress.finish();
  request.log.info(`restore of ${manifest.label} complete: ${copied} of ${manifest.files.length} files written`);
  return manifest;
}

async function checkDestination(request: RestoreRequest): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(request.pgPath);
  } catch {
    return; // absent: created
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

interface FramesRun {
  pack: number;
  offset: number;
  bytes: number;
  frames: { offset: number; stored: number }[];
  /** Index after the last block of the run. */
  end: number;
}

/** The blocks from `start` whose frames lie back to back in one pack: read with one read. */
function framesRun(blocks: readonly BlockRef[], start: number): FramesRun {
  const first = blocks[start];
  if (first === undefined) throw new Error('framesRun past the end');
  const run: FramesRun = { pack: first[1], offset: first[2], bytes: first[3], frames: [{ offset: first[2], stored: first[3] }], end: start + 1 };
  while (run.end < blocks.length) {
    const block = blocks[run.end];
    const last = run.frames[run.frames.length - 1];
    if (block === undefined || last === undefined || block[1] !== run.pack) break;
    if (block[2] !== last.offset) {
      if (block[2] !== last.offset + last.stored || run.bytes + block[3] > READ_RUN_BYTES_MAX || run.frames.length >= RUN_FRAMES_MAX) break;
      run.frames.push({ offset: block[2], stored: block[3] });
      run.bytes += block[3];
    }
    run.end++;
  }
  return run;
}

/** Writes one file unless (delta) it already has the backed-up content. Returns true when written. */
async function restoreFile(
  repository: Repository,
  reader: PackReader,
  frames: FrameCache,
  root: string,
  packs: readonly string[],
  file: ManifestFile,
  delta: boolean,
): Promise<boolean> {
  const path = join(root, file.path);
  if (delta && (await sameContent(path, file))) return false;
  const handle = await open(path, 'w', file.mode);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length > 0) await handle.writev(pending);
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (let index = 0; index < file.blocks.length; index++) {
      const block = file.blocks[index];
      if (block === undefined) continue;
      const pack = packs[block[1]];
      if (pack === undefined) throw new KeelError('backup.manifest_corrupt', `${file.path} references pack ${block[1]}, which the manifest does not list`);
      let frame = frames.get(pack, block[2]);
      if (frame === undefined) {
        await readFrames(repository, reader, frames, pack, framesRun(file.blocks, index), file.path, index);
        frame = frames.get(pack, block[2]);
        if (frame === undefined) throw new Error(`frame at ${block[2]} of ${pack} was not read`);
      }
      const data = frame.subarray(block[4], block[4] + block[5]);
      if (blockHash(data) !== block[0]) {
        throw new KeelError(
          'backup.block_corrupt',
          `block ${index} of ${file.path} (${pack} at ${block[2]}) is corrupt: block checksum mismatch; restore refused`,
        );
      }
      pending.push(data);
      pendingBytes += block[5];
      if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
    await handle.sync();
  } finally {
    await handle.close();
  }
  await utimes(path, new Date(file.mtimeMs), new Date(file.mtimeMs));
  return true;
}

/** True when the file on disk has exactly the backed-up blocks (--delta skips it). */
async function sameContent(path: string, file: ManifestFile): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  if (info === null || info.size !== file.size) return false;
  const data = await readFile(path);
  let offset = 0;
  for (const block of file.blocks) {
    if (blockHash(data.subarray(offset, offset + block[5])) !== block[0]) return false;
    offset += block[5];
  }
  return true;
}

async function writeRecovery(request: RestoreRequest, manifest: Manifest): Promise<void> {
  const autoConf = join(request.pgPath, 'postgresql.auto.conf');
  for (const signal of ['recovery.signal', 'standby.signal']) await rm(join(request.pgPath, signal), { force: true });
  if (request.target.type === 'none' || request.target.type === 'preserve') return;
  const existing = await readFile(autoConf, 'utf8').catch(() => '');
  await writeFile(autoConf, rewriteAutoConf(existing, recoveryLines(request.restoreCommand, request.target), manifest.label), { mode: 0o600 });
  await writeFile(join(request.pgPath, request.target.type === 'standby' ? 'standby.signal' : 'recovery.signal'), '', { mode: 0o600 });
}
