/**
 * The WAL archive: archive-push (PostgreSQL's archive_command) and archive-get (its
 * restore_command). Each WAL file is one object `archive/<16 chars>/<name>-<sha256 of plain>`,
 * compressed and encrypted like blocks, written durably. Pushing the same file twice with the
 * same content succeeds (PostgreSQL retries after a crash); with different content it fails
 * loudly and stores nothing.
 */
import { readFile, readdir, writeFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeelError } from '../errors.js';
import { writeFileDurably } from './durable-file.js';
import { decodeObject, encodeObject, sha256, CorruptObjectError } from './object-codec.js';
import { archiveDirOf, isArchivableWalName } from './core/wal.js';
import type { Repository } from './repository.js';

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
  const digest = sha256(plain).toString('hex');
  const existing = await archivedCopies(repository, name);
  if (existing.some((file) => file.endsWith(`-${digest}`))) return 'already-archived';
  if (existing.length > 0) {
    throw new KeelError('backup.wal_mismatch', `WAL file ${name} is already in the archive with different content; refusing to overwrite it`, {
      hint: 'two clusters may be archiving to the same stanza, or this cluster was restored without a new timeline',
    });
  }
  await writeFileDurably(repository.path('archive', archiveDirOf(name), `${name}-${digest}`), encodeObject(plain, repository.codec, true));
  return 'stored';
}

/** Fetches `name` into `destination`. Returns false when the archive does not have it (restore_command exit 1). */
export async function archiveGet(repository: Repository, name: string, destination: string): Promise<boolean> {
  const copies = await archivedCopies(repository, name);
  if (copies.length === 0) return false;
  if (copies.length > 1) throw new KeelError('backup.wal_duplicate', `WAL file ${name} is in the archive more than once`);
  const stored = await readFile(repository.path('archive', archiveDirOf(name), copies[0] ?? ''));
  let plain: Buffer;
  try {
    plain = decodeObject(stored, repository.codec.key);
  } catch (error) {
    if (error instanceof CorruptObjectError) throw new KeelError('backup.wal_corrupt', `archived WAL file ${name} is corrupt: ${error.message}`);
    throw error;
  }
  // written beside the destination then renamed, so PostgreSQL never reads a partial segment
  const temporary = join(dirname(destination), `.${basename(destination)}.keel-tmp`);
  await writeFile(temporary, plain);
  await rename(temporary, destination);
  return true;
}

export async function isArchived(repository: Repository, name: string): Promise<boolean> {
  return (await archivedCopies(repository, name)).length > 0;
}

async function archivedCopies(repository: Repository, name: string): Promise<string[]> {
  const entries = await readdir(repository.path('archive', archiveDirOf(name))).catch(() => [] as string[]);
  return entries.filter((entry) => entry.startsWith(`${name}-`) && entry.length === name.length + 65);
}

/** Names of every archived WAL file (for info and verify), sorted. */
export async function listArchive(repository: Repository): Promise<string[]> {
  const names: string[] = [];
  for (const dir of await readdir(repository.path('archive')).catch(() => [] as string[])) {
    for (const entry of await readdir(repository.path('archive', dir)).catch(() => [] as string[])) {
      if (entry.length > 65 && !entry.startsWith('.')) names.push(entry.slice(0, -65));
    }
  }
  return names.sort();
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
