/**
 * The WAL archive on real PostgreSQL 15 with real segments: repo1-retention-archive=1 makes
 * expire remove the WAL between an older kept full and the newest full, never the WAL the older
 * full needs to be consistent (it still restores); recovery targets that cannot be reached (a
 * time after the end of the archive, an LSN before the oldest backup or past the archive, an xid
 * that ended before every backup) are one-line errors before anything is written; a segment
 * missing from the archive is a gap that info and verify report.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, archivedWal, infoStanza, type BackupLab } from './standalone-postgres.js';
import { eventually } from '../../support/sandbox.js';

let lab: BackupLab;
before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

interface BackupJson {
  label: string;
  type: string;
  archive: { start: string; stop: string };
  lsn: { start: string; stop: string };
}

async function backups(): Promise<BackupJson[]> {
  return (await infoStanza<{ backup: BackupJson[] }>(lab)).backup;
}

/** Writes a little and switches to a new segment, `count` times, each archived before the next. */
async function switchSegments(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await lab.source.query('INSERT INTO ticks VALUES (DEFAULT)');
    const [row] = await lab.source.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
    await eventually(`segment ${row?.walfile ?? ''} archived`, 60_000, async () => {
      const [archiver] = await lab.source.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
      return (archiver?.last ?? '') >= (row?.walfile ?? 'Z') ? true : undefined;
    });
  }
}

const position = (name: string) => name.slice(8);

/** A backup's stop time (ISO) from info's JSON timestamps. */
async function stopTime(label: string): Promise<string> {
  const stanza = await infoStanza<{ backup: { timestamp: { stop: number } }[] }>(lab, [`--set=${label}`]);
  return new Date((stanza.backup[0]?.timestamp.stop ?? 0) * 1000 + 1000).toISOString();
}

test('repo1-retention-archive=1 removes the WAL between the older full and the newest, keeping what the older full needs', { timeout: 240_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  await lab.source.query('CREATE TABLE ticks (id serial PRIMARY KEY)');
  await lab.source.query('CREATE TABLE kept (id int PRIMARY KEY)');
  await lab.source.query('INSERT INTO kept SELECT generate_series(1, 1000)');
  assert.equal((await lab.keel(['backup', '--type=full', '--start-fast'])).code, 0);
  await switchSegments(3);
  assert.equal((await lab.keel(['backup', '--type=full', '--start-fast'])).code, 0);
  await switchSegments(2);
  assert.equal((await lab.keel(['backup', '--type=incr', '--start-fast'])).code, 0);
  await switchSegments(2);
  const [older, newest] = await backups();
  assert.ok(older !== undefined && newest !== undefined);
  const archivedBefore = await archivedWal(lab, '15-1');

  // retention-full=2 (the lab's config) keeps both fulls; archive retention counts one full
  const expire = await lab.keel(['expire', '--repo1-retention-archive=1']);
  assert.equal(expire.code, 0, expire.stderr);
  assert.match(expire.stdout, new RegExp(`archive retention on 15-1: removed \\d+ WAL files, kept continuous WAL from ${newest.archive.start}`));
  const archivedAfter = await archivedWal(lab, '15-1');
  const segments = (names: string[]) => names.filter((n) => /^[0-9A-F]{24}$/.test(n));
  for (const name of segments(archivedBefore)) {
    const p: string = position(name);
    const olderNeeds: boolean = p >= position(older.archive.start) && p <= position(older.archive.stop);
    const continuous: boolean = p >= position(newest.archive.start);
    assert.equal(
      archivedAfter.includes(name),
      olderNeeds || continuous,
      `${name}: kept ${archivedAfter.includes(name)}, older ${older.archive.start}-${older.archive.stop}, newest from ${newest.archive.start}`,
    );
  }
  assert.ok(segments(archivedBefore).length - segments(archivedAfter).length >= 3, 'the segments between the two fulls went');

  // the older full still restores (its own WAL is there); info and verify see no gap (the removal was retention's)
  const dataDir = lab.newDataDir('restored-older');
  const restore = await lab.keel(['restore', `--pg1-path=${dataDir}`, `--set=${older.label}`, '--type=immediate', '--target-action=promote']);
  assert.equal(restore.code, 0, restore.stderr);
  const restored = await lab.startServer(dataDir);
  try {
    await eventually('restored older full promoted', 60_000, async () =>
      (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
    );
    const [row] = await restored.query<{ n: string }>('SELECT count(*)::text AS n FROM kept');
    assert.equal(row?.n, '1000');
  } finally {
    await restored.stop();
  }
  assert.doesNotMatch((await lab.keel(['info'])).stdout, /wal archive gap/);
  const verify = await lab.keel(['verify']);
  assert.equal(verify.code, 0, verify.stdout);
});

test('unreachable recovery targets are refused before anything is written', { timeout: 120_000 }, async () => {
  const list = await backups();
  const oldest = list[0] as BackupJson;
  const refuse = async (type: string, target: string, message: RegExp) => {
    const dataDir = lab.newDataDir(`refused-${type}-${target.replace(/\W/g, '')}`);
    const result = await lab.keel(['restore', `--pg1-path=${dataDir}`, `--type=${type}`, `--target=${target}`]);
    assert.equal(result.code, 1, `${type} ${target}: ${result.stdout}`);
    assert.match(result.stderr.split('\n')[0] ?? '', message);
    await assert.rejects(stat(dataDir), `${type} ${target}: nothing written`);
  };
  const inAnHour = new Date(Date.now() + 3600_000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '+00');
  await refuse(
    'time',
    inAnHour,
    /^keel: cannot restore: target time \S+ is after the end of the WAL archive \(the last segment, [0-9A-F]{24}, was archived at /,
  );
  await refuse('time', '2001-01-01 00:00:00+00', /^keel: cannot restore: target time 2001-01-01T00:00:00.000Z is before the end of the oldest backup/);
  await refuse('lsn', 'FF/0', /^keel: cannot restore: target lsn FF\/0 is after the end of the WAL archive \(the last segment, [0-9A-F]{24}, ends at lsn /);
  await refuse(
    'lsn',
    '0/1',
    new RegExp(`^keel: cannot restore: target lsn 0/1 is before the end of the oldest backup: backup set ${oldest.label} ends at lsn ${oldest.lsn.stop}`),
  );
  await refuse('xid', '3', /^keel: cannot restore: target xid 3 is before the end of the oldest backup: backup set \S+ started after transaction 3 ended/);
  await refuse('lsn', 'zz', /^keel: --target 'zz' is not an LSN/);
  // --set: a target before that set's end is refused, even when an older backup could reach it
  const newest = list[list.length - 1] as BackupJson;
  const beforeNewest = lab.newDataDir('refused-set');
  const early = await stopTime(oldest.label);
  assert.ok(early < (await stopTime(newest.label)), 'the target lies between the two backups (five archived switches apart)');
  const bySet = await lab.keel(['restore', `--pg1-path=${beforeNewest}`, `--set=${newest.label}`, '--type=time', `--target=${early}`]);
  assert.equal(bySet.code, 1);
  assert.match(bySet.stderr, new RegExp(`^keel: cannot restore: backup set ${newest.label} ends at \\S+, after the target time`));
  await assert.rejects(stat(beforeNewest));
});

test('a segment missing from the archive is a gap that info and verify report', { timeout: 120_000 }, async () => {
  const newest = (await backups()).at(-1) as BackupJson;
  const archived = (await archivedWal(lab, '15-1')).filter((n) => /^[0-9A-F]{24}$/.test(n) && position(n) > position(newest.archive.stop));
  const missing = archived[0];
  assert.ok(missing !== undefined && archived.length >= 2, 'segments archived after the newest backup');
  const dir = join(lab.repoPath, lab.stanza, 'archive', '15-1', missing.slice(0, 16));
  for (const entry of await readdir(dir)) if (entry.startsWith(`${missing}-`)) await rm(join(dir, entry));

  const text = await lab.keel(['info']);
  assert.match(text.stdout, new RegExp(`\\n {8}wal archive gap: ${missing} to ${missing} \\(1 segment missing\\)\\n`));
  const json = await lab.keel(['info', '--output=json']);
  const [stanza] = JSON.parse(json.stdout) as { archive: { id: string; gap: { start: string; stop: string; count: number }[] }[] }[];
  assert.deepEqual(stanza?.archive[0]?.gap, [{ start: missing, stop: missing, count: 1 }]);
  const verify = await lab.keel(['verify']);
  assert.equal(verify.code, 1);
  assert.match(
    verify.stdout,
    new RegExp(
      `^archive: WAL ${missing} to ${missing}: missing from the archive 15-1 \\(a gap of 1 segment: recovery cannot replay past it\\)\\nverify: \\d+ backup\\(s\\) checked, 1 problem\\(s\\)\\n$`,
      'm',
    ),
  );
});
