/**
 * bench/backup: keel backup vs pgBackRest 2.45 (Debian package) in one run, on one PostgreSQL 15
 * with a pgbench database, same compression (zstd level 3) and process-max 2, both archiving
 * (archive_command pushes to both repositories): full backup time and repository size,
 * incremental after a small change (1 row in 5,000) and after `pgbench -T 20` (time and size),
 * restore time of the last incremental.
 *
 *   node dist/bench/backup.js [--scale 50] [--pgbench-seconds 20]
 *
 * Writes bench/results/backup.json and bench/results/backup.table.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBackupLab, directoryBytes, PASSWORD, PG_BIN, type BackupLab } from '../test/integration/backup/standalone-postgres.js';
import { KEEL_MAIN } from '../test/support/sandbox.js';
import { lookupUser } from '../src/postgres/os-user.js';
import { arg, monoMs } from './support.js';

const run = promisify(execFile);
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function timed(what: string, file: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const started = monoMs();
  try {
    await run(file, args, { env: { ...process.env, PGPASSWORD: PASSWORD, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 1_800_000 });
  } catch (error) {
    const failed = error as { stderr?: string; stdout?: string };
    throw new Error(`${what} failed: ${String(error)} ${failed.stderr ?? ''}${failed.stdout ?? ''}`);
  }
  return (monoMs() - started) / 1000;
}

async function main(): Promise<void> {
  const scale = arg('scale', '50');
  const pgbenchSeconds = arg('pgbench-seconds', '20');
  const lab = await startBackupLab();
  try {
    const results = await measure(lab, scale, pgbenchSeconds);
    await mkdir(RESULTS, { recursive: true });
    await writeFile(join(RESULTS, 'backup.json'), JSON.stringify(results, null, 2) + '\n');
    const table = renderTable(results);
    await writeFile(join(RESULTS, 'backup.table.md'), table);
    process.stdout.write(table);
  } finally {
    await lab.stop();
  }
}

interface Side {
  fullS: number;
  fullBytes: number;
  smallIncrS: number;
  smallIncrBytes: number;
  incrS: number;
  incrBytes: number;
  restoreS: number;
}

async function measure(lab: BackupLab, scale: string, pgbenchSeconds: string): Promise<{ scale: number; databaseBytes: number; keel: Side; pgbackrest: Side }> {
  const postgres = lookupUser('postgres');
  const refRepo = join(lab.dir, 'ref-repo');
  const refConf = join(lab.dir, 'pgbackrest-ref.conf');
  for (const dir of [refRepo, join(lab.dir, 'ref-log'), join(lab.dir, 'ref-lock'), join(lab.dir, 'ref-spool')]) {
    await mkdir(dir, { recursive: true });
    if (postgres !== null) await chown(dir, postgres.uid, postgres.gid);
  }
  await writeFile(
    refConf,
    [
      '[global]',
      `repo1-path=${refRepo}`,
      `log-path=${join(lab.dir, 'ref-log')}`,
      `lock-path=${join(lab.dir, 'ref-lock')}`,
      `spool-path=${join(lab.dir, 'ref-spool')}`,
      'compress-type=zst',
      'compress-level=3',
      'process-max=2',
      'start-fast=y',
      'log-level-console=warn',
      '',
      '[bench]',
      `pg1-path=${lab.source.dataDir}`,
      `pg1-port=${lab.source.port}`,
      `pg1-socket-path=${lab.source.socketDir}`,
      '',
    ].join('\n'),
  );
  const pgbackrest = (args: string[]) => ['-u', 'postgres', '--', '/usr/bin/pgbackrest', `--config=${refConf}`, '--stanza=bench', ...args];
  const keelPush = `'${process.execPath}' '${KEEL_MAIN}' backup archive-push %p --config=${lab.configFile} --stanza=${lab.stanza}`;
  const refPush = `/usr/bin/pgbackrest --config=${refConf} --stanza=bench archive-push %p`;
  await lab.source.query(`ALTER SYSTEM SET archive_command = '${`${keelPush} && ${refPush}`.replaceAll("'", "''")}'`);
  await lab.source.query('SELECT pg_reload_conf()');
  const pgbenchArgs = ['-h', lab.source.socketDir, '-p', String(lab.source.port), '-U', 'postgres', 'postgres'];
  await timed('pgbench -i', `${PG_BIN}/pgbench`, ['-i', '-q', '-s', scale, ...pgbenchArgs]);
  await lab.source.query('CHECKPOINT');
  const [size] = await lab.source.query<{ bytes: string }>('SELECT sum(pg_database_size(oid))::text AS bytes FROM pg_database');
  const keel = (args: string[]) => [KEEL_MAIN, 'backup', ...args, `--config=${lab.configFile}`, `--stanza=${lab.stanza}`, '--log-level-console=warn'];
  await timed('keel stanza-create', process.execPath, keel(['stanza-create']));
  await timed('pgbackrest stanza-create', '/usr/sbin/runuser', pgbackrest(['stanza-create']));

  // every measurement starts with the archive drained, so no side pays for WAL the other made
  const drainArchive = async () => {
    const [switched] = await lab.source.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
    const deadline = Date.now() + 900_000;
    for (;;) {
      const [archiver] = await lab.source.query<{ last: string | null; failed: string | null }>(
        'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver',
      );
      if ((archiver?.last ?? '') >= (switched?.walfile ?? '')) return;
      if (Date.now() > deadline) throw new Error(`archive not drained (last ${archiver?.last ?? 'none'}, failed ${archiver?.failed ?? 'none'})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const keelSide = {} as Side;
  const refSide = {} as Side;
  const keelStored = () =>
    Promise.all([directoryBytes(join(lab.repoPath, lab.stanza, 'pack')), directoryBytes(join(lab.repoPath, lab.stanza, 'backup'))]).then(([a, b]) => a + b);
  const refStored = () => directoryBytes(join(refRepo, 'backup'));

  await drainArchive();
  refSide.fullS = await timed('pgbackrest full', '/usr/sbin/runuser', pgbackrest(['--type=full', 'backup']));
  refSide.fullBytes = await refStored();
  await drainArchive();
  keelSide.fullS = await timed('keel full', process.execPath, keel(['backup', '--type=full', '--start-fast']));
  keelSide.fullBytes = await keelStored();

  // a small change: 1 row in 5,000 of pgbench_accounts (about 1,000 pages of 82,000 at scale 50)
  await lab.source.query('UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 5000 = 0');
  await lab.source.query('CHECKPOINT');
  await drainArchive();
  keelSide.smallIncrS = await timed('keel small incr', process.execPath, keel(['backup', '--type=incr', '--start-fast']));
  keelSide.smallIncrBytes = (await keelStored()) - keelSide.fullBytes;
  await drainArchive();
  refSide.smallIncrS = await timed('pgbackrest small incr', '/usr/sbin/runuser', pgbackrest(['--type=incr', 'backup']));
  refSide.smallIncrBytes = (await refStored()) - refSide.fullBytes;
  const keelBeforeIncr = await keelStored();
  const refBeforeIncr = await refStored();

  await timed('pgbench -T', `${PG_BIN}/pgbench`, ['-T', pgbenchSeconds, '-c', '2', ...pgbenchArgs]);
  await lab.source.query('CHECKPOINT');
  await drainArchive();
  keelSide.incrS = await timed('keel incr', process.execPath, keel(['backup', '--type=incr', '--start-fast']));
  keelSide.incrBytes = (await keelStored()) - keelBeforeIncr;
  await drainArchive();
  refSide.incrS = await timed('pgbackrest incr', '/usr/sbin/runuser', pgbackrest(['--type=incr', 'backup']));
  refSide.incrBytes = (await refStored()) - refBeforeIncr;

  const refTarget = lab.newDataDir('ref-restore');
  const keelTarget = lab.newDataDir('keel-restore');
  for (const dir of [refTarget]) {
    await mkdir(dir, { mode: 0o700 });
    if (postgres !== null) await chown(dir, postgres.uid, postgres.gid);
  }
  refSide.restoreS = await timed('pgbackrest restore', '/usr/sbin/runuser', pgbackrest([`--pg1-path=${refTarget}`, 'restore']));
  keelSide.restoreS = await timed('keel restore', process.execPath, keel(['restore', `--pg1-path=${keelTarget}`]));
  return { scale: Number(scale), databaseBytes: Number(size?.bytes ?? 0), keel: keelSide, pgbackrest: refSide };
}

function renderTable(results: { scale: number; databaseBytes: number; keel: Side; pgbackrest: Side }): string {
  const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  const secs = (s: number) => `${s.toFixed(2)} s`;
  const ratio = (a: number, b: number) => (b === 0 ? '-' : (a / b).toFixed(2));
  const rows: [string, string, string, string][] = [
    ['full backup time', secs(results.keel.fullS), secs(results.pgbackrest.fullS), ratio(results.keel.fullS, results.pgbackrest.fullS)],
    ['full backup size', mib(results.keel.fullBytes), mib(results.pgbackrest.fullBytes), ratio(results.keel.fullBytes, results.pgbackrest.fullBytes)],
    [
      'incr time (1 row in 5,000 updated)',
      secs(results.keel.smallIncrS),
      secs(results.pgbackrest.smallIncrS),
      ratio(results.keel.smallIncrS, results.pgbackrest.smallIncrS),
    ],
    [
      'incr size (1 row in 5,000 updated)',
      mib(results.keel.smallIncrBytes),
      mib(results.pgbackrest.smallIncrBytes),
      ratio(results.keel.smallIncrBytes, results.pgbackrest.smallIncrBytes),
    ],
    ['incr time (after pgbench -T)', secs(results.keel.incrS), secs(results.pgbackrest.incrS), ratio(results.keel.incrS, results.pgbackrest.incrS)],
    [
      'incr size (after pgbench -T)',
      mib(results.keel.incrBytes),
      mib(results.pgbackrest.incrBytes),
      ratio(results.keel.incrBytes, results.pgbackrest.incrBytes),
    ],
    ['restore time (incr set)', secs(results.keel.restoreS), secs(results.pgbackrest.restoreS), ratio(results.keel.restoreS, results.pgbackrest.restoreS)],
  ];
  return [
    `# bench/backup: keel vs pgBackRest 2.45, pgbench scale ${results.scale} (${mib(results.databaseBytes)}), zstd 3, process-max 2`,
    '',
    '| measure | keel | pgBackRest | keel / pgBackRest |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
}

await main();
