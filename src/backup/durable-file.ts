/**
 * Durable writes for repository metadata: write a temporary sibling, fsync it, rename it over
 * the target, fsync the directory. A reader sees the old file or the new one, never a torn one,
 * and after a crash the rename is either on disk or not. Also the one place a full filesystem
 * (ENOSPC, EDQUOT) becomes a one-line error naming the file being written, and where a short
 * write (what a filesystem running out of space returns first) is carried on until it fails.
 */
import { open, rename, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { writeSync, writevSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { userInfo } from 'node:os';
import { KeelError } from '../errors.js';

const FULL_FILESYSTEM: Readonly<Record<string, string>> = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded' };

/** ENOSPC or EDQUOT as a one-line KeelError naming `path`; any other error is returned as it is. */
export function diskFullError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const what = code === undefined ? undefined : FULL_FILESYSTEM[code];
  if (what === undefined || error instanceof KeelError) return error;
  return new KeelError('backup.disk_full', `${what} (${code}) writing ${path}`, { cause: error });
}

const NO_ACCESS: Readonly<Record<string, string>> = { EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system' };

/**
 * A path the command's OS user may not use (EACCES, EPERM, EROFS) as a one-line KeelError naming
 * the call, the path and the user: started as root, the backup commands run as the postgres user,
 * so a directory root can write may still be out of reach. Any other error is returned as it is.
 */
export function fileAccessError(error: unknown): unknown {
  const e = error as NodeJS.ErrnoException | null;
  const what = e?.code === undefined ? undefined : NO_ACCESS[e.code];
  if (what === undefined || error instanceof KeelError || e?.path === undefined) return error;
  const user = userInfo();
  return new KeelError('backup.no_access', `${what} (${e.code}): ${e.syscall ?? 'access'} '${e.path}' as user ${user.username} (uid ${user.uid})`, {
    hint: `give ${user.username} that path (or its parent directory), or choose another`,
    cause: error,
  });
}

/**
 * Writes all of `data` at `position` (null: at the file position), going on after a short write:
 * the next write then either completes it or fails with the filesystem's error.
 */
export async function writeAll(handle: FileHandle, data: Buffer, position: number | null, path: string): Promise<void> {
  let done = 0;
  try {
    while (done < data.length) {
      const { bytesWritten } = await handle.write(data, done, data.length - done, position === null ? null : position + done);
      done += bytesWritten;
    }
  } catch (error) {
    throw diskFullError(error, path);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `path` atomically and durably (parents created); on failure the temporary file is removed. */
export async function writeFileDurably(path: string, data: Uint8Array | string, mode = 0o640): Promise<void> {
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const handle = await open(temporary, 'w', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await fsyncDir(dir);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw diskFullError(error, path);
  }
}

/** Creates `dir` (and parents) and fsyncs its parent so the new entry survives a crash. */
export async function mkdirDurably(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await fsyncDir(dirname(dir));
  } catch (error) {
    throw diskFullError(error, dir);
  }
}

/** Writes `buffers` one after the other at `position`, as writeAll does (a short write is carried on). */
export async function writevAll(handle: FileHandle, buffers: Buffer[], position: number, path: string): Promise<void> {
  let bytesWritten: number;
  try {
    ({ bytesWritten } = await handle.writev(buffers, position));
  } catch (error) {
    throw diskFullError(error, path);
  }
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  if (bytesWritten < total) await writeAll(handle, Buffer.concat(buffers, total).subarray(bytesWritten), position + bytesWritten, path);
}

/**
 * writevAll for a descriptor, synchronously: restore's worker threads write this way, so their
 * writes never queue in libuv's small thread pool behind the fsyncs the main thread runs there.
 */
export function writevAllSync(fd: number, buffers: Buffer[], position: number, path: string): void {
  try {
    const written = writevSync(fd, buffers, position);
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    if (written >= total) return;
    const rest = Buffer.concat(buffers, total).subarray(written);
    for (let done = 0; done < rest.length;) done += writeSync(fd, rest, done, rest.length - done, position + written + done);
  } catch (error) {
    throw diskFullError(error, path);
  }
}
