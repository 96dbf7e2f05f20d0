/**
 * Tablespaces on real PostgreSQL 15: a table and its index in a tablespace outside the data
 * directory are backed up through pg_tblspc; a restore that would write into the live cluster's
 * tablespace is refused before anything is written; --tablespace-map and --tablespace-map-all
 * relocate it (the link and pg_tablespace_location say where), and the data is identical, also
 * after an incremental backup and a --delta restore over the relocated copy.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readlink, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackupLab, tableChecksum, type BackupLab, type PgServer } from './standalone-postgres.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';
import { eventually } from '../../support/sandbox.js';
import { chown } from 'node:fs/promises';

let lab: BackupLab;
let oid = '';
before(async () => {
  lab = await startBackupLab();
});
after(async () => {
  await lab?.stop();
});

const checksum = (server: PgServer): Promise<string> => tableChecksum(server, 'far_away');

async function startRestored(dataDir: string): Promise<PgServer> {
  const server = await lab.startServer(dataDir);
  await eventually('restored server promoted', 60_000, async () =>
    (await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
  );
  return server;
}

const restoreArgs = ['--type=immediate', '--target-action=promote'];

test('a tablespace outside the data directory is backed up, and a restore into the live location is refused', { timeout: 180_000 }, async () => {
  const location = join(lab.dir, 'ts-live');
  await mkdir(location, { mode: 0o700 });
  const user = postgresRunAs();
  if (user !== null) await chown(location, user.uid, user.gid);
  await lab.source.query(`CREATE TABLESPACE far LOCATION '${location}'`);
  await lab.source.query('CREATE TABLE far_away (id int PRIMARY KEY USING INDEX TABLESPACE far, v text) TABLESPACE far');
  await lab.source.query('INSERT INTO far_away SELECT g, md5(g::text) FROM generate_series(1, 30000) g');
  const [row] = await lab.source.query<{ oid: string }>("SELECT oid::text FROM pg_tablespace WHERE spcname = 'far'");
  oid = row?.oid ?? '';
  assert.equal((await lab.keel(['stanza-create'])).code, 0);
  const backup = await lab.keel(['backup', '--type=full', '--start-fast']);
  assert.equal(backup.code, 0, backup.stderr);

  const target = lab.newDataDir('restored-in-place');
  const refused = await lab.keel(['restore', `--pg1-path=${target}`, ...restoreArgs]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^keel: tablespace far destination ${location} is not empty; refusing to restore over it\\n`));
  await assert.rejects(stat(target), 'nothing was written');
  const badKey = await lab.keel(['restore', `--pg1-path=${target}`, '--tablespace-map=nope=/tmp/x', ...restoreArgs]);
  assert.equal(badKey.code, 1);
  assert.match(
    badKey.stderr,
    new RegExp(`^keel: unable to remap invalid tablespace 'nope' \\(--tablespace-map\\): backup \\S+ has tablespaces far \\(oid ${oid}\\)\\n`),
  );
  await assert.rejects(stat(target));
});

test(
  '--tablespace-map and --tablespace-map-all relocate the tablespace; data identical, also after an incr and a delta restore',
  { timeout: 240_000 },
  async () => {
    const expected = await checksum(lab.source);
    const mapped = join(lab.dir, 'ts-mapped');
    const dataDir = lab.newDataDir('restored-mapped');
    const restore = await lab.keel(['restore', `--pg1-path=${dataDir}`, `--tablespace-map=far=${mapped}`, ...restoreArgs]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(await readlink(join(dataDir, 'pg_tblspc', oid)), mapped);
    assert.ok((await readdir(mapped)).some((entry) => entry.startsWith('PG_15_')));
    let restored = await startRestored(dataDir);
    try {
      assert.equal(await checksum(restored), expected);
      const [where] = await restored.query<{ path: string }>(`SELECT pg_tablespace_location(${oid}) AS path`);
      assert.equal(where?.path, mapped);
    } finally {
      await restored.stop();
    }

    const all = join(lab.dir, 'ts-all');
    const allDir = lab.newDataDir('restored-all');
    const restoreAll = await lab.keel(['restore', `--pg1-path=${allDir}`, `--tablespace-map-all=${all}`, ...restoreArgs]);
    assert.equal(restoreAll.code, 0, restoreAll.stderr);
    assert.equal(await readlink(join(allDir, 'pg_tblspc', oid)), join(all, 'far'));
    const restoredAll = await startRestored(allDir);
    try {
      assert.equal(await checksum(restoredAll), expected);
    } finally {
      await restoredAll.stop();
    }

    // --delta over a copy, with nothing mapped, would write into the live source's tablespace: refused
    const intoLive = await lab.keel(['restore', `--pg1-path=${allDir}`, '--delta', ...restoreArgs]);
    assert.equal(intoLive.code, 1);
    assert.match(
      intoLive.stderr,
      new RegExp(
        `^keel: tablespace far destination ${join(lab.dir, 'ts-live')} is not empty and is not the tablespace of pg1-path ${allDir} \\(its pg_tblspc/${oid} links to ${join(all, 'far')}\\); refusing to restore over it\\n`,
      ),
    );
    assert.equal(await readlink(join(allDir, 'pg_tblspc', oid)), join(all, 'far'), 'nothing changed');

    // an incr after changes in the tablespace, restored with --delta over the first relocated copy
    await lab.source.query('UPDATE far_away SET v = upper(v) WHERE id % 50 = 0');
    await lab.source.query("INSERT INTO far_away SELECT g, 'new' FROM generate_series(30001, 31000) g");
    const incr = await lab.keel(['backup', '--type=incr', '--start-fast']);
    assert.equal(incr.code, 0, incr.stderr);
    const afterIncr = await checksum(lab.source);
    const delta = await lab.keel(['restore', `--pg1-path=${dataDir}`, '--delta', `--tablespace-map=${oid}=${mapped}`, ...restoreArgs]);
    assert.equal(delta.code, 0, delta.stderr);
    assert.equal(await readlink(join(dataDir, 'pg_tblspc', oid)), mapped);
    restored = await startRestored(dataDir);
    try {
      assert.equal(await checksum(restored), afterIncr);
    } finally {
      await restored.stop();
    }
    assert.equal((await lab.keel(['verify'])).code, 0);
  },
);
