/**
 * The pieces of keel backup that make a full filesystem survivable (durable-file.ts and the
 * stanza lock in repository.ts): ENOSPC/EDQUOT become one-line errors naming the file; a short
 * write (a filesystem running out of space answers with one first) is carried on, never taken
 * for a complete one; the lock is a symbolic link (its text needs no data block) that refuses a
 * live holder, takes over a dead one, and still honours the file lock of an earlier keel.
 * Real ENOSPC on a tmpfs is test/integration/backup/disk-full.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { diskFullError, writeAll, writevAll } from '../../../src/backup/durable-file.js';
import { Repository, type RepositoryOptions } from '../../../src/backup/repository.js';
import { KeelError } from '../../../src/errors.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, write`), { code });
}

test('ENOSPC and EDQUOT are one-line KeelErrors naming the file; other errors pass unchanged', () => {
  const full = diskFullError(errno('ENOSPC'), '/repo/demo/pack/x/000001.pack');
  assert.ok(full instanceof KeelError);
  assert.equal(full.code, 'backup.disk_full');
  assert.equal(full.message, 'no space left on device (ENOSPC) writing /repo/demo/pack/x/000001.pack');
  assert.equal((diskFullError(errno('EDQUOT'), '/repo/x') as Error).message, 'disk quota exceeded (EDQUOT) writing /repo/x');
  const other = errno('EACCES');
  assert.equal(diskFullError(other, '/repo/x'), other);
  // an error already rendered (a worker's, rebuilt on the main thread) keeps its own words
  const rendered = new KeelError('backup.disk_full', 'no space left on device (ENOSPC) writing /data/base/1/1259');
  assert.equal(diskFullError(rendered, '/data'), rendered);
});

/** A file handle that writes at most `perCall` bytes a call, and fails with ENOSPC past `capacity`. */
function fakeHandle(perCall: number, capacity: number): { handle: FileHandle; file: Buffer; calls: number } {
  const state = { file: Buffer.alloc(capacity), calls: 0, position: 0, handle: null as unknown as FileHandle };
  const write = async (data: Buffer, offset: number, length: number, position: number | null) => {
    state.calls++;
    const at = position ?? state.position;
    if (at >= capacity) throw errno('ENOSPC');
    const n = Math.min(length, perCall, capacity - at);
    data.copy(state.file, at, offset, offset + n);
    if (position === null) state.position += n;
    return { bytesWritten: n, buffer: data };
  };
  const writev = async (buffers: Buffer[], position: number) =>
    write(
      Buffer.concat(buffers),
      0,
      buffers.reduce((s, b) => s + b.length, 0),
      position,
    );
  state.handle = { write, writev } as unknown as FileHandle;
  return state;
}

test('a short write is carried on until all is written, at the file position or at a given one', async () => {
  const data = Buffer.from('0123456789abcdefghij');
  const sequential = fakeHandle(7, 64);
  await writeAll(sequential.handle, data, null, '/repo/p');
  assert.equal(sequential.file.subarray(0, 20).toString(), data.toString());
  assert.equal(sequential.calls, 3);
  const positioned = fakeHandle(7, 64);
  await writevAll(positioned.handle, [data.subarray(0, 5), data.subarray(5)], 10, '/data/f');
  assert.equal(positioned.file.subarray(10, 30).toString(), data.toString());
});

test('a write that runs out of space fails with the one-line error naming the file, after what fitted', async () => {
  const data = Buffer.alloc(100, 1);
  const sequential = fakeHandle(64, 80);
  await assert.rejects(writeAll(sequential.handle, data, null, '/repo/p'), {
    code: 'backup.disk_full',
    message: 'no space left on device (ENOSPC) writing /repo/p',
  });
  const positioned = fakeHandle(1000, 80);
  await assert.rejects(writevAll(positioned.handle, [data], 0, '/data/base/1/2'), /^KeelError: no space left on device \(ENOSPC\) writing \/data\/base\/1\/2$/);
});

async function repository(): Promise<{ repo: Repository; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-lock-'));
  const options: RepositoryOptions = { repoPath: dir, stanza: 'demo', cipherType: 'none', cipherPass: null, compressType: 'none', compressLevel: null };
  const { repository: repo } = await Repository.create(options, {
    systemId: '7300000000000000001',
    pgVersion: '15',
    catalogVersion: 202209061,
    controlVersion: 1300,
  });
  return { repo, dir };
}

/** A pid that no process has (a child that has exited and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('the stanza lock is a link naming its holder; a live holder is refused, a dead one taken over', async () => {
  const { repo, dir } = await repository();
  const lockPath = join(dir, 'demo', 'lock');
  try {
    const unlock = await repo.lock('backup');
    assert.ok((await lstat(lockPath)).isSymbolicLink());
    assert.equal(await readlink(lockPath), `${process.pid} backup`);
    await assert.rejects(repo.lock('expire'), { code: 'backup.locked', message: `stanza 'demo' is locked by backup (pid ${process.pid})` });
    await unlock();
    await assert.rejects(lstat(lockPath));

    // a killed backup's lock is taken over
    await rm(lockPath, { force: true });
    await symlink(`${deadPid()} backup`, lockPath);
    const again = await repo.lock('expire');
    assert.equal(await readlink(lockPath), `${process.pid} expire`);
    await again();

    // the file lock of an earlier keel: honoured while its process lives, taken over after
    await writeFile(lockPath, `${process.pid}\nbackup\n`);
    await assert.rejects(repo.lock('expire'), { code: 'backup.locked', message: `stanza 'demo' is locked by backup (pid ${process.pid})` });
    await writeFile(lockPath, `${deadPid()}\nbackup\n`);
    await (
      await repo.lock('expire')
    )();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
