/**
 * keel backup on a real PostgreSQL 15: a full and a block-level incremental backup (the incr
 * stores only changed pages: asserted on repository bytes), restore giving identical data,
 * point-in-time recovery to a time between two inserts, a backup killed mid-way leaving nothing
 * usable and the next run cleaning up, a backup that cannot get its WAL archived failing on time,
 * and an encrypted stanza refusing a wrong passphrase with one line and writing nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, directoryBytes, infoStanza, tableChecksum, type BackupLab, type PgServer } from './standalone-postgres.js';
import { KEEL_MAIN, eventually, runKeel } from '../../support/sandbox.js';
import { decodeObject } from '../../../src/backup/object-codec.js';
import { Repository } from '../../../src/backup/repository.js';
import { blockRecordsOf, validateManifest } from '../../../src/backup/core/manifest.js';

let lab: BackupLab;

before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

interface InfoJson {
  name: string;
  backup: {
    label: string;
    type: string;
    prior: string | null;
    reference: string[] | null;
    info: { size: number; delta: number; repository: { size: number; delta: number } };
  }[];
}

const info = (): Promise<InfoJson> => infoStanza<InfoJson>(lab);

async function restoreAndStart(name: string, extra: string[]): Promise<PgServer> {
  const dataDir = lab.newDataDir(name);
  const result = await lab.keel(['restore', `--pg1-path=${dataDir}`, ...extra]);
  assert.equal(result.code, 0, `restore failed: ${result.stderr}${result.stdout}`);
  const server = await lab.startServer(dataDir);
  await eventually('restored server out of recovery', 60_000, async () => {
    const [row] = await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return row?.r === false ? true : undefined;
  });
  return server;
}

let checksumAtIncr = '';

test('stanza-create and check prove archiving; a full then an incremental backup stores only the changed pages', { timeout: 120_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  const check = await lab.keel(['check']);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /successfully archived/);
  await lab.source.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int, filler text)');
  await lab.source.query('INSERT INTO accounts SELECT g, 0, md5(g::text) || md5((-g)::text) FROM generate_series(1, 200000) g');
  // hint bits set now, so the update below changes only the pages it writes (as on a live database)
  await lab.source.query('VACUUM accounts');
  await lab.source.query('CHECKPOINT');

  const full = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /P00 +INFO: new backup label = \d{8}-\d{6}F\n/);
  const packsAfterFull = await directoryBytes(join(lab.repoPath, lab.stanza, 'pack'));

  // 20 rows of a ~30 MiB table: about 20 heap pages, their new versions and 20 index leaves change
  await lab.source.query('UPDATE accounts SET balance = balance + 1 WHERE id % 10000 = 0');
  await lab.source.query('CHECKPOINT');
  const incr = await lab.keel(['backup', '--type=incr', '--start-fast']);
  assert.equal(incr.code, 0, incr.stderr);
  checksumAtIncr = await tableChecksum(lab.source, 'accounts');
  const packsAfterIncr = await directoryBytes(join(lab.repoPath, lab.stanza, 'pack'));

  const stanza = await info();
  assert.equal(stanza.backup.length, 2);
  const [fullInfo, incrInfo] = stanza.backup;
  assert.equal(fullInfo?.type, 'full');
  assert.equal(incrInfo?.type, 'incr');
  assert.equal(incrInfo?.prior, fullInfo?.label);
  assert.deepEqual(incrInfo?.reference, [fullInfo?.label]);
  assert.ok((fullInfo?.info.size ?? 0) > 30 * 1024 * 1024, `database size ${fullInfo?.info.size}`);
  // the incr's new bytes in the repository: changed pages only (plus catalog churn), not whole segments
  const incrBytes = packsAfterIncr - packsAfterFull;
  assert.equal(incrBytes, incrInfo?.info.repository.delta);
  const incrPlain = incrInfo?.info.delta ?? 0;
  assert.ok(incrBytes < packsAfterFull / 20, `incr stored ${incrBytes} bytes (${incrPlain} plain), full ${packsAfterFull}`);
  assert.ok(incrPlain < 1024 * 1024, `incr stored ${incrPlain} plain bytes, more than the changed pages`);

  const text = await lab.keel(['info']);
  assert.match(text.stdout, new RegExp(`full backup: ${fullInfo?.label ?? ''}`));
  assert.match(text.stdout, /incr backup: \d{8}-\d{6}F_\d{8}-\d{6}I/);
  assert.match(text.stdout, /backup reference list: /);

  const verify = await lab.keel(['verify']);
  assert.equal(verify.code, 0, verify.stdout);
});

test('restore of the incremental backup gives identical data, every block checked by the CRC-32 its manifest records', { timeout: 120_000 }, async () => {
  // format 5: each file's blocks as packed records with a CRC-32 for every block, what restore
  // checks each block by (a wrong one would refuse the restore)
  const [incr] = (await info()).backup.slice(-1);
  const stored = await readFile(join(lab.repoPath, lab.stanza, 'backup', incr?.label ?? '', 'manifest'));
  const manifest = validateManifest(JSON.parse(decodeObject(stored, null).toString('utf8')));
  assert.equal(manifest.format, 5);
  for (const file of manifest.files) {
    const { records, crc32Recorded } = blockRecordsOf(file);
    assert.ok(crc32Recorded, file.path);
    assert.equal(records.count, Math.ceil(file.size / 8192), file.path);
    assert.equal(file.crc32?.length, file.blocks.length, file.path);
  }
  const restored = await restoreAndStart('restored-incr', ['--type=immediate', '--target-action=promote']);
  try {
    assert.equal(await tableChecksum(restored, 'accounts'), checksumAtIncr);
  } finally {
    await restored.stop();
  }
});

test('an incremental over an incremental stores changed pages as deltas over the full; restore rebuilds them exactly', { timeout: 150_000 }, async () => {
  const [incr1] = (await info()).backup.slice(-1);
  // pages the first incr changed (id % 10000) change again, and others for the first time
  const changedRows = 'id % 10000 = 0 OR id % 7919 = 0';
  await lab.source.query(`UPDATE accounts SET balance = balance + 1 WHERE ${changedRows}`);
  await lab.source.query('CHECKPOINT');
  const incr2 = await lab.keel(['backup', '--type=incr', '--start-fast']);
  assert.equal(incr2.code, 0, incr2.stderr);
  const [, deltas] = /P00 +INFO: (\d+) changed pages stored as deltas over their version in (\S+)/.exec(incr2.stdout) ?? [];
  // about 40 heap pages and their index leaves changed; most are deltas (a page rewritten throughout stays a page)
  assert.ok(Number(deltas) >= 20, `deltas: ${deltas ?? 'none'}\n${incr2.stdout}`);
  const checksumAtIncr2 = await tableChecksum(lab.source, 'accounts');
  const latest = (await info()).backup.slice(-1)[0];
  assert.equal(latest?.prior, incr1?.label);
  // stored: a small fraction of the changed pages (whole, they compress to about a quarter; as deltas to a few percent)
  const stored = latest?.info.repository.delta ?? Infinity;
  const plain = latest?.info.delta ?? 0;
  assert.ok(stored < plain / 10, `incr over incr stored ${stored} bytes for ${plain} bytes of new pages`);
  const restored = await restoreAndStart('restored-incr2', ['--type=immediate', '--target-action=promote']);
  try {
    assert.equal(await tableChecksum(restored, 'accounts'), checksumAtIncr2);
  } finally {
    await restored.stop();
  }
  assert.equal((await lab.keel(['verify', `--set=${latest?.label ?? ''}`])).code, 0);
  // back to the rows the later tests compare against (their restores replay this through WAL)
  await lab.source.query(`UPDATE accounts SET balance = balance - 1 WHERE ${changedRows}`);
  assert.equal(await tableChecksum(lab.source, 'accounts'), checksumAtIncr);
});

test('point-in-time recovery to a time between two inserts restores exactly the rows before it', { timeout: 120_000 }, async () => {
  await lab.source.query('CREATE TABLE events (id int PRIMARY KEY, what text)');
  await lab.source.query("INSERT INTO events VALUES (1, 'before')");
  await new Promise((r) => setTimeout(r, 1100));
  const [row] = await lab.source.query<{ at: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS at");
  await new Promise((r) => setTimeout(r, 1100));
  await lab.source.query("INSERT INTO events VALUES (2, 'after')");
  const [wal] = await lab.source.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
  await eventually('the WAL with both inserts archived', 60_000, async () => {
    const [archiver] = await lab.source.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return archiver?.last !== null && (archiver?.last ?? '') >= (wal?.walfile ?? 'Z') ? true : undefined;
  });
  const restored = await restoreAndStart('restored-pitr', ['--type=time', `--target=${row?.at ?? ''}`, '--target-action=promote']);
  try {
    const rows = await restored.query<{ id: number }>('SELECT id FROM events ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.id),
      [1],
    );
    assert.equal(await tableChecksum(restored, 'accounts'), checksumAtIncr);
  } finally {
    await restored.stop();
  }
  // a target before the oldest backup is refused before anything is written
  const early = lab.newDataDir('restored-too-early');
  const refused = await lab.keel(['restore', `--pg1-path=${early}`, '--type=time', '--target=2001-01-01 00:00:00+00']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /before the end of the oldest backup/);
  await assert.rejects(stat(early));
});

test('point-in-time recovery to a restore point name, an LSN and an xid stops exactly there', { timeout: 150_000 }, async () => {
  await lab.source.query('CREATE TABLE marks (id int PRIMARY KEY)');
  const targets: { type: string; target: string; rowsBefore: number[] }[] = [];
  await lab.source.query('INSERT INTO marks VALUES (1)');
  await lab.source.query("SELECT pg_create_restore_point('before-two')");
  targets.push({ type: 'name', target: 'before-two', rowsBefore: [1] });
  await lab.source.query('INSERT INTO marks VALUES (2)');
  const [lsn] = await lab.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  targets.push({ type: 'lsn', target: lsn?.lsn ?? '', rowsBefore: [1, 2] });
  await lab.source.query('INSERT INTO marks VALUES (3)');
  const [xid] = await lab.source.query<{ xid: string }>('INSERT INTO marks VALUES (4) RETURNING pg_current_xact_id()::text AS xid');
  // recovery_target_xid is inclusive by default: the transaction that inserted 4 is the last one replayed
  targets.push({ type: 'xid', target: xid?.xid ?? '', rowsBefore: [1, 2, 3, 4] });
  await lab.source.query('INSERT INTO marks VALUES (5)');
  const [wal] = await lab.source.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
  await eventually('the WAL with the marks archived', 60_000, async () => {
    const [archiver] = await lab.source.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return (archiver?.last ?? '') >= (wal?.walfile ?? 'Z') ? true : undefined;
  });
  for (const target of targets) {
    const restored = await restoreAndStart(`restored-${target.type}`, [`--type=${target.type}`, `--target=${target.target}`, '--target-action=promote']);
    try {
      const rows = await restored.query<{ id: number }>('SELECT id FROM marks ORDER BY id');
      assert.deepEqual(
        rows.map((r) => r.id),
        target.rowsBefore,
        `--type=${target.type} --target=${target.target}`,
      );
    } finally {
      await restored.stop();
    }
  }
});

test('--delta restores over an existing cluster, rewriting only what differs; without it a non-empty directory is refused', { timeout: 120_000 }, async () => {
  const dataDir = lab.newDataDir('restored-incr');
  // the directory of the first restore test, promoted and stopped: change it locally
  const local = await lab.startServer(dataDir);
  await local.query('UPDATE accounts SET balance = -1 WHERE id <= 10');
  await local.query('CREATE TABLE local_only (id int)');
  await local.stop();
  const refused = await lab.keel(['restore', `--pg1-path=${dataDir}`]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /is not empty; refusing to restore over it/);
  const incrLabel = (await info()).backup[1]?.label ?? '';
  const delta = await lab.keel(['restore', `--pg1-path=${dataDir}`, '--delta', `--set=${incrLabel}`, '--type=immediate', '--target-action=promote']);
  assert.equal(delta.code, 0, delta.stderr);
  const [, written, total] = /complete: (\d+) of (\d+) files written/.exec(delta.stdout) ?? [];
  assert.ok(Number(written) < Number(total) / 2, `delta rewrote ${written} of ${total} files`);
  const restored = await lab.startServer(dataDir);
  try {
    await eventually('delta-restored server promoted', 60_000, async () =>
      (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
    );
    assert.equal(await tableChecksum(restored, 'accounts'), checksumAtIncr);
    assert.deepEqual(await restored.query("SELECT 1 FROM pg_class WHERE relname = 'local_only'"), []);
  } finally {
    await restored.stop();
  }
});

test(
  'a backup killed mid-way leaves nothing usable-looking; one whose WAL is not archived fails on time; the next run cleans up',
  { timeout: 120_000 },
  async () => {
    const labelsBefore = (await info()).backup.map((b) => b.label);
    // archiving broken: the backup copies every file, then waits for its stop segment
    await lab.source.query("ALTER SYSTEM SET archive_command = '/bin/false'");
    await lab.source.query('SELECT pg_reload_conf()');
    try {
      const timedOut = await lab.keel(['backup', '--type=full', '--start-fast', '--archive-timeout=2']);
      assert.notEqual(timedOut.code, 0);
      assert.match(timedOut.stderr, /^keel: WAL segment [0-9A-F]{24} was not archived within 2s \(archive-timeout\); check archive_command = '\/bin\/false'$/m);

      const child = spawn(
        process.execPath,
        [KEEL_MAIN, 'backup', 'backup', '--type=full', '--start-fast', `--config=${lab.configFile}`, `--stanza=${lab.stanza}`],
        {
          env: { ...process.env, PGPASSWORD: 'backup-test-secret' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise((resolve) => child.on('close', resolve));
      try {
        await eventually('the backup to reach its WAL wait', 60_000, async () => (/backup stop archive/.test(output) ? true : undefined), 50);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const partials = (await readdir(join(lab.repoPath, lab.stanza, 'backup'))).filter((e) => e.endsWith('.partial'));
      assert.equal(partials.length, 1, 'the killed backup left its in-progress marker');
      assert.deepEqual(
        (await info()).backup.map((b) => b.label),
        labelsBefore,
        'no new backup is listed',
      );
    } finally {
      await lab.source.query('ALTER SYSTEM RESET archive_command');
      await lab.source.query('SELECT pg_reload_conf()');
    }
    const next = await lab.keel(['backup', '--type=diff']);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /removed interrupted backup/);
    const entries = await readdir(join(lab.repoPath, lab.stanza, 'backup'));
    assert.equal(entries.filter((e) => e.endsWith('.partial')).length, 0);
    const packDirs = await readdir(join(lab.repoPath, lab.stanza, 'pack'));
    const labelsNow = (await info()).backup.map((b) => b.label);
    assert.equal(labelsNow.length, labelsBefore.length + 1);
    for (const dir of packDirs) assert.ok(labelsNow.includes(dir), `pack directory ${dir} belongs to a committed backup`);
    assert.equal((await lab.keel(['verify'])).code, 0);
  },
);

test('an encrypted stanza refuses a wrong passphrase with one line and writes nothing; bad options are one-line errors', { timeout: 120_000 }, async () => {
  const pg1 = [`--pg1-path=${lab.source.dataDir}`, `--pg1-port=${lab.source.port}`, `--pg1-socket-path=${lab.source.socketDir}`];
  const encrypted = (args: string[], env: Record<string, string> = {}) =>
    lab.keel([...args, '--stanza=secure', '--repo1-cipher-type=aes-256-cbc', ...pg1], env);
  const create = await encrypted(['stanza-create', '--repo1-cipher-pass=right-passphrase']);
  assert.equal(create.code, 0, create.stderr);
  const backup = await encrypted(['backup', '--type=full', '--no-archive-check', '--repo1-cipher-pass=right-passphrase']);
  assert.equal(backup.code, 0, backup.stderr);
  const stanzaDir = join(lab.repoPath, 'secure');
  const bytesBefore = await directoryBytes(stanzaDir);
  const wrong = await encrypted(['backup', '--type=incr', '--no-archive-check', '--repo1-cipher-pass=wrong-passphrase']);
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.stderr, "keel: repo1-cipher-pass is wrong: it does not decrypt the repository of stanza 'secure'\n");
  assert.equal(await directoryBytes(stanzaDir), bytesBefore);
  const listed = await encrypted(['info', '--output=json', '--repo1-cipher-pass=right-passphrase']);
  assert.equal((JSON.parse(listed.stdout) as InfoJson[])[0]?.backup.length, 1);
  // the pass from the environment works as well, and the data is not readable without it
  const noPass = await encrypted(['verify']);
  assert.notEqual(noPass.code, 0);
  assert.equal(noPass.stderr, "keel: repository of stanza 'secure' is encrypted and repo1-cipher-pass is not set\n");
  // with the pass from the environment every block decrypts and checks; the only problem verify
  // finds is the WAL this stanza never received (it was backed up with --no-archive-check)
  const fromEnv = await encrypted(['verify'], { PGBACKREST_REPO1_CIPHER_PASS: 'right-passphrase' });
  assert.equal(fromEnv.code, 1, fromEnv.stderr);
  assert.match(
    fromEnv.stdout,
    /^backup \d{8}-\d{6}F: WAL [0-9A-F]{24}: missing from the archive \(the backup cannot be made consistent\)\nverify: 1 backup\(s\) checked, 1 problem\(s\)\n$/,
  );

  const unknown = await lab.keel(['info', '--repo1-bogus=1']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "keel: unknown option '--repo1-bogus'\n");
  await writeFile(join(lab.dir, 'bad.conf'), '[global]\nrepo1-path=/x\nprocess-max=lots\n');
  const invalid = await lab.keel(['info', `--config=${join(lab.dir, 'bad.conf')}`]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /^keel: .*bad\.conf \[global\]: invalid value 'lots' for option 'process-max' \(an integer\)\n$/);

  // a pg1-path its OS user cannot create (started as root, the command runs as postgres): one
  // line naming the path and the user, before anything is read from the repository or written
  const readOnly = join(lab.dir, 'read-only');
  await mkdir(readOnly, { mode: 0o555 });
  const denied = await lab.keel(['restore', `--pg1-path=${join(readOnly, 'data')}`]);
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(
    denied.stderr,
    /^keel: permission denied \(EACCES\): mkdir '[^']*\/read-only\/data' as user \w+ \(uid \d+\)\nhint: give \w+ that path \(or its parent directory\), or choose another\n$/,
  );
  assert.deepEqual(await readdir(readOnly), []);
});

test(
  'expire keeps what retention says and kept backups still restore; a flipped byte is named by verify and refused by restore',
  { timeout: 150_000 },
  async () => {
    const before = (await info()).backup.map((b) => b.label);
    for (let i = 0; i < 2; i++) {
      const full = await lab.keel(['backup', '--type=full']);
      assert.equal(full.code, 0, full.stderr);
    }
    const fulls = (await info()).backup.filter((b) => b.type === 'full').map((b) => b.label);
    const [secondNewest, newest] = fulls.slice(-2);
    assert.ok(secondNewest !== undefined && newest !== undefined);
    // the config says repo1-retention-full=2: the first full goes, and every backup depending on it
    const expire = await lab.keel(['expire']);
    assert.equal(expire.code, 0, expire.stderr);
    for (const label of before) assert.match(expire.stdout, new RegExp(`expire backup set ${label} `));
    // the same answer through the pgBackRest-compatible entry, options before the command
    const viaEntry = await runKeelPgbackrest(['--output=json', 'info']);
    assert.deepEqual(
      (JSON.parse(viaEntry) as InfoJson[])[0]?.backup.map((b) => b.label),
      [secondNewest, newest],
    );
    assert.deepEqual((await readdir(join(lab.repoPath, lab.stanza, 'pack'))).sort(), [secondNewest, newest]);
    assert.equal((await lab.keel(['verify'])).code, 0);
    const restored = await restoreAndStart('restored-after-expire', [`--set=${secondNewest}`, '--type=immediate', '--target-action=promote']);
    try {
      assert.equal(await tableChecksum(restored, 'accounts'), checksumAtIncr);
    } finally {
      await restored.stop();
    }

    // flip one byte in the middle of the newest full's first pack
    const packDir = join(lab.repoPath, lab.stanza, 'pack', newest);
    const [pack] = (await readdir(packDir)).sort();
    const packPath = join(packDir, pack ?? '');
    const handle = await open(packPath, 'r+');
    try {
      const { size } = await handle.stat();
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, Math.floor(size / 2));
      byte[0] = (byte[0] ?? 0) ^ 0xff;
      await handle.write(byte, 0, 1, Math.floor(size / 2));
    } finally {
      await handle.close();
    }
    const verify = await lab.keel(['verify', `--set=${newest}`]);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, new RegExp(`^backup ${newest}: base/\\d+/\\d+: block \\d+ \\(pack/${newest}/${pack ?? ''} at \\d+\\): `, 'm'));
    const refused = await lab.keel(['restore', `--set=${newest}`, `--pg1-path=${lab.newDataDir('restored-corrupt')}`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /^keel: block \d+ of base\/\d+\/\d+ .* is corrupt: .*; restore refused$/m);
    assert.equal((await lab.keel(['verify', `--set=${secondNewest}`])).code, 0, 'the other full is untouched');

    // a CRC-32 recorded wrong while every block is intact: restore would refuse the good block, so verify must name it
    const repository = await Repository.open({
      repoPath: lab.repoPath,
      stanza: lab.stanza,
      cipherType: 'none',
      cipherPass: null,
      compressType: 'zst',
      compressLevel: 3,
    });
    const kept = await repository.readManifest(secondNewest);
    const victim = kept.files.find((f) => f.path.startsWith('base/') && (f.crc32?.length ?? 0) > 1);
    assert.ok(victim?.crc32 !== undefined);
    victim.crc32[1] = ((victim.crc32[1] ?? 0) ^ 1) >>> 0;
    await repository.commitBackup(kept);
    // written by this (root) process: give them back to the repository's owner, who runs verify
    const backupDir = join(lab.repoPath, lab.stanza, 'backup', secondNewest);
    const owner = await stat(backupDir);
    for (const name of ['manifest', 'summary']) await chown(join(backupDir, name), owner.uid, owner.gid);
    const crcVerify = await lab.keel(['verify', `--set=${secondNewest}`]);
    assert.equal(crcVerify.code, 1, crcVerify.stdout);
    assert.match(
      crcVerify.stdout,
      new RegExp(
        `^backup ${secondNewest}: ${victim.path}: block 1 \\(pack/${secondNewest}/\\S+ at \\d+\\): block CRC-32 differs from the one recorded in the manifest$`,
        'm',
      ),
    );
  },
);

async function runKeelPgbackrest(args: string[]): Promise<string> {
  const result = await runKeel(['pgbackrest', `--config=${lab.configFile}`, `--stanza=${lab.stanza}`, ...args], { env: { PGPASSWORD: 'backup-test-secret' } });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}
