/**
 * Asynchronous archiving (archive-async=y), pgBackRest's way, through a spool directory
 * `<spool-path>/archive/<stanza>/`:
 *
 *  - archive-push: PostgreSQL's call looks for `out/<wal>.ok` or `out/<wal>.error`. Without one it
 *    makes sure a background worker runs and waits (archive-timeout) for one. The worker reads
 *    `pg_wal/archive_status/*.ready` — everything PostgreSQL has queued, not only the file it asked
 *    for — and pushes up to process-max files at once straight from pg_wal, writing `.ok` or
 *    `.error` (its message) for each; it exits when nothing is left. A call that finds `.error`
 *    fails with that message, so PostgreSQL retries and says why in its log; the next try starts a
 *    worker again. The same checks as the synchronous push apply: a file already archived with the
 *    same content is fine, different content is an error.
 *  - archive-get: restore_command's call takes `in/<wal>` when the worker fetched it already (a
 *    rename into pg_wal), or a `in/<wal>.missing` marker (the archive has no such file: exit 1).
 *    Otherwise it starts a worker that fetches it and the next segments, up to
 *    archive-get-queue-max bytes ahead, and waits. Only WAL segments are prefetched; history and
 *    .partial files are fetched directly, as pgBackRest does.
 *
 * One worker per stanza and direction: a pid file created exclusively is its lock; a lock whose
 * process is gone (killed) is taken over.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeelError } from '../errors.js';
import { archiveGet, archivePush } from './archive.js';
import { isSegmentName, nextSegmentName, WAL_SEGMENT_BYTES } from './core/wal.js';
import { isAlive, type Repository, type StanzaDb } from './repository.js';

/** How often a waiting call looks for its status file. */
const POLL_MS = 50;
/** Files one push worker takes from archive_status per pass (a named bound on its queue). */
const PUSH_BATCH_MAX = 1024;

export interface SpoolOptions {
  spoolPath: string;
  stanza: string;
  /** Parallel pushes or fetches in the worker. */
  processMax: number;
  timeoutMs: number;
}

/** How to start a worker: this program with the caller's options and an internal command. */
export type StartWorker = (command: 'archive-push:async' | 'archive-get:async', parameters: string[]) => void;

export function spoolDir(options: SpoolOptions, direction: 'in' | 'out'): string {
  return join(options.spoolPath, 'archive', options.stanza, direction);
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Takes the worker lock in `dir`; false when a live worker holds it. */
async function takeLock(dir: string): Promise<boolean> {
  const lock = join(dir, '.worker.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lock, 'wx', 0o640);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readIfExists(lock))?.trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return false;
      await rm(lock, { force: true }); // its holder was killed
    }
  }
  return false;
}

async function workerRunning(dir: string): Promise<boolean> {
  const pid = Number((await readIfExists(join(dir, '.worker.pid')))?.trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid);
}

async function writeStatus(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/** Runs `work` over `items` with at most `limit` at once. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

// ---- archive-push --------------------------------------------------------------------------

/** PostgreSQL's archive_command with archive-async: the worker's verdict on `walPath`. */
export async function asyncArchivePush(walPath: string, options: SpoolOptions, startWorker: StartWorker): Promise<'pushed'> {
  const name = basename(walPath);
  const out = spoolDir(options, 'out');
  await mkdir(out, { recursive: true, mode: 0o750 });
  const deadline = Date.now() + options.timeoutMs;
  let started = false;
  for (;;) {
    const ok = await readIfExists(join(out, `${name}.ok`));
    if (ok !== null) {
      await rm(join(out, `${name}.ok`), { force: true });
      // a verdict about another file of the same name (left by an earlier life of pg_wal) is no verdict
      if (ok === (await fileIdentity(walPath))) return 'pushed';
      continue;
    }
    const error = await readIfExists(join(out, `${name}.error`));
    if (error !== null) {
      // consumed: PostgreSQL's retry starts a new attempt instead of reading an old verdict
      await rm(join(out, `${name}.error`), { force: true });
      throw new KeelError('backup.async_push_failed', `archive-push of ${name} failed in the background: ${error.trim()}`);
    }
    if (!started || !(await workerRunning(out))) {
      startWorker('archive-push:async', [dirname(walPath)]);
      started = true;
    }
    if (Date.now() > deadline) {
      throw new KeelError('backup.archive_timeout', `WAL file ${name} was not pushed within ${Math.round(options.timeoutMs / 1000)}s (archive-timeout)`, {
        hint: `check the background archive-push (spool ${out}) and the repository`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** What makes a verdict belong to this very file: inode, size and modification time (a stat, not a read). */
async function fileIdentity(path: string): Promise<string> {
  try {
    const stats = await stat(path);
    return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  } catch (error) {
    throw new KeelError('backup.wal_unreadable', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Files PostgreSQL has queued for archiving (archive_status/*.ready), oldest first. */
async function readyFiles(pgWal: string): Promise<string[]> {
  const entries = await readdir(join(pgWal, 'archive_status')).catch(() => [] as string[]);
  return entries
    .filter((e) => e.endsWith('.ready'))
    .map((e) => e.slice(0, -'.ready'.length))
    .sort()
    .slice(0, PUSH_BATCH_MAX);
}

/**
 * The push worker: pushes every ready file that has no status yet, process-max at a time, until
 * a pass finds nothing new. Returns how many files it pushed and how many failed.
 */
export async function runPushWorker(repository: Repository, pgWal: string, options: SpoolOptions): Promise<{ pushed: number; failed: number }> {
  const out = spoolDir(options, 'out');
  await mkdir(out, { recursive: true, mode: 0o750 });
  if (!(await takeLock(out))) return { pushed: 0, failed: 0 };
  let pushed = 0;
  let failed = 0;
  // pushed once per worker: after a call took its .ok, the .ready stays until PostgreSQL renames it,
  // and pushing it again would leave a verdict behind that no call takes
  const done = new Set<string>();
  try {
    for (;;) {
      const statuses = new Set(await readdir(out));
      const ready = (await readyFiles(pgWal)).filter((name) => !done.has(name) && !statuses.has(`${name}.ok`) && !statuses.has(`${name}.error`));
      // .ok files PostgreSQL no longer waits for (it took the verdict, or another call pushed them)
      for (const status of statuses) {
        if (status.endsWith('.ok') && (await readIfExists(join(pgWal, 'archive_status', `${status.slice(0, -3)}.ready`))) === null) {
          await rm(join(out, status), { force: true });
        }
      }
      if (ready.length === 0) return { pushed, failed };
      await inParallel(ready, options.processMax, async (name) => {
        done.add(name);
        try {
          const identity = await fileIdentity(join(pgWal, name));
          await archivePush(repository, join(pgWal, name));
          await writeStatus(join(out, `${name}.ok`), identity);
          pushed++;
        } catch (error) {
          await writeStatus(join(out, `${name}.error`), error instanceof Error ? error.message : String(error));
          failed++;
        }
      });
      // a file that failed keeps its .error until PostgreSQL's call reads it: stop there, as
      // pgBackRest's async push does on the first error, rather than loop on it
      if (failed > 0) return { pushed, failed };
    }
  } finally {
    await rm(join(out, '.worker.pid'), { force: true });
  }
}

// ---- archive-get ---------------------------------------------------------------------------

/** restore_command with archive-async: true when `name` was put at `destination`, false when the archive has none. */
export async function asyncArchiveGet(
  repository: Repository,
  name: string,
  destination: string,
  options: SpoolOptions,
  startWorker: StartWorker,
  /** The database whose WAL is wanted (the recovering cluster's; see stanza.ts archiveDbOf). */
  db: StanzaDb = repository.currentDb,
): Promise<boolean> {
  if (!isSegmentName(name)) return archiveGet(repository, name, destination, db);
  const inbox = spoolDir(options, 'in');
  await mkdir(inbox, { recursive: true, mode: 0o750 });
  const deadline = Date.now() + options.timeoutMs;
  let started = false;
  for (;;) {
    if (await moveInto(join(inbox, name), destination)) return true;
    if ((await readIfExists(join(inbox, `${name}.missing`))) !== null) {
      await rm(join(inbox, `${name}.missing`), { force: true });
      return false;
    }
    const error = await readIfExists(join(inbox, `${name}.error`));
    if (error !== null) {
      await rm(join(inbox, `${name}.error`), { force: true });
      throw new KeelError('backup.async_get_failed', `archive-get of ${name} failed in the background: ${error.trim()}`);
    }
    if (!started || !(await workerRunning(inbox))) {
      startWorker('archive-get:async', [name]);
      started = true;
    }
    if (Date.now() > deadline)
      throw new KeelError('backup.archive_timeout', `WAL file ${name} was not fetched within ${Math.round(options.timeoutMs / 1000)}s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Moves a prefetched file into pg_wal (rename, or copy then rename across filesystems); false when absent. */
async function moveInto(source: string, destination: string): Promise<boolean> {
  try {
    await rename(source, destination);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code !== 'EXDEV') throw error;
  }
  const temporary = join(dirname(destination), `.${basename(destination)}.keel-tmp`);
  await copyFile(source, temporary);
  await rename(temporary, destination);
  await rm(source, { force: true });
  return true;
}

/**
 * The get worker: fetches `first` and the segments after it into the spool, up to `queueMaxBytes`
 * of segments waiting there, process-max at a time; stops at the first segment the archive does
 * not have (marked `.missing`: the end of the archive, for now).
 */
export async function runGetWorker(
  repository: Repository,
  first: string,
  queueMaxBytes: number,
  options: SpoolOptions,
  db: StanzaDb = repository.currentDb,
): Promise<{ fetched: number }> {
  const inbox = spoolDir(options, 'in');
  await mkdir(inbox, { recursive: true, mode: 0o750 });
  if (!(await takeLock(inbox))) return { fetched: 0 };
  let fetched = 0;
  try {
    const queueMax = Math.max(2, Math.floor(queueMaxBytes / WAL_SEGMENT_BYTES));
    // files of segments before `first` were not taken: recovery moved on (or restarted elsewhere);
    // "missing" verdicts are checked again, the archive may have them by now
    for (const entry of await readdir(inbox)) {
      const segment = entry.slice(0, 24);
      if (isSegmentName(segment) && (segment < first || entry.endsWith('.missing'))) await rm(join(inbox, entry), { force: true });
    }
    const wanted: string[] = [];
    for (let name = first; wanted.length < queueMax; name = nextSegmentName(name)) wanted.push(name);
    const present = new Set(await readdir(inbox));
    let missingFrom: string | null = null;
    await inParallel(
      wanted.filter((name) => !present.has(name)),
      options.processMax,
      async (name) => {
        if (missingFrom !== null && name > missingFrom) return;
        const temporary = join(inbox, `.${name}.fetching`);
        try {
          if (await archiveGet(repository, name, temporary, db)) {
            await rename(temporary, join(inbox, name));
            fetched++;
          } else if (missingFrom === null || name < missingFrom) missingFrom = name;
        } catch (error) {
          await rm(temporary, { force: true });
          await writeStatus(join(inbox, `${name}.error`), error instanceof Error ? error.message : String(error));
        }
      },
    );
    if (missingFrom !== null) {
      const missing: string = missingFrom;
      // fetched past the end in parallel: those are newer than a gap, drop them
      for (const entry of await readdir(inbox)) if (isSegmentName(entry) && entry > missing) await rm(join(inbox, entry), { force: true });
      await writeStatus(join(inbox, `${missing}.missing`), '');
    }
    return { fetched };
  } finally {
    await rm(join(inbox, '.worker.pid'), { force: true });
  }
}

/** Starts a detached worker: this program, the same options, an internal command. */
export function detachedWorkerStarter(program: string[], optionArgs: string[]): StartWorker {
  return (command, parameters) => {
    // its verdicts go to the spool's status files, not to a terminal nobody reads
    const child = spawn(process.execPath, [...program, ...optionArgs, command, ...parameters], { detached: true, stdio: 'ignore', env: process.env });
    child.unref();
  };
}
