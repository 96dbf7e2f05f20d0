/**
 * Durable writes for repository metadata: write a temporary sibling, fsync it, rename it over
 * the target, fsync the directory. A reader sees the old file or the new one, never a torn one,
 * and after a crash the rename is either on disk or not.
 */
import { open, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `path` atomically and durably (parents created). */
export async function writeFileDurably(path: string, data: Uint8Array | string, mode = 0o640): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const temporary = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
  await fsyncDir(dir);
}

/** Creates `dir` (and parents) and fsyncs its parent so the new entry survives a crash. */
export async function mkdirDurably(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await fsyncDir(dirname(dir));
}
