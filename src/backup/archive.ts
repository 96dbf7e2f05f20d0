/**
 * The WAL archive: archive-push (PostgreSQL's archive_command) and archive-get (its
 * restore_command). Each WAL file is one object `archive/<16 chars>/<name>-<sha256 of plain>`,
 * compressed and encrypted like blocks, written durably, under the archive id of the stanza's
 * current database (`archive/15-1/...`; a segment whose header names another system identifier
 * is refused: the cluster was upgraded without stanza-upgrade, or archives to the wrong stanza). Pushing the same file twice with the
 * same content succeeds (PostgreSQL retries after a crash); with different content it fails
 * loudly and stores nothing.
 */
import { readFile, readdir, writeFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeelError } from '../errors.js';
import { diskFullError, writeFileDurably } from './durable-file.js';
import { decodeObject, decodeUnchecked, encodeObject, sha256, CorruptObjectError } from './object-codec.js';
import { archiveDirOf, isArchivableWalName, walHeaderSystemId } from './core/wal.js';
import { parseControlIdentity } from './core/pg-control.js';
import { clusterMismatchError, isAlive, type Repository, type StanzaDb } from './repository.js';

export type PushOutcome = 'stored' | 'already-archived';

export async function archivePush(repository: Repository, walPath: string): Promise<PushOutcome> {
  const name = basename(walPath);
  if (!isArchivableWalName(name)) throw new KeelError('backup.not_wal', `${walPath} is not a WAL segment, history, .partial or .backup file`);
  let plain: Buffer;
  try {
    plain = await readFile(walPath);
  } catch (error) {
    throw new KeelError('backup.wal_unreadable', `cannot read ${walPath}: ${(error as Error).message}`);
  }
  const db = repository.currentDb;
  const walSystemId = walHeaderSystemId(plain);
  if (walSystemId !== null && walSystemId !== db.systemId) {
    throw clusterMismatchError(repository.info.stanza, db, { ...db, systemId: walSystemId });
  }
  const digest = sha256(plain).toString('hex');
  const existing = await archivedCopies(repository, name, db);
  if (existing.some((file) => file.endsWith(`-${digest}`))) return 'already-archived';
  if (existing.length > 0) {
    throw new KeelError('backup.wal_mismatch', `WAL file ${name} is already in the archive with different content; refusing to overwrite it`, {
      hint: 'two clusters may be archiving to the same stanza, or this cluster was restored without a new timeline',
    });
  }
  await writeFileDurably(repository.archivePath(db, archiveDirOf(name), `${name}-${digest}`), encodeObject(plain, repository.codec, true));
  return 'stored';
}

/**
 * Fetches `name` of database `db` (the restored cluster's, see archiveDbOf) into `destination`.
 * Returns false when the archive does not have it (restore_command exit 1).
 */
export async function archiveGet(
  repository: Repository,
  name: string,
  destination: string,
  db: StanzaDb = repository.currentDb,
  wanted?: () => boolean,
): Promise<boolean> {
  const copies = await archivedCopies(repository, name, db);
  if (copies.length === 0) return false;
  if (copies.length > 1) throw new KeelError('backup.wal_duplicate', `WAL file ${name} is in the archive more than once`);
  const stored = await readFile(repository.archivePath(db, archiveDirOf(name), copies[0] ?? ''));
  const corrupt = (why: string) => new KeelError('backup.wal_corrupt', `archived WAL file ${name} is corrupt: ${why}`);
  // decompressed into a recycled buffer: the archive-get server serves file after file, and fresh
  // memory for each 16 MiB costs a page fault per 4 KiB
  let scratch = decodeBuffers.pop() ?? null;
  const allocate = (bytes: number) => (scratch !== null && scratch.length >= bytes ? scratch : (scratch = Buffer.allocUnsafe(bytes)));
  try {
    let decoded: { plain: Buffer; checksum: Buffer | null };
    try {
      decoded = decodeUnchecked(stored, repository.codec.key, allocate);
    } catch (error) {
      if (error instanceof CorruptObjectError) throw corrupt(error.message);
      throw error;
    }
    // written beside the destination then renamed, so PostgreSQL never reads a partial segment
    // (and none is left behind when pg_wal is full); hashed while it is written, renamed only if
    // the hash matches
    // With `wanted` (the archive-get server, whose requests outlive their callers), a name of its
    // own and no rename once the caller has gone: a late request must not overwrite the file a
    // restarted PostgreSQL asked for next under the same name.
    const temporary = join(dirname(destination), `.${basename(destination)}.keel-tmp${wanted === undefined ? '' : `.${process.pid}.${++temporaries}`}`);
    if (wanted !== undefined) await removeDeadTemporaries(destination);
    let intact: boolean;
    try {
      const writing = writeFile(temporary, decoded.plain);
      intact = decoded.checksum === null || sha256(decoded.plain).equals(decoded.checksum);
      await writing;
      if (intact && wanted !== undefined && !wanted()) throw new CallerGone();
      if (intact) await rename(temporary, destination);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw error instanceof CallerGone ? error : diskFullError(error, destination);
    }
    if (!intact) {
      await rm(temporary, { force: true });
      throw corrupt('object checksum mismatch');
    }
    return true;
  } finally {
    if (scratch !== null && scratch.length <= DECODE_BUFFER_MAX && decodeBuffers.length < DECODE_BUFFERS_KEPT) decodeBuffers.push(scratch);
  }
}

/**
 * Removes the temporary files of `destination` left by archive-get servers that died while
 * writing them (killed, out of memory): their names are their own (pid, counter), so no later
 * write replaces them, and each can be a whole segment in pg_wal.
 */
async function removeDeadTemporaries(destination: string): Promise<void> {
  const prefix = `.${basename(destination)}.keel-tmp.`;
  for (const entry of await readdir(dirname(destination)).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('.')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid)) await rm(join(dirname(destination), entry), { force: true });
  }
}

/** The caller of a served archive-get went away before its file was in place (nothing was put there). */
export class CallerGone extends Error {
  constructor() {
    super('the caller has gone');
  }
}

/** Decompression buffers kept for the next archive-get (one per request the server has in flight at once). */
const decodeBuffers: Buffer[] = [];
const DECODE_BUFFERS_KEPT = 2;
/** Larger ones (WAL segments of 1 GiB exist) are not kept. */
const DECODE_BUFFER_MAX = 64 * 1024 * 1024;
/** Temporary files made by this process (their names must not repeat). */
let temporaries = 0;

export async function isArchived(repository: Repository, name: string, db: StanzaDb = repository.currentDb): Promise<boolean> {
  return (await archivedCopies(repository, name, db)).length > 0;
}

async function archivedCopies(repository: Repository, name: string, db: StanzaDb): Promise<string[]> {
  const entries = await readdir(repository.archivePath(db, archiveDirOf(name))).catch(() => [] as string[]);
  return entries.filter((entry) => entry.startsWith(`${name}-`) && entry.length === name.length + 65);
}

/** Names of every archived WAL file of one database (for info, verify, expire), sorted. */
export async function listArchive(repository: Repository, db: StanzaDb): Promise<string[]> {
  return (await listArchiveObjects(repository, db)).map((object) => object.name).sort();
}

/** Every archived object of one database: its WAL name and its path in the repository. */
export async function listArchiveObjects(repository: Repository, db: StanzaDb): Promise<{ name: string; path: string }[]> {
  const objects: { name: string; path: string }[] = [];
  for (const dir of await readdir(repository.archivePath(db)).catch(() => [] as string[])) {
    for (const entry of await readdir(repository.archivePath(db, dir)).catch(() => [] as string[])) {
      if (entry.length > 65 && !entry.startsWith('.')) objects.push({ name: entry.slice(0, -65), path: repository.archivePath(db, dir, entry) });
    }
  }
  return objects;
}

/** Waits until `name` is archived or `timeoutMs` passes (the end of a backup needs its WAL). */
export async function waitForArchived(repository: Repository, name: string, timeoutMs: number, archiveCommand: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isArchived(repository, name))) {
    if (Date.now() > deadline) {
      throw new KeelError(
        'backup.archive_timeout',
        `WAL segment ${name} was not archived within ${Math.round(timeoutMs / 1000)}s (archive-timeout); check archive_command = '${archiveCommand}'`,
        { hint: 'archive_mode must be on and archive_command must run keel backup archive-push %p for this stanza' },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The database whose WAL archive-get serves: the one of the cluster being recovered, read from
 * its pg_control (PostgreSQL runs restore_command in the data directory), so a backup taken
 * before stanza-upgrade restores with its own WAL. The current database when pg_control is absent.
 */
export async function archiveDbOf(repository: Repository, dataDirs: readonly string[]): Promise<StanzaDb> {
  for (const dataDir of dataDirs) {
    const bytes = await readFile(join(dataDir, 'global', 'pg_control')).catch(() => null);
    const control = bytes === null ? null : parseControlIdentity(bytes);
    if (control === null) continue;
    const db = [...repository.info.db].reverse().find((entry) => entry.systemId === control.systemId && entry.catalogVersion === control.catalogVersion);
    if (db === undefined) {
      throw new KeelError(
        'backup.cluster_mismatch',
        `the cluster in ${dataDir} (system-id ${control.systemId}) is not in the history of stanza '${repository.info.stanza}'`,
      );
    }
    return db;
  }
  return repository.currentDb;
}
