/**
 * Asynchronous archiving (archive-async=y, spool-path, process-max) on a real PostgreSQL 15:
 * many segments (pg_switch_wal) all reach the repository through the background push; a push
 * failure (a different file already archived under the next segment's name) reaches PostgreSQL
 * as a failed archive_command with the cause in its log, and archiving resumes once it is
 * removed; the same segment pushed twice with the same content succeeds and with different
 * content fails, in async mode too (a stale verdict about another file of that name is not
 * taken); a restore whose restore_command prefetches through the spool
 * replays all of it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackupLab, type BackupLab } from './standalone-postgres.js';
import { eventually } from '../../support/sandbox.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';

let lab: BackupLab;
let spool: string;

async function toPostgres(path: string): Promise<void> {
  const user = postgresRunAs();
  if (user !== null) await chown(path, user.uid, user.gid);
}

before(async () => {
  spool = await mkdtemp(join(tmpdir(), 'keel-spool-'));
  await toPostgres(spool);
  lab = await startBackupLab(['archive-async=y', `spool-path=${spool}`, 'process-max=4', 'archive-timeout=30'].join('\n'));
});
after(async () => {
  await lab?.stop();
  if (spool !== undefined) await rm(spool, { recursive: true, force: true });
});

async function archived(): Promise<Map<string, string>> {
  const root = join(lab.repoPath, lab.stanza, 'archive', '15-1');
  const names = new Map<string, string>();
  for (const sub of await readdir(root).catch(() => [] as string[]))
    for (const entry of await readdir(join(root, sub)).catch(() => [] as string[])) names.set(entry.slice(0, -65), join(root, sub, entry));
  return names;
}

async function archiver(): Promise<{ archived: number; failed: number; lastFailed: string | null }> {
  const [row] = await lab.source.query<{ archived: string; failed: string; last_failed: string | null }>(
    'SELECT archived_count AS archived, failed_count AS failed, last_failed_wal AS last_failed FROM pg_stat_archiver',
  );
  return { archived: Number(row?.archived), failed: Number(row?.failed), lastFailed: row?.last_failed ?? null };
}

/** Writes a row and switches to a new segment `count` times; the names of the finished segments. */
async function switchSegments(count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    await lab.source.query('INSERT INTO ticks VALUES (default)');
    const [row] = await lab.source.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
    names.push(row?.name ?? '');
  }
  return names;
}

test('30 segments switched in a row all reach the repository through the background push', { timeout: 180_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  await lab.source.query('CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
  const before = await archiver();
  const names = await switchSegments(30);
  await eventually('every switched segment archived', 120_000, async () => {
    const stored = await archived();
    return names.every((n) => stored.has(n)) ? true : undefined;
  });
  // the worker pushes ahead of PostgreSQL's calls: the counters follow once each call took its verdict
  const after = await eventually('PostgreSQL to count them archived', 60_000, async () => {
    const now = await archiver();
    return now.archived - before.archived >= 30 ? now : undefined;
  });
  assert.equal(after.failed, before.failed, 'no archive_command failed');
  // archive_command went through the spool: its verdicts are consumed, none is left behind in error
  const out = await readdir(join(spool, 'archive', lab.stanza, 'out'));
  assert.deepEqual(
    out.filter((e) => e.endsWith('.error')),
    [],
  );
  const log = await readFile(`${lab.source.dataDir}.log`, 'utf8');
  assert.match(log, /pushed WAL file '[0-9A-F]{24}' to the archive asynchronously/);
});

test(
  'a failed background push is a failed archive_command with its cause in the server log; archiving resumes after the fix',
  { timeout: 180_000 },
  async () => {
    // a row first: right after a switch the insert position sits on a segment boundary, which
    // pg_walfile_name names after the previous (already archived) segment
    await lab.source.query('INSERT INTO ticks VALUES (default)');
    const [row] = await lab.source.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name');
    const next = row?.name ?? '';
    // another cluster's file under the name of the segment being written now
    const dir = join(lab.repoPath, lab.stanza, 'archive', '15-1', next.slice(0, 16));
    await mkdir(dir, { recursive: true });
    const bogus = join(dir, `${next}-${'0'.repeat(64)}`);
    await writeFile(bogus, 'not this cluster');
    const before = await archiver();
    try {
      await switchSegments(1);
      await eventually('PostgreSQL to see archive_command fail', 60_000, async () => {
        const now = await archiver();
        return now.failed > before.failed && now.lastFailed === next ? true : undefined;
      });
      const log = await readFile(`${lab.source.dataDir}.log`, 'utf8');
      assert.match(log, new RegExp(`archive-push of ${next} failed in the background: WAL file ${next} is already in the archive with different content`));
      assert.match(log, /archive command failed with exit code/);
    } finally {
      await rm(bogus, { force: true });
    }
    const later = await switchSegments(2);
    await eventually('archiving resumed', 120_000, async () => {
      const stored = await archived();
      return stored.has(next) && later.every((n) => stored.has(n)) ? true : undefined;
    });
  },
);

test('async push of the same segment twice: same content succeeds, different content fails loudly', { timeout: 120_000 }, async () => {
  const wal = await mkdtemp(join(tmpdir(), 'keel-fake-wal-'));
  await mkdir(join(wal, 'archive_status'));
  const name = '0000000A0000000000000001'; // a timeline this cluster never reaches
  const path = join(wal, name);
  const push = async (content: Buffer) => {
    await writeFile(path, content);
    await writeFile(join(wal, 'archive_status', `${name}.ready`), '');
    return lab.keel(['archive-push', path]);
  };
  try {
    await toPostgres(wal);
    const content = randomBytes(256 * 1024);
    const first = await push(content);
    assert.equal(first.code, 0, first.stderr);
    assert.ok((await archived()).has(name));
    const again = await push(content);
    assert.equal(again.code, 0, again.stderr);
    // a verdict left over about an earlier file of that name (an earlier life of pg_wal) is not taken
    await writeFile(join(spool, 'archive', lab.stanza, 'out', `${name}.ok`), '1:2:3');
    const different = await push(randomBytes(256 * 1024));
    assert.notEqual(different.code, 0);
    assert.match(
      different.stderr,
      new RegExp(`^keel: archive-push of ${name} failed in the background: WAL file ${name} is already in the archive with different content`, 'm'),
    );
    assert.equal((await readdir(join(lab.repoPath, lab.stanza, 'archive', '15-1', name.slice(0, 16)))).length, 1, 'nothing was overwritten or added');
  } finally {
    await rm(wal, { recursive: true, force: true });
  }
});

test('a restore whose restore_command prefetches through the spool replays every archived segment', { timeout: 180_000 }, async () => {
  const full = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(full.code, 0, full.stderr);
  await switchSegments(12);
  const [expected] = await lab.source.query<{ n: string }>('SELECT count(*) AS n FROM ticks');
  const [last] = await lab.source.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
  await eventually('the last segment archived', 60_000, async () => ((await archived()).has(last?.name ?? '') ? true : undefined));
  const dataDir = lab.newDataDir('restored-async');
  const restore = await lab.keel(['restore', `--pg1-path=${dataDir}`]);
  assert.equal(restore.code, 0, restore.stderr + restore.stdout);
  const restored = await lab.startServer(dataDir);
  try {
    await eventually('restored server out of recovery', 120_000, async () =>
      (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
    );
    const [count] = await restored.query<{ n: string }>('SELECT count(*) AS n FROM ticks');
    assert.equal(count?.n, expected?.n);
    const log = await readFile(`${dataDir}.log`, 'utf8');
    assert.match(log, /restored log file "[0-9A-F]{24}" from archive/);
    // the prefetch went through the spool's inbox
    assert.ok((await readdir(join(spool, 'archive', lab.stanza))).includes('in'));
  } finally {
    await restored.stop();
  }
});
