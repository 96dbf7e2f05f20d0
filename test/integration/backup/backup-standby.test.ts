/**
 * --backup-standby on a real primary and streaming replica (scram passwords, replication over
 * the socket with a password): pg_backup_start/stop run on the primary, the relation files are
 * read from the standby (a probe file that differs between the two shows which one was read,
 * and postgresql.auto.conf, read from the primary, shows the other side), and the restored set
 * holds the primary's data, also a tablespace the replica keeps at another path. Without a standby, --backup-standby is a one-line error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, appendFile, mkdir, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, runPgProgram, tableChecksum, PASSWORD, type BackupLab, type PgServer } from './standalone-postgres.js';
import { eventually } from '../../support/sandbox.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';

let lab: BackupLab;
let replica: PgServer;
before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

const checksum = (server: PgServer): Promise<string> => tableChecksum(server, 'orders');

test('a backup taken from a streaming replica restores the primary data', { timeout: 300_000 }, async () => {
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  await lab.source.query('CREATE TABLE orders (id int PRIMARY KEY, amount int, note text)');
  await lab.source.query('INSERT INTO orders SELECT g, g % 97, md5(g::text) FROM generate_series(1, 50000) g');
  // a tablespace too: the replica has it elsewhere (pg_basebackup --tablespace-mapping), its files come from there
  const primaryTablespace = join(lab.dir, 'ts-primary');
  await mkdir(primaryTablespace, { mode: 0o700 });
  const user = postgresRunAs();
  if (user !== null) await chown(primaryTablespace, user.uid, user.gid);
  await lab.source.query(`CREATE TABLESPACE far LOCATION '${primaryTablespace}'`);
  await lab.source.query('CREATE TABLE far_orders TABLESPACE far AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g');

  const replicaDir = lab.newDataDir('replica');
  await runPgProgram('pg_basebackup', [
    '-D',
    replicaDir,
    '-h',
    lab.source.socketDir,
    '-p',
    String(lab.source.port),
    '-U',
    'postgres',
    '-X',
    'stream',
    // an immediate checkpoint: a spread one takes most of checkpoint_timeout
    '--checkpoint=fast',
    `--tablespace-mapping=${primaryTablespace}=${join(lab.dir, 'ts-replica')}`,
    '--no-sync',
  ]);
  await writeFile(join(replicaDir, 'standby.signal'), '');
  await appendFile(
    join(replicaDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=${lab.source.socketDir} port=${lab.source.port} user=postgres password=${PASSWORD} application_name=replica'\n# replica's own line\n`,
  );
  replica = await lab.startServer(replicaDir);
  await eventually('the replica streams', 60_000, async () => {
    const rows = await lab.source.query<{ state: string }>("SELECT state FROM pg_stat_replication WHERE application_name = 'replica'");
    return rows[0]?.state === 'streaming' ? true : undefined;
  });
  // the same relation-directory file with different content on each side: the backup shows its source
  await writeFile(join(lab.source.dataDir, 'base', 'keel_standby_probe'), 'primary\n');
  await writeFile(join(replicaDir, 'base', 'keel_standby_probe'), 'standby\n');
  await lab.source.query('UPDATE orders SET amount = amount + 1 WHERE id % 100 = 0');
  const expected = await checksum(lab.source);
  const [far] = await lab.source.query<{ sum: string }>("SELECT md5(string_agg(note, ',' ORDER BY id)) AS sum FROM far_orders");

  const pg2 = [`--pg2-path=${replicaDir}`, `--pg2-port=${replica.port}`, `--pg2-socket-path=${replica.socketDir}`];
  const backup = await lab.keel(['backup', '--type=full', '--start-fast', '--backup-standby', ...pg2]);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /wait for standby pg2 to replay and checkpoint to [0-9A-F]+\/[0-9A-F]+/);
  const [, fromStandby] = /(\d+) bytes read from standby pg2/.exec(backup.stdout) ?? [];
  assert.ok(Number(fromStandby) > 5 * 1024 * 1024, `only ${fromStandby} bytes came from the standby`);

  const restoredDir = lab.newDataDir('restored');
  const restore = await lab.keel([
    'restore',
    `--pg1-path=${restoredDir}`,
    `--tablespace-map-all=${join(lab.dir, 'ts-restored')}`,
    '--type=immediate',
    '--target-action=promote',
  ]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await readFile(join(restoredDir, 'base', 'keel_standby_probe'), 'utf8'), 'standby\n');
  assert.doesNotMatch(await readFile(join(restoredDir, 'postgresql.auto.conf'), 'utf8'), /replica's own line/, 'configuration comes from the primary');
  const restored = await lab.startServer(restoredDir);
  try {
    await eventually('restored server promoted', 60_000, async () =>
      (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
    );
    assert.equal(await checksum(restored), expected);
    const [row] = await restored.query<{ n: string }>('SELECT count(*)::text AS n FROM orders');
    assert.equal(row?.n, '50000');
    const [restoredFar] = await restored.query<{ sum: string }>("SELECT md5(string_agg(note, ',' ORDER BY id)) AS sum FROM far_orders");
    assert.equal(restoredFar?.sum, far?.sum);
  } finally {
    await restored.stop();
  }
  assert.equal((await lab.keel(['verify'])).code, 0);
});

test('--backup-standby without a standby, or with the standby as pg1 and no primary, is a one-line error', { timeout: 120_000 }, async () => {
  const none = await lab.keel(['backup', '--type=full', '--backup-standby']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^keel: unable to find a standby to back up from: backup-standby is set but no configured pgN is in recovery\n/);
  const onlyStandby = await lab.keel(['backup', '--type=full', `--pg1-path=${replica.dataDir}`, `--pg1-port=${replica.port}`]);
  assert.equal(onlyStandby.code, 1);
  assert.match(onlyStandby.stderr, /^keel: unable to find a primary among pg1: all are standbys\n/);
});
