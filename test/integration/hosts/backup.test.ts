/**
 * Backup and point-in-time recovery on the seed's three hosts (network namespaces, the seed's
 * patroni.yml with md5 from the cluster network, ttl 30, loop_wait 10), deployed as
 * docs/production.md says: the agents run as the postgres OS user (the systemd unit's), initdb is
 * given auth-local peer and auth-host scram-sha-256 so that no pg_hba line trusts, and each
 * host's patroni.yml has a `backup:` section naming one repository that every host mounts at
 * the same path (the namespaces share this machine's filesystem, as three hosts share an NFS
 * export). What the loopback sandbox test (backup/failover-pitr) cannot show: commands run on a
 * host by an operator, with only that host's generated pgbackrest file and no password in the
 * environment; a failover that moves archiving to another host; an incremental backup taken on
 * that other host chaining onto the full taken on the first; a restore on the third host.
 *
 *  1. every member archives through its agent (archive_mode, archive_command naming its own
 *     generated file); on the leader's host: stanza-create, check, a full backup;
 *  2. rows on timeline 1, kill -9 of the leader (agent and postmaster); the new leader, on another
 *     host, archives its timeline into the same stanza; an incremental backup on its host has the
 *     full as its prior; rows, a time, another row; on the third host `info` lists both backups and
 *     a restore to that time, started there beside its member, holds exactly the rows before it.
 * Every process is stopped by PID (the lab's close) in `after`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { KEEL_MAIN, eventually, postmasterPidOf } from '../../support/sandbox.js';
import { seedHealthy, seedLeader, seedSql, seedSqlAt, startSeedDeployment, type SeedDeployment, type SeedNode } from '../../support/seed-hosts.js';
import type { LabExecResult } from '../../support/netns-lab.js';
import { giveToPostgres, postgresRunAs } from '../../../src/postgres/os-user.js';
import { PG_BIN, archivedWalNames } from '../backup/standalone-postgres.js';

const STANZA = 'prod-db';
const TTL_MS = 30_000;
const LOOP_WAIT_MS = 10_000;
/** The restored copy's port on the third host, beside its member's 5432. */
const RESTORED_PORT = 5433;

let seed: SeedDeployment;
let dir: string;
let repo: string;

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'keel-hosts-backup-'));
    await chmod(dir, 0o755);
    repo = join(dir, 'repo');
    await mkdir(repo, { mode: 0o750 });
    await giveToPostgres(repo);
    // the seed's [global] settings (an encrypted repository, retention), inline in keel's section
    seed = await startSeedDeployment({
      // as production runs (docs/production.md): the agents as postgres (the systemd unit's
      // user), initdb given auth methods so that no line trusts; the postgres OS user reaches its
      // own server through the socket by peer, keel connects to 127.0.0.1 with the password
      agentsAsPostgres: true,
      initdbAuth: { local: 'peer', host: 'scram-sha-256' },
      backup: {
        stanza: STANZA,
        'repo1-path': repo,
        'repo1-retention-full': 2,
        'repo1-cipher-type': 'aes-256-cbc',
        'repo1-cipher-pass': 'encryption_key_change_me',
        'compress-type': 'zst',
        'process-max': 2,
        'log-level-console': 'info',
      },
    });
  },
  { timeout: 120_000 },
);

after(
  async () => {
    if (process.env['KEEL_KEEP_TEST_DIRS'] !== undefined) process.stderr.write(`seed deployment kept in ${seed?.dir}, repository in ${dir}\n`);
    await seed?.close();
    if (dir !== undefined && process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  },
  { timeout: 120_000 },
);

/** The file the node's agent generated from its backup: section (the agent's documented default path). */
const generatedConfig = (node: SeedNode): string => join(dirname(node.dataDir), `pgbackrest.${node.name}.conf`);

/** `keel pgbackrest` run on the node's host, as an operator there runs it: that host's file, no password given. */
function pgbackrest(node: SeedNode, args: string[]): Promise<LabExecResult> {
  return seed.lab.exec(node.host, process.execPath, [KEEL_MAIN, 'pgbackrest', `--config=${generatedConfig(node)}`, `--stanza=${STANZA}`, ...args], {
    timeoutMs: 240_000,
  });
}

const output = (r: LabExecResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

async function switchWal(node: SeedNode): Promise<string> {
  const [row] = await seedSql<{ name: string }>(node, 'SELECT pg_walfile_name(pg_switch_wal()) AS name');
  assert.ok(row !== undefined);
  return row.name;
}

let fullLabel = '';

test('every host archives through its agent; stanza-create, check and a full backup on the leader host', { timeout: 420_000 }, async () => {
  const leader = seed.node(await seedHealthy(seed, 180_000));
  for (const node of seed.nodes) {
    const rows = await eventually(`${node.name} answering`, 60_000, () =>
      seedSql<{ name: string; setting: string }>(node, "SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'archive_command') ORDER BY name"),
    );
    const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    assert.equal(settings['archive_mode'], 'on', node.name);
    assert.ok((settings['archive_command'] ?? '').includes(generatedConfig(node)), `${node.name}: ${settings['archive_command']}`);
    const hba = (await readFile(join(node.dataDir, 'pg_hba.conf'), 'utf8')).split('\n').filter((line) => /^\s*[^#\s]/.test(line));
    assert.ok(
      hba.every((line) => !/\btrust\b/.test(line)),
      `${node.name}'s pg_hba.conf trusts:\n${hba.join('\n')}`,
    );
    assert.doesNotMatch(await readFile(node.logFile, 'utf8'), /trusts connections without a password/);
  }
  const created = await pgbackrest(leader, ['stanza-create']);
  assert.equal(created.code, 0, output(created));
  // archive_command failed until the stanza existed: PostgreSQL may wait 60 s before its next try
  const check = await pgbackrest(leader, ['--archive-timeout=150', 'check']);
  assert.equal(check.code, 0, output(check));
  assert.match(check.stdout, /successfully archived/);
  const full = await pgbackrest(leader, ['--type=full', '--start-fast', 'backup']);
  assert.equal(full.code, 0, output(full));
  const info = await pgbackrest(leader, ['--output=json', 'info']);
  assert.equal(info.code, 0, output(info));
  const [stanza] = JSON.parse(info.stdout) as Array<{ backup: Array<{ label: string; type: string }> }>;
  assert.deepEqual(
    stanza?.backup.map((b) => b.type),
    ['full'],
  );
  fullLabel = stanza?.backup[0]?.label ?? '';
});

test(
  'after a kill -9 failover the new leader host archives timeline 2, an incremental there chains onto the full, and a restore on the third host reaches a time after the failover',
  { timeout: 600_000 },
  async () => {
    assert.notEqual(fullLabel, '', 'the full backup of the first test');
    const old = seed.node(await seedHealthy(seed, 120_000));
    await seedSql(old, 'CREATE TABLE orders (id int PRIMARY KEY, timeline int)');
    await seedSql(old, 'INSERT INTO orders SELECT g, 1 FROM generate_series(1, 3) g');
    for (const replica of seed.nodes.filter((n) => n !== old)) {
      await eventually(`rows replayed on ${replica.name}`, 30_000, async () => {
        const [row] = await seedSql<{ n: number }>(replica, 'SELECT count(*)::int AS n FROM orders');
        return row?.n === 3 ? true : undefined;
      });
    }
    // what a dead leader had not pushed is in no archive (replicas do not archive): push it first
    const lastTimeline1 = await switchWal(old);
    await eventually(`${lastTimeline1} archived from ${old.host.name}`, 90_000, async () =>
      (await archivedWalNames(repo, STANZA)).includes(lastTimeline1) ? true : undefined,
    );

    const pgPid = await postmasterPidOf(old.dataDir);
    process.kill(old.agentPid, 'SIGKILL');
    old.agentPid = 0;
    if (pgPid !== null) process.kill(pgPid, 'SIGKILL');
    const fresh = seed.node(
      await eventually(
        'a new leader',
        TTL_MS + 6 * LOOP_WAIT_MS,
        async () => {
          const holder = await seedLeader(seed);
          if (holder === null || holder === old.name) return undefined;
          const [row] = await seedSql<{ r: boolean }>(seed.node(holder), 'SELECT pg_is_in_recovery() AS r').catch(() => []);
          return row?.r === false ? holder : undefined;
        },
        500,
      ),
    );
    const third = seed.nodes.find((n) => n !== old && n !== fresh);
    assert.ok(third !== undefined);
    const [tl] = await seedSql<{ tl: string }>(fresh, 'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl');
    const timeline = parseInt(tl?.tl ?? '0', 16);
    assert.ok(timeline >= 2, `the new leader on timeline ${tl?.tl}`);
    const timelineHex = timeline.toString(16).toUpperCase().padStart(8, '0');

    await seedSql(fresh, `INSERT INTO orders VALUES (4, ${timeline}), (5, ${timeline})`);
    const incr = await pgbackrest(fresh, ['--type=incr', '--start-fast', 'backup']);
    assert.equal(incr.code, 0, output(incr));
    await new Promise((r) => setTimeout(r, 1100));
    const [at] = await seedSql<{ at: string }>(fresh, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS at");
    await new Promise((r) => setTimeout(r, 1100));
    await seedSql(fresh, `INSERT INTO orders VALUES (6, ${timeline})`);
    const lastNew = await switchWal(fresh);
    assert.ok(lastNew.startsWith(timelineHex), lastNew);
    await eventually(`${lastNew} and ${timelineHex}.history archived from ${fresh.host.name}`, 90_000, async () => {
      const names = await archivedWalNames(repo, STANZA);
      return names.includes(lastNew) && names.includes(`${timelineHex}.history`) ? true : undefined;
    });

    // the third host sees the same repository: both backups, the incremental on top of the full
    const info = await pgbackrest(third, ['--output=json', 'info']);
    assert.equal(info.code, 0, output(info));
    const [stanza] = JSON.parse(info.stdout) as Array<{ backup: Array<{ label: string; type: string; prior: string | null }> }>;
    assert.deepEqual(
      stanza?.backup.map((b) => [b.type, b.prior]),
      [
        ['full', null],
        ['incr', fullLabel],
      ],
    );
    const incrLabel = stanza?.backup[1]?.label ?? '';
    assert.match(incrLabel, new RegExp(`^${fullLabel}_\\d{8}-\\d{6}I$`));

    // where an operator restores a copy: a directory of the postgres user's (the seed's restore-test)
    const target = join(dir, 'restore-test');
    await mkdir(target, { mode: 0o700 });
    await giveToPostgres(target);
    const restore = await pgbackrest(third, [`--pg1-path=${target}`, '--type=time', `--target=${at?.at ?? ''}`, '--target-action=promote', 'restore']);
    assert.equal(restore.code, 0, output(restore));
    assert.ok(restore.stdout.includes(incrLabel), `the restore used the incremental ${incrLabel}:\n${restore.stdout}`);
    // beside the third host's member, on its client address, never archiving into the stanza
    const user = postgresRunAs();
    await seed.lab.spawn(
      third.host,
      `${PG_BIN}/postgres`,
      ['-D', target, '-p', String(RESTORED_PORT), '-c', `listen_addresses=${third.host.clientAddress}`, '-c', 'archive_mode=off'],
      { logFile: `${target}.log`, ...(user === null ? {} : { uid: user.uid, gid: user.gid }) },
    );
    const restored = <R extends pg.QueryResultRow>(text: string): Promise<R[]> => seedSqlAt<R>(third.host.clientAddress, RESTORED_PORT, text);
    await eventually(
      'the restored copy promoted at its target',
      180_000,
      async () => ((await restored<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').catch(() => []))[0]?.r === false ? true : undefined),
      1000,
    );
    const rows = await restored<{ id: number; timeline: number }>('SELECT id, timeline FROM orders ORDER BY id');
    assert.deepEqual(
      rows.map((r) => [r.id, r.timeline]),
      [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, timeline],
        [5, timeline],
      ],
    );
  },
);
