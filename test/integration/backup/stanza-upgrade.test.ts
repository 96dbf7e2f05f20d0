/**
 * stanza-upgrade on real PostgreSQL 15: a second initdb stands in for pg_upgrade (a new system
 * identifier). Before stanza-upgrade, backup and archive-push refuse with one line saying to run
 * it, and write nothing; stanza-upgrade adds db-id 2 (archive id 15-2) to the stanza's history;
 * the old backup stays listed and restores onto its own cluster with its own WAL (archive-get
 * picks the database from the restored pg_control: both clusters have WAL named alike), and
 * backups of the new cluster restore too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, archivedWal, infoStanza, tableChecksum, type BackupLab, type PgServer } from './standalone-postgres.js';
import { eventually } from '../../support/sandbox.js';

let lab: BackupLab;
before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

interface InfoJson {
  db: { id: number; 'system-id': string; version: string }[];
  archive: { id: string; database: { id: number }; min: string | null; max: string | null }[];
  backup: { label: string; type: string; database: { id: number } }[];
}

const infoJson = (extra: string[] = []): Promise<InfoJson> => infoStanza<InfoJson>(lab, extra);
const checksum = tableChecksum;

async function restoreAndStart(name: string, extra: string[]): Promise<PgServer> {
  const dataDir = lab.newDataDir(name);
  const result = await lab.keel(['restore', `--pg1-path=${dataDir}`, '--type=immediate', '--target-action=promote', ...extra]);
  assert.equal(result.code, 0, `restore failed: ${result.stderr}${result.stdout}`);
  const server = await lab.startServer(dataDir);
  await eventually('restored server promoted', 60_000, async () =>
    (await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
  );
  return server;
}

test(
  'after a new initdb, backup and archive-push refuse until stanza-upgrade; then both clusters restore from the one stanza',
  { timeout: 300_000 },
  async () => {
    assert.equal((await lab.keel(['stanza-create'])).code, 0);
    await lab.source.query('CREATE TABLE before_upgrade (id int PRIMARY KEY, v text)');
    await lab.source.query('INSERT INTO before_upgrade SELECT g, md5(g::text) FROM generate_series(1, 20000) g');
    const oldFull = await lab.keel(['backup', '--type=full', '--start-fast']);
    assert.equal(oldFull.code, 0, oldFull.stderr);
    const oldChecksum = await checksum(lab.source, 'before_upgrade');
    const [oldId] = await lab.source.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    await lab.source.stop();

    // the "upgraded" cluster: a new system identifier, archiving to the same stanza
    const upgraded = await lab.startNewCluster(lab.newDataDir('upgraded'));
    const [newId] = await upgraded.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    assert.notEqual(newId?.id, oldId?.id);
    const pg1 = [`--pg1-path=${upgraded.dataDir}`, `--pg1-port=${upgraded.port}`];
    const stanzaJson = join(lab.repoPath, lab.stanza, 'stanza.json');
    const stanzaBefore = await readFile(stanzaJson, 'utf8');
    const archiveBefore = await archivedWal(lab, '15-1');

    const refused = await lab.keel(['backup', '--type=full', '--start-fast', ...pg1]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr.split('\n')[0] ?? '',
      new RegExp(
        `^keel: PostgreSQL version 15, system-id ${newId?.id ?? ''} do not match stanza 'demo' version 15, system-id ${oldId?.id ?? ''}: after a PostgreSQL upgrade run stanza-upgrade`,
      ),
    );
    // archive-push of the new cluster's first segment: the WAL header names the new system identifier
    const [segment] = (await readdir(join(upgraded.dataDir, 'pg_wal'))).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    const pushed = await lab.keel(['archive-push', join(upgraded.dataDir, 'pg_wal', segment ?? '')]);
    assert.equal(pushed.code, 1);
    assert.match(pushed.stderr, /do not match stanza 'demo' .*run stanza-upgrade/);
    assert.deepEqual((await infoJson()).backup.length, 1, 'no backup was added');
    assert.deepEqual(await readdir(join(lab.repoPath, lab.stanza, 'backup')), [(await infoJson()).backup[0]?.label], 'no partial backup left');
    assert.equal(await readFile(stanzaJson, 'utf8'), stanzaBefore);
    assert.deepEqual(await archivedWal(lab, '15-1'), archiveBefore, 'nothing archived into the old database');

    const upgrade = await lab.keel(['stanza-upgrade', ...pg1]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.match(upgrade.stdout, /P00 +INFO: stanza-upgrade for stanza 'demo' on repo1: db-id 2 \(PostgreSQL 15, .*archive id 15-2\) after db-id 1/);
    const again = await lab.keel(['stanza-upgrade', ...pg1]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /stanza 'demo' on repo1 is already up to date/);
    const history = JSON.parse(await readFile(stanzaJson, 'utf8')) as { format: number; db: { id: number; systemId: string }[] };
    assert.equal(history.format, 2);
    assert.deepEqual(
      history.db.map((d) => [d.id, d.systemId]),
      [
        [1, oldId?.id],
        [2, newId?.id],
      ],
    );

    // archiving works again (to 15-2); an incr has no prior in the new database, so it becomes a full
    const check = await lab.keel(['check', ...pg1]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /successfully archived/);
    await upgraded.query('CREATE TABLE after_upgrade (id int PRIMARY KEY, v text)');
    await upgraded.query('INSERT INTO after_upgrade SELECT g, md5(g::text) FROM generate_series(1, 5000) g');
    const newBackup = await lab.keel(['backup', '--type=incr', '--start-fast', ...pg1]);
    assert.equal(newBackup.code, 0, newBackup.stderr);
    assert.match(newBackup.stdout, /WARN: no prior backup exists, incr backup has been changed to full/);
    const newChecksum = await checksum(upgraded, 'after_upgrade');

    const info = await infoJson();
    assert.deepEqual(
      info.db.map((d) => [d.id, d['system-id']]),
      [
        [1, oldId?.id],
        [2, newId?.id],
      ],
    );
    assert.deepEqual(
      info.backup.map((b) => [b.type, b.database.id]),
      [
        ['full', 1],
        ['full', 2],
      ],
    );
    assert.deepEqual(
      info.archive.map((a) => a.id),
      ['15-1', '15-2'],
    );
    assert.ok(info.archive[1]?.min !== null, 'the new cluster archives under 15-2');
    const text = await lab.keel(['info']);
    assert.match(text.stdout, /db \(prior\)\n {8}wal archive min\/max \(15\): [0-9A-F]{24}\/[0-9A-F]{24}\n\n {8}full backup: /);
    assert.match(text.stdout, /db \(current\)\n {8}wal archive min\/max \(15\): /);

    // the old backup restores onto its own cluster, with its own WAL (archive id 15-1)
    const oldLabel = info.backup[0]?.label ?? '';
    const restoredOld = await restoreAndStart('restored-old', [`--set=${oldLabel}`]);
    try {
      assert.equal(await checksum(restoredOld, 'before_upgrade'), oldChecksum);
      const [id] = await restoredOld.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      assert.equal(id?.id, oldId?.id);
    } finally {
      await restoredOld.stop();
    }
    const restoredNew = await restoreAndStart('restored-new', []);
    try {
      assert.equal(await checksum(restoredNew, 'after_upgrade'), newChecksum);
    } finally {
      await restoredNew.stop();
    }
    const verify = await lab.keel(['verify']);
    assert.equal(verify.code, 0, verify.stdout);
  },
);
