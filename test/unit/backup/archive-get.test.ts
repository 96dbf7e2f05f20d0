/**
 * archive-get's decode and write (src/backup/archive.ts archiveGet) on a repository in a temporary
 * directory: the file PostgreSQL gets is exactly the archived one, also when a smaller file follows
 * a larger one through the recycled decompression buffer; an object whose checksum does not match
 * is refused as corrupt and leaves nothing at the destination, not even its temporary file; a
 * served request whose caller has gone puts nothing in place either.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveGet, CallerGone } from '../../../src/backup/archive.js';
import { encodeObject, sha256 } from '../../../src/backup/object-codec.js';
import { Repository } from '../../../src/backup/repository.js';
import { archiveDirOf } from '../../../src/backup/core/wal.js';

const made: string[] = [];
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function repositoryWith(files: Record<string, Buffer>): Promise<{ repository: Repository; out: string }> {
  const root = await mkdtemp(join(tmpdir(), 'keel-unit-'));
  made.push(root);
  const { repository } = await Repository.create(
    { repoPath: join(root, 'repo'), stanza: 'demo', cipherType: 'none', cipherPass: null, compressType: 'zst', compressLevel: 3 },
    { systemId: '7300000000000000001', pgVersion: '15', catalogVersion: 202209061, controlVersion: 1300 },
  );
  for (const [name, plain] of Object.entries(files)) {
    const dir = repository.archivePath(repository.currentDb, archiveDirOf(name));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}-${sha256(plain).toString('hex')}`), encodeObject(plain, repository.codec, true));
  }
  const out = join(root, 'pg_wal');
  await mkdir(out);
  return { repository, out };
}

test('the file written is the archived one, a smaller file after a larger one included', async () => {
  const segment = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(15 << 20, 7)]);
  const history = Buffer.from('1\t0/4C000100\tno recovery target specified\n');
  const { repository, out } = await repositoryWith({ '00000001000000000000004C': segment, '00000002.history': history });
  assert.equal(await archiveGet(repository, '00000001000000000000004C', join(out, 'RECOVERYXLOG')), true);
  assert.ok((await readFile(join(out, 'RECOVERYXLOG'))).equals(segment));
  assert.equal(await archiveGet(repository, '00000002.history', join(out, 'RECOVERYHISTORY')), true);
  assert.ok((await readFile(join(out, 'RECOVERYHISTORY'))).equals(history), 'exactly the history file, nothing of the segment decoded before it');
  assert.equal(await archiveGet(repository, '00000003.history', join(out, 'RECOVERYHISTORY3')), false);
  assert.deepEqual((await readdir(out)).sort(), ['RECOVERYHISTORY', 'RECOVERYXLOG']);
});

test('an object whose checksum does not match is refused, and nothing is left at the destination', async () => {
  const segment = randomBytes(1 << 20);
  const { repository, out } = await repositoryWith({ '00000001000000000000004D': segment });
  const dir = repository.archivePath(repository.currentDb, archiveDirOf('00000001000000000000004D'));
  const [stored] = await readdir(dir);
  const path = join(dir, stored ?? '');
  const bytes = await readFile(path);
  bytes[8] = (bytes[8] ?? 0) ^ 0xff; // the first byte of the SHA-256 recorded after the 8-byte header
  await writeFile(path, bytes);
  await assert.rejects(archiveGet(repository, '00000001000000000000004D', join(out, 'RECOVERYXLOG')), {
    code: 'backup.wal_corrupt',
    message: 'archived WAL file 00000001000000000000004D is corrupt: object checksum mismatch',
  });
  assert.deepEqual(await readdir(out), [], 'no file, no temporary file');
});

test('a served request whose caller has gone puts nothing in place', async () => {
  const segment = randomBytes(1 << 20);
  const { repository, out } = await repositoryWith({ '00000001000000000000004E': segment });
  await writeFile(join(out, 'RECOVERYXLOG'), 'the file PostgreSQL asked for next');
  await assert.rejects(
    archiveGet(repository, '00000001000000000000004E', join(out, 'RECOVERYXLOG'), repository.currentDb, () => false),
    (error: unknown) => error instanceof CallerGone,
  );
  assert.equal(await readFile(join(out, 'RECOVERYXLOG'), 'utf8'), 'the file PostgreSQL asked for next', 'left as it was');
  assert.deepEqual(await readdir(out), ['RECOVERYXLOG'], 'no temporary file left');
  assert.equal(await archiveGet(repository, '00000001000000000000004E', join(out, 'RECOVERYXLOG'), repository.currentDb, () => true), true);
  assert.ok((await readFile(join(out, 'RECOVERYXLOG'))).equals(segment), 'a caller still waiting gets it');
});

test("temporary files a dead server left beside the destination are removed; a live one's are not", async () => {
  const segment = randomBytes(1 << 16);
  const { repository, out } = await repositoryWith({ '00000001000000000000004F': segment });
  const dead = spawnSync('true').pid ?? 0; // exited by now
  await writeFile(join(out, `.RECOVERYXLOG.keel-tmp.${dead}.3`), 'half a segment');
  await writeFile(join(out, '.RECOVERYXLOG.keel-tmp.1.1'), 'pid 1 runs');
  assert.equal(await archiveGet(repository, '00000001000000000000004F', join(out, 'RECOVERYXLOG'), repository.currentDb, () => true), true);
  assert.deepEqual((await readdir(out)).sort(), ['.RECOVERYXLOG.keel-tmp.1.1', 'RECOVERYXLOG']);
});
