/**
 * keel backup on a full disk (issue 13: "a disk full ... → no partial backup is ever listed as
 * usable"), on a real PostgreSQL 15 whose repository is a small tmpfs mounted by the test: a full
 * backup that runs out of space fails with one line naming ENOSPC and the file, is never listed,
 * gives its space back and leaves the earlier backup restorable; archive-push on a full
 * repository fails with one line and leaves nothing archive-get or info would take as archived;
 * a restore into a full target fails with one line and leaves a directory PostgreSQL refuses to
 * start, and a --delta rerun after space is freed completes; on a completely full repository
 * stanza-create and expire fail with one line where they must write metadata (nothing
 * half-written, the old intact), expire still takes its lock and frees space when it expires a
 * backup.
 * The test mounts tmpfs, so it needs root: a refused mount fails it (it never skips).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, infoStanza, tableChecksum, type BackupLab, type PgServer } from './standalone-postgres.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';
import { eventually } from '../../support/sandbox.js';

const MiB = 1024 * 1024;
/** The repository's filesystem: room for a few backups of the lab's ~30 MiB cluster, not much more. */
const REPO_MIB = 96;
/** The restore target's filesystem: room for one restored cluster, its WAL and a sort spilling to disk. */
const TARGET_MIB = 192;

let lab: BackupLab;
const mounts: string[] = [];

/**
 * Mounts a tmpfs of `sizeMiB` at `path`, owned by the postgres OS user (keel drops to it). A
 * refused mount is an error naming why: this test checks real ENOSPC and must not pass without it.
 */
function mountTmpfs(path: string, sizeMiB: number): void {
  const user = postgresRunAs();
  const owner = user === null ? '' : `,uid=${user.uid},gid=${user.gid}`;
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0750${owner}`, 'tmpfs', path], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) {
    throw new Error(
      `the disk-full tests need root to mount a tmpfs: mount -t tmpfs -o size=${sizeMiB}m tmpfs ${path} failed: ${(result.stderr || result.error?.message) ?? ''}`.trim(),
    );
  }
  mounts.push(path);
}

/** Unmounts (lazily if a process still has a file open there, so teardown never hangs on it). */
function unmount(path: string): void {
  if (spawnSync('umount', [path], { timeout: 10_000 }).status !== 0) spawnSync('umount', ['-l', path], { timeout: 10_000 });
}

/** Free bytes of the filesystem holding `path`, as an unprivileged writer sees them. */
async function freeBytes(path: string): Promise<number> {
  const fs = await statfs(path);
  return fs.bavail * fs.bsize;
}

/** Fills the filesystem of `dir` until only `leaveBytes` are free; returns the filler's path. */
async function fill(dir: string, leaveBytes: number): Promise<string> {
  const filler = join(dir, 'filler');
  const size = (await freeBytes(dir)) - leaveBytes;
  assert.ok(size > 0, `${dir} has less than ${leaveBytes} bytes free already`);
  await writeFile(filler, Buffer.alloc(size));
  return filler;
}

interface InfoJson {
  backup: { label: string }[];
  archive: { id: string; min: string | null; max: string | null }[];
}
const info = (): Promise<InfoJson> => infoStanza<InfoJson>(lab);

/** stderr is exactly one line, `keel: ...`, no stack trace. */
function assertOneLine(stderr: string, what: string): void {
  assert.match(stderr, /^keel: [^\n]+\n$/, `${what}: not a one-line error: ${stderr}`);
}

const stanzaDir = (): string => join(lab.repoPath, lab.stanza);

let firstLabel = '';
let checksumAtFirst = '';

before(async () => {
  lab = await startBackupLab();
  mountTmpfs(lab.repoPath, REPO_MIB);
});

after(async () => {
  // the source archives into the repository mount: stop it before unmounting
  await lab?.source?.stop();
  for (const path of mounts.reverse()) unmount(path);
  await lab?.stop();
});

test('a full backup that runs out of space fails with one line, is never listed, and the earlier backup still restores', { timeout: 150_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  // incompressible rows (random bytes, stored uncompressed): the repository grows by what the table holds
  await lab.source.query('CREATE TABLE ballast (id int PRIMARY KEY, payload bytea)');
  await lab.source.query('ALTER TABLE ballast ALTER COLUMN payload SET STORAGE EXTERNAL');
  await lab.source.query(
    "INSERT INTO ballast SELECT g, (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') FROM generate_series(1, 640) i) FROM generate_series(1, 800) g",
  );
  const first = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(first.code, 0, first.stderr);
  firstLabel = (await info()).backup[0]?.label ?? '';
  checksumAtFirst = await tableChecksum(lab.source, 'ballast');

  // the next full needs ~12 MiB of packs; 2 MiB are left
  const filler = await fill(lab.repoPath, 2 * MiB);
  try {
    const freeBefore = await freeBytes(lab.repoPath);
    const full = await lab.keel(['backup', '--type=full', '--start-fast']);
    assert.notEqual(full.code, 0, 'a backup that cannot store its packs fails');
    assertOneLine(full.stderr, 'backup on a full repository');
    assert.match(full.stderr, new RegExp(`^keel: no space left on device \\(ENOSPC\\) writing ${stanzaDir()}/pack/\\d{8}-\\d{6}F/\\d{6}\\.pack\n$`));
    const failedLabel = /backup start: label (\S+)/.exec(full.stdout)?.[1] ?? '';
    assert.match(failedLabel, /^\d{8}-\d{6}F$/, full.stdout);

    // never listed, in JSON or text; verify finds nothing wrong; the space it took is given back
    assert.deepEqual(
      (await info()).backup.map((b) => b.label),
      [firstLabel],
    );
    const text = await lab.keel(['info']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`full backup: ${firstLabel}`));
    assert.doesNotMatch(text.stdout, new RegExp(failedLabel));
    const verify = await lab.keel(['verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.deepEqual(await readdir(join(stanzaDir(), 'backup')), [firstLabel], 'no .partial marker is left');
    assert.deepEqual(await readdir(join(stanzaDir(), 'pack')), [firstLabel], 'no pack of the failed backup is left');
    assert.ok((await freeBytes(lab.repoPath)) >= freeBefore - 512 * 1024, 'the failed backup gave its space back');

    // the earlier backup restores and holds the data
    const restored = await restoreAndStart(lab.newDataDir('restored-first'), [`--set=${firstLabel}`]);
    try {
      assert.equal(await tableChecksum(restored, 'ballast'), checksumAtFirst);
    } finally {
      await restored.stop();
    }
  } finally {
    // space freed (also when an assertion above failed, so the next test starts with room)
    await rm(filler);
  }
  // the next backup succeeds and the repository holds only committed backups
  const next = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(next.code, 0, next.stderr);
  const labels = (await info()).backup.map((b) => b.label);
  assert.equal(labels.length, 2);
  assert.deepEqual((await readdir(join(stanzaDir(), 'backup'))).sort(), labels);
  assert.deepEqual((await readdir(join(stanzaDir(), 'pack'))).sort(), labels);
  assert.equal((await lab.keel(['verify'])).code, 0);
});

test(
  'archive-push on a full repository fails with one line and leaves nothing that looks archived; after space is freed the segment pushes',
  { timeout: 90_000 },
  async () => {
    // PostgreSQL's own archiver stays out of the way: this test pushes the segment itself
    await lab.source.query("ALTER SYSTEM SET archive_command = '/bin/false'");
    await lab.source.query('SELECT pg_reload_conf()');
    let filler: string | null = null;
    try {
      await lab.source.query('INSERT INTO ballast VALUES (-1, NULL)');
      const [row] = await lab.source.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
      const segment = row?.walfile ?? '';
      const walPath = join(lab.source.dataDir, 'pg_wal', segment);
      await stat(walPath);

      filler = await fill(lab.repoPath, 0);
      const push = await lab.keel(['archive-push', walPath]);
      assert.notEqual(push.code, 0);
      assertOneLine(push.stderr, 'archive-push on a full repository');
      assert.match(
        push.stderr,
        new RegExp(`^keel: no space left on device \\(ENOSPC\\) writing ${stanzaDir()}/archive/15-1/${segment.slice(0, 16)}/${segment}-[0-9a-f]{64}\n$`),
      );

      // no object, not even a temporary one, is left beside the archived segments
      const archiveDir = join(stanzaDir(), 'archive', '15-1', segment.slice(0, 16));
      assert.deepEqual(
        (await readdir(archiveDir).catch(() => [] as string[])).filter((e) => e.includes(segment)),
        [],
      );
      const fetched = join(lab.dir, 'fetched-wal');
      const get = await lab.keel(['archive-get', segment, fetched]);
      assert.equal(get.code, 1, `archive-get of a segment never archived: ${get.stderr}`);
      await assert.rejects(stat(fetched));
      const archive = (await info()).archive.find((a) => a.id === '15-1');
      assert.ok(archive?.max !== undefined && archive.max !== null && archive.max < segment, `info's archive max ${String(archive?.max)} is before ${segment}`);

      await rm(filler);
      filler = null;
      const again = await lab.keel(['archive-push', walPath]);
      assert.equal(again.code, 0, again.stderr);
      const got = await lab.keel(['archive-get', segment, fetched]);
      assert.equal(got.code, 0, got.stderr);
      assert.ok((await readFile(fetched)).equals(await readFile(walPath)), 'archive-get returns the segment pushed');
      assert.equal((await info()).archive.find((a) => a.id === '15-1')?.max, segment);
    } finally {
      if (filler !== null) await rm(filler, { force: true });
      await lab.source.query('ALTER SYSTEM RESET archive_command');
      await lab.source.query('SELECT pg_reload_conf()');
    }
  },
);

test(
  'a restore into a full target fails with one line and leaves a directory that cannot start; --delta after space is freed completes',
  { timeout: 150_000 },
  async () => {
    const mountPoint = join(lab.dir, 'target');
    await mkdir(mountPoint);
    mountTmpfs(mountPoint, TARGET_MIB);
    const dataDir = join(mountPoint, 'data');
    // the cluster is ~30 MiB; 16 MiB are left
    const filler = await fill(mountPoint, 16 * MiB);
    const full = await lab.keel(['restore', `--pg1-path=${dataDir}`, `--set=${firstLabel}`, '--type=immediate', '--target-action=promote']);
    assert.notEqual(full.code, 0);
    assertOneLine(full.stderr, 'restore into a full directory');
    assert.match(full.stderr, new RegExp(`^keel: no space left on device \\(ENOSPC\\) writing ${dataDir}/\\S+\n$`));
    await assert.rejects(stat(join(dataDir, 'global', 'pg_control')), 'pg_control is written last, so it is absent');

    await rm(filler);
    // not even with room to run: PostgreSQL refuses a directory without pg_control
    await assert.rejects(lab.startServer(dataDir), /pg_ctl start failed/);

    const rerun = await lab.keel(['restore', `--pg1-path=${dataDir}`, `--set=${firstLabel}`, '--delta', '--type=immediate', '--target-action=promote']);
    assert.equal(rerun.code, 0, rerun.stderr);
    const restored = await lab.startServer(dataDir);
    try {
      await eventually('restored server out of recovery', 60_000, async () =>
        (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
      );
      assert.equal(await tableChecksum(restored, 'ballast'), checksumAtFirst);
    } finally {
      await restored.stop();
    }
  },
);

test(
  'on a completely full repository stanza-create and expire fail with one line where they must write metadata, leaving nothing half-written; expiring a backup frees space',
  { timeout: 60_000 },
  async () => {
    const labels = (await info()).backup.map((b) => b.label);
    const kept = labels[labels.length - 1] ?? '';
    const archiveDir = join(stanzaDir(), 'archive', '15-1');
    const stanzaJson = await readFile(join(stanzaDir(), 'stanza.json'));
    const manifests = await Promise.all(labels.map((label) => readFile(join(stanzaDir(), 'backup', label, 'manifest'))));
    const filler = await fill(lab.repoPath, 0);
    try {
      // a new stanza cannot be created, and nothing of a half-made stanza.json is left
      const pg1 = [`--pg1-path=${lab.source.dataDir}`, `--pg1-port=${lab.source.port}`, `--pg1-socket-path=${lab.source.socketDir}`];
      const create = await lab.keel(['stanza-create', '--stanza=other', ...pg1]);
      assert.notEqual(create.code, 0);
      assert.equal(create.stderr, `keel: no space left on device (ENOSPC) writing ${join(lab.repoPath, 'other', 'stanza.json')}\n`);
      assert.deepEqual(
        (await readdir(join(lab.repoPath, 'other'))).filter((entry) => entry.includes('stanza')),
        [],
      );
      const notCreated = await lab.keel(['info', '--stanza=other']);
      assert.match(notCreated.stderr, /stanza 'other' does not exist/);

      // nothing to expire, but archive retention records where continuous WAL begins: that write fails
      const noRoom = await lab.keel(['expire', '--repo1-retention-full=2', '--repo1-retention-archive=2']);
      assert.notEqual(noRoom.code, 0);
      assertOneLine(noRoom.stderr, 'expire writing expire.json on a full repository');
      assert.equal(noRoom.stderr, `keel: no space left on device (ENOSPC) writing ${archiveDir}/expire.json\n`);
      assert.deepEqual(
        (await readdir(archiveDir)).filter((entry) => entry.includes('expire')),
        [],
        'neither expire.json nor a temporary copy of it',
      );
      for (const [index, label] of labels.entries())
        assert.ok((await readFile(join(stanzaDir(), 'backup', label, 'manifest'))).equals(manifests[index] as Buffer));

      // expiring a backup: its manifest and packs go first, so the rest has room
      const expire = await lab.keel(['expire', '--repo1-retention-full=1', '--repo1-retention-archive=1']);
      assert.equal(expire.code, 0, expire.stderr);
      assert.match(expire.stdout, new RegExp(`expire backup set ${firstLabel} `));
      assert.ok((await freeBytes(lab.repoPath)) > 4 * MiB, 'the expired backup and its WAL freed space');
    } finally {
      await rm(filler);
    }
    assert.ok((await readFile(join(stanzaDir(), 'stanza.json'))).equals(stanzaJson));
    assert.ok((await readFile(join(stanzaDir(), 'backup', kept, 'manifest'))).equals(manifests[manifests.length - 1] as Buffer));
    assert.deepEqual(
      (await info()).backup.map((b) => b.label),
      [kept],
    );
    assert.equal((await lab.keel(['verify'])).code, 0);
    // with room again, the stanza the full filesystem refused is created
    const created = await lab.keel([
      'stanza-create',
      '--stanza=other',
      `--pg1-path=${lab.source.dataDir}`,
      `--pg1-port=${lab.source.port}`,
      `--pg1-socket-path=${lab.source.socketDir}`,
    ]);
    assert.equal(created.code, 0, created.stderr);
  },
);

async function restoreAndStart(dataDir: string, extra: string[]): Promise<PgServer> {
  const result = await lab.keel(['restore', `--pg1-path=${dataDir}`, '--type=immediate', '--target-action=promote', ...extra]);
  assert.equal(result.code, 0, `restore failed: ${result.stderr}${result.stdout}`);
  const server = await lab.startServer(dataDir);
  await eventually('restored server out of recovery', 60_000, async () =>
    (await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
  );
  return server;
}
