/**
 * bench/backup: keel backup vs pgBackRest 2.45 (Debian package) in one run, on one PostgreSQL 15
 * with a pgbench database, same compression (zstd level 3) and process-max 2, both archiving
 * (archive_command pushes to both repositories): full backup time and repository size,
 * the same full backup into an AES-256 encrypted repository, incremental after a small change
 * (1 row in 5,000) and after `pgbench -T 20` (time and size), restore time of the last
 * incremental, delta restore time (over that restored directory after local changes) and PITR
 * time (restore to a time target, then start, recover to the target and promote until the server
 * accepts a write).
 *
 *   node dist/bench/backup.js [--scale 50] [--pgbench-seconds 20] [--reps 3]
 *
 * The full backup (plain and encrypted) and the restore, the goals' times, are taken --reps
 * times, the two tools in turn and taking turns going first, and their median is reported (one
 * run of each varied by a third between runs here). Every timed step starts after a sync: no tool
 * pays for the other's writeback.
 *
 * Writes bench/results/backup.json and bench/results/backup.table.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile, chown, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
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
  // the writes of what ran before (the other tool's restore, a removed directory) are flushed
  // first, so that neither tool pays for the other's writeback
  await run('sync', []);
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
  const reps = Math.max(1, Number(arg('reps', '3')));
  const lab = await startBackupLab();
  try {
    const loadStart = loadavg()[0] ?? 0;
    const results = { ...(await measure(lab, scale, pgbenchSeconds, reps)), loadAverage1m: { start: loadStart, end: loadavg()[0] ?? 0 } };
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
  /** Median of fullSamples. */
  fullS: number;
  fullSamples: number[];
  fullBytes: number;
  encryptedFullS: number;
  encryptedFullBytes: number;
  smallIncrS: number;
  smallIncrBytes: number;
  incrS: number;
  incrBytes: number;
  /** Median of restoreSamples. */
  restoreS: number;
  restoreSamples: number[];
  deltaRestoreS: number;
  /** PITR: the restore to the time target. */
  pitrRestoreS: number;
  /** PITR: server start, recovery to the target and promotion until a write commits. */
  pitrRecoverS: number;
  /**
   * WAL files restore_command fetched in that recovery: each tool recovers from its own last
   * backup, and the one taken first (keel's) starts earlier in the WAL, so it may fetch more.
   */
  pitrWalFetched: number;
}

interface Results {
  /** The machine's 1-minute load average when the run started and ended (others may be working on it). */
  loadAverage1m?: { start: number; end: number };
  scale: number;
  pgbenchSeconds: number;
  reps: number;
  databaseBytes: number;
  keel: Side;
  pgbackrest: Side;
}

const CIPHER_PASS = 'bench-cipher-passphrase-5b1e';

async function measure(lab: BackupLab, scale: string, pgbenchSeconds: string, reps: number): Promise<Results> {
  const postgres = lookupUser('postgres');
  const refRepo = join(lab.dir, 'ref-repo');
  const refEncRepo = join(lab.dir, 'ref-repo-enc');
  const keelEncRepo = join(lab.dir, 'keel-repo-enc');
  for (const dir of [refRepo, refEncRepo, keelEncRepo, join(lab.dir, 'ref-log'), join(lab.dir, 'ref-lock'), join(lab.dir, 'ref-spool')]) {
    await mkdir(dir, { recursive: true });
    if (postgres !== null) await chown(dir, postgres.uid, postgres.gid);
  }
  const refConfLines = (repo: string, cipher: string[]) => [
    '[global]',
    `repo1-path=${repo}`,
    ...cipher,
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
  ];
  const refConf = join(lab.dir, 'pgbackrest-ref.conf');
  const refEncConf = join(lab.dir, 'pgbackrest-ref-enc.conf');
  await writeFile(refConf, refConfLines(refRepo, []).join('\n'));
  await writeFile(refEncConf, refConfLines(refEncRepo, ['repo1-cipher-type=aes-256-cbc', `repo1-cipher-pass=${CIPHER_PASS}`]).join('\n'), { mode: 0o640 });
  if (postgres !== null) await chown(refEncConf, postgres.uid, postgres.gid);
  const pgbackrestWith = (conf: string) => (args: string[]) => ['-u', 'postgres', '--', '/usr/bin/pgbackrest', `--config=${conf}`, '--stanza=bench', ...args];
  const pgbackrest = pgbackrestWith(refConf);
  const pgbackrestEnc = pgbackrestWith(refEncConf);
  const keelPush = `'${process.execPath}' '${KEEL_MAIN}' backup archive-push %p --config=${lab.configFile} --stanza=${lab.stanza}`;
  const refPush = `/usr/bin/pgbackrest --config=${refConf} --stanza=bench archive-push %p`;
  // both pushes at once, so that each tool's backup waits for its own archiving only (one after
  // the other, pgBackRest's WAL reached its repository only after keel's push had run)
  const bothPush = `(${keelPush}) & keel=$!; ${refPush}; ref=$?; wait $keel && exit $ref`;
  await lab.source.query(`ALTER SYSTEM SET archive_command = '${bothPush.replaceAll("'", "''")}'`);
  await lab.source.query('SELECT pg_reload_conf()');
  const pgbenchArgs = ['-h', lab.source.socketDir, '-p', String(lab.source.port), '-U', 'postgres', 'postgres'];
  await timed('pgbench -i', `${PG_BIN}/pgbench`, ['-i', '-q', '-s', scale, ...pgbenchArgs]);
  await lab.source.query('CHECKPOINT');
  const [size] = await lab.source.query<{ bytes: string }>('SELECT sum(pg_database_size(oid))::text AS bytes FROM pg_database');
  const keel = (args: string[]) => [KEEL_MAIN, 'backup', ...args, `--config=${lab.configFile}`, `--stanza=${lab.stanza}`, '--log-level-console=warn'];
  // the encrypted repository: the same configuration with another repo1-path and AES-256 (as pgBackRest's)
  const keelEnc = (args: string[]) => keel([...args, `--repo1-path=${keelEncRepo}`, '--repo1-cipher-type=aes-256-cbc', `--repo1-cipher-pass=${CIPHER_PASS}`]);
  await timed('keel stanza-create', process.execPath, keel(['stanza-create']));
  await timed('pgbackrest stanza-create', '/usr/sbin/runuser', pgbackrest(['stanza-create']));
  await timed('keel stanza-create (encrypted)', process.execPath, keelEnc(['stanza-create']));
  await timed('pgbackrest stanza-create (encrypted)', '/usr/sbin/runuser', pgbackrestEnc(['stanza-create']));

  // every measurement starts with the archive drained, so no side pays for WAL the other made
  // Drained: no file waits in archive_status (pg_switch_wal flushes the switch, so the segment it
  // closed is marked .ready before it returns). Not last_archived_wal >= the switched segment: a
  // backup history file (…2B.00000028.backup) can be archived after the next segment and then
  // compares lower than it for good, and a switch with nothing written names the previous segment.
  const drainArchive = async () => {
    await lab.source.query('SELECT pg_switch_wal()');
    const deadline = Date.now() + 900_000;
    for (;;) {
      const [archiver] = await lab.source.query<{ waiting: number; last: string | null; failed: string | null }>(
        `SELECT (SELECT count(*)::int FROM pg_ls_dir('pg_wal/archive_status') AS f WHERE f LIKE '%.ready') AS waiting,
                last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver`,
      );
      if (archiver?.waiting === 0) return;
      if (Date.now() > deadline) throw new Error(`archive not drained (last ${archiver?.last ?? 'none'}, failed ${archiver?.failed ?? 'none'})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const keelSide = {} as Side;
  const refSide = {} as Side;
  const keelStoredIn = (repo: string) => () =>
    Promise.all([directoryBytes(join(repo, lab.stanza, 'pack')), directoryBytes(join(repo, lab.stanza, 'backup'))]).then(([a, b]) => a + b);
  const keelStored = keelStoredIn(lab.repoPath);
  const refStored = () => directoryBytes(join(refRepo, 'backup'));

  // the full backup, reps times each, in turn; its size is the first one's
  refSide.fullSamples = [];
  keelSide.fullSamples = [];
  for (let rep = 0; rep < reps; rep++) {
    const refFull = async () => {
      await drainArchive();
      const refBefore = await refStored();
      refSide.fullSamples.push(await timed('pgbackrest full', '/usr/sbin/runuser', pgbackrest(['--type=full', 'backup'])));
      if (rep === 0) refSide.fullBytes = (await refStored()) - refBefore;
    };
    const keelFull = async () => {
      await drainArchive();
      const keelBefore = await keelStored();
      keelSide.fullSamples.push(await timed('keel full', process.execPath, keel(['backup', '--type=full', '--start-fast'])));
      if (rep === 0) keelSide.fullBytes = (await keelStored()) - keelBefore;
    };
    // the tools take turns going first
    for (const step of rep % 2 === 0 ? [refFull, keelFull] : [keelFull, refFull]) await step();
  }
  refSide.fullS = median(refSide.fullSamples);
  keelSide.fullS = median(keelSide.fullSamples);

  // the encrypted repositories do not receive WAL (archive_command pushes to the plain ones): both skip the archive check
  // (reps times each, taking turns going first, as the plain full; the size is the first one's)
  const refEncrypted: number[] = [];
  const keelEncrypted: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const refFull = async () => {
      await drainArchive();
      refEncrypted.push(await timed('pgbackrest encrypted full', '/usr/sbin/runuser', pgbackrestEnc(['--type=full', '--no-archive-check', 'backup'])));
      if (rep === 0) refSide.encryptedFullBytes = await directoryBytes(join(refEncRepo, 'backup'));
    };
    const keelFull = async () => {
      await drainArchive();
      keelEncrypted.push(await timed('keel encrypted full', process.execPath, keelEnc(['backup', '--type=full', '--start-fast', '--no-archive-check'])));
      if (rep === 0) keelSide.encryptedFullBytes = await keelStoredIn(keelEncRepo)();
    };
    for (const step of rep % 2 === 0 ? [refFull, keelFull] : [keelFull, refFull]) await step();
  }
  refSide.encryptedFullS = median(refEncrypted);
  keelSide.encryptedFullS = median(keelEncrypted);

  // a small change: 1 row in 5,000 of pgbench_accounts (about 1,000 pages of 82,000 at scale 50)
  await lab.source.query('UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 5000 = 0');
  await lab.source.query('CHECKPOINT');
  const keelBeforeSmallIncr = await keelStored();
  const refBeforeSmallIncr = await refStored();
  await drainArchive();
  keelSide.smallIncrS = await timed('keel small incr', process.execPath, keel(['backup', '--type=incr', '--start-fast']));
  keelSide.smallIncrBytes = (await keelStored()) - keelBeforeSmallIncr;
  await drainArchive();
  refSide.smallIncrS = await timed('pgbackrest small incr', '/usr/sbin/runuser', pgbackrest(['--type=incr', 'backup']));
  refSide.smallIncrBytes = (await refStored()) - refBeforeSmallIncr;
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

  // the PITR target: a row committed before it, one after it, both archived
  await lab.source.query('CREATE TABLE pitr_marker (what text PRIMARY KEY)');
  await lab.source.query("INSERT INTO pitr_marker VALUES ('before')");
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const [target] = await lab.source.query<{ at: string }>('SELECT now()::text AS at');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await lab.source.query("INSERT INTO pitr_marker VALUES ('after')");
  await drainArchive();

  const restoreDir = async (name: string) => {
    const dir = lab.newDataDir(name);
    await mkdir(dir, { mode: 0o700 });
    if (postgres !== null) await chown(dir, postgres.uid, postgres.gid);
    return dir;
  };
  // the restore of the incr set, reps times each, in turn; the last restored directories stay for the delta restore
  refSide.restoreSamples = [];
  keelSide.restoreSamples = [];
  let refTarget = '';
  let keelTarget = '';
  for (let rep = 0; rep < reps; rep++) {
    if (rep > 0) await Promise.all([rm(refTarget, { recursive: true, force: true }), rm(keelTarget, { recursive: true, force: true })]);
    refTarget = await restoreDir(`ref-restore-${rep}`);
    keelTarget = lab.newDataDir(`keel-restore-${rep}`);
    const refRestore = async () =>
      refSide.restoreSamples.push(await timed('pgbackrest restore', '/usr/sbin/runuser', pgbackrest([`--pg1-path=${refTarget}`, 'restore'])));
    const keelRestore = async () => keelSide.restoreSamples.push(await timed('keel restore', process.execPath, keel(['restore', `--pg1-path=${keelTarget}`])));
    for (const step of rep % 2 === 0 ? [refRestore, keelRestore] : [keelRestore, refRestore]) await step();
  }
  refSide.restoreS = median(refSide.restoreSamples);
  keelSide.restoreS = median(keelSide.restoreSamples);

  // delta restore over each restored directory after the same local changes
  for (const dir of [refTarget, keelTarget]) await damageDataDir(dir);
  refSide.deltaRestoreS = await timed('pgbackrest delta restore', '/usr/sbin/runuser', pgbackrest([`--pg1-path=${refTarget}`, '--delta', 'restore']));
  keelSide.deltaRestoreS = await timed('keel delta restore', process.execPath, keel(['restore', '--delta', `--pg1-path=${keelTarget}`]));

  const timeTarget = ['--type=time', `--target=${target?.at ?? ''}`, '--target-action=promote'];
  const refPitr = await restoreDir('ref-pitr');
  const keelPitr = lab.newDataDir('keel-pitr');
  refSide.pitrRestoreS = await timed('pgbackrest PITR restore', '/usr/sbin/runuser', pgbackrest([`--pg1-path=${refPitr}`, ...timeTarget, 'restore']));
  refSide.pitrRecoverS = await recoverAndPromote(lab, refPitr);
  refSide.pitrWalFetched = await walFetched(refPitr);
  keelSide.pitrRestoreS = await timed('keel PITR restore', process.execPath, keel(['restore', `--pg1-path=${keelPitr}`, ...timeTarget]));
  keelSide.pitrRecoverS = await recoverAndPromote(lab, keelPitr);
  keelSide.pitrWalFetched = await walFetched(keelPitr);
  return { scale: Number(scale), pgbenchSeconds: Number(pgbenchSeconds), reps, databaseBytes: Number(size?.bytes ?? 0), keel: keelSide, pgbackrest: refSide };
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The local changes a delta restore undoes: 8 MiB rewritten in the largest relation file, one
 * relation file removed, one stray file added.
 */
async function damageDataDir(dir: string): Promise<void> {
  const base = join(dir, 'base');
  const files: { path: string; size: number }[] = [];
  for (const db of await readdir(base)) {
    for (const name of await readdir(join(base, db))) {
      const path = join(base, db, name);
      const info = await stat(path);
      if (info.isFile()) files.push({ path, size: info.size });
    }
  }
  files.sort((a, b) => b.size - a.size);
  const [largest, second] = files;
  if (largest === undefined || second === undefined) throw new Error(`${dir} has no relation files to change`);
  const handle = await open(largest.path, 'r+');
  try {
    await handle.write(Buffer.alloc(8 * 1024 * 1024, 0x5a), 0, 8 * 1024 * 1024, 0);
  } finally {
    await handle.close();
  }
  await rm(second.path);
  await writeFile(join(base, 'stray-file'), 'not in the backup\n');
}

/** How many WAL files the recovery of `dataDir` fetched from the archive (its server log). */
async function walFetched(dataDir: string): Promise<number> {
  const log = await readFile(`${dataDir}.log`, 'utf8');
  return (log.match(/restored log file "/g) ?? []).length;
}

/** Starts a PITR-restored server and returns the seconds until it has promoted and committed a write. */
async function recoverAndPromote(lab: BackupLab, dataDir: string): Promise<number> {
  const started = monoMs();
  const server = await lab.startServer(dataDir);
  const deadline = Date.now() + 600_000;
  for (;;) {
    const written = await server
      .query('CREATE TABLE after_promote (id int)')
      .then(() => true)
      .catch((error: Error) => {
        if (!/read-only|recovery|starting up|not yet accepting/i.test(error.message)) throw error;
        return false;
      });
    if (written) break;
    if (Date.now() > deadline) throw new Error(`${dataDir} did not promote`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (monoMs() - started) / 1000;
  const rows = await server.query<{ what: string }>('SELECT what FROM pitr_marker ORDER BY what');
  if (rows.map((r) => r.what).join(',') !== 'before') throw new Error(`PITR of ${dataDir} reached the wrong point: rows ${JSON.stringify(rows)}`);
  await server.stop();
  return seconds;
}

function renderTable(results: Results): string {
  const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  const secs = (s: number) => `${s.toFixed(2)} s`;
  const ratio = (a: number, b: number) => (b === 0 ? '-' : (a / b).toFixed(2));
  const { keel, pgbackrest } = results;
  const timeRow = (what: string, a: number, b: number): [string, string, string, string] => [what, secs(a), secs(b), ratio(a, b)];
  const sizeRow = (what: string, a: number, b: number): [string, string, string, string] => [what, mib(a), mib(b), ratio(a, b)];
  const rows: [string, string, string, string][] = [
    timeRow(`full backup time (median of ${results.reps})`, keel.fullS, pgbackrest.fullS),
    sizeRow('full backup size', keel.fullBytes, pgbackrest.fullBytes),
    timeRow(`encrypted full backup time (AES-256, no archive check, median of ${results.reps})`, keel.encryptedFullS, pgbackrest.encryptedFullS),
    sizeRow('encrypted full backup size', keel.encryptedFullBytes, pgbackrest.encryptedFullBytes),
    timeRow('incr time (1 row in 5,000 updated)', keel.smallIncrS, pgbackrest.smallIncrS),
    sizeRow('incr size (1 row in 5,000 updated)', keel.smallIncrBytes, pgbackrest.smallIncrBytes),
    timeRow(`incr time (after pgbench -T ${results.pgbenchSeconds})`, keel.incrS, pgbackrest.incrS),
    sizeRow(`incr size (after pgbench -T ${results.pgbenchSeconds})`, keel.incrBytes, pgbackrest.incrBytes),
    timeRow(`restore time (incr set, median of ${results.reps})`, keel.restoreS, pgbackrest.restoreS),
    timeRow('delta restore time (8 MiB rewritten, 1 file removed, 1 added)', keel.deltaRestoreS, pgbackrest.deltaRestoreS),
    timeRow('PITR: restore to a time target', keel.pitrRestoreS, pgbackrest.pitrRestoreS),
    timeRow(
      `PITR: start, recover to the target, promote, first write (WAL files fetched: keel ${keel.pitrWalFetched}, pgBackRest ${pgbackrest.pitrWalFetched})`,
      keel.pitrRecoverS,
      pgbackrest.pitrRecoverS,
    ),
    timeRow('PITR total', keel.pitrRestoreS + keel.pitrRecoverS, pgbackrest.pitrRestoreS + pgbackrest.pitrRecoverS),
  ];
  return [
    `# bench/backup: keel vs pgBackRest 2.45, pgbench scale ${results.scale} (${mib(results.databaseBytes)}), zstd 3, process-max 2`,
    '',
    '| measure | keel | pgBackRest | keel / pgBackRest |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...(results.loadAverage1m === undefined
      ? []
      : [
          `${results.reps === 1 ? 'One run' : `One run (full backup and restore: median of ${results.reps}, the tools in turn, taking turns going first)`}, every timed step after a sync, on a 2-core machine shared with other work (1-minute load average ${results.loadAverage1m.start.toFixed(1)} at the start, ` +
            `${results.loadAverage1m.end.toFixed(1)} at the end): absolute times vary from run to run, the ratios compare both tools under the same load.`,
          '',
        ]),
  ].join('\n');
}

await main();
