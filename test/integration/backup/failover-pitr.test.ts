/**
 * Point-in-time recovery across a keel failover, on real etcd x3 + three keel agents running
 * PostgreSQL 15. The agents' YAML has a backup: section (a carried-over, encrypted pgbackrest.conf
 * plus inline options) and nobody edits postgresql.conf: every member gets archive_mode,
 * archive_command and restore_command from the agent. A full backup on the leader, rows on
 * timeline 1, kill -9 of the leader, rows on the new leader's timeline 2 — which must keep
 * archiving into the repository with nobody touching it — then a restore of the timeline-1 backup
 * to a fresh directory with a time target after the failover: exactly the rows written before the
 * target exist, those of both timelines. Then a replica down long enough for the leader to drop
 * its slot and recycle the WAL it needs catches up from the archive through the restore_command
 * its agent wrote.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  eventually,
  killNode,
  leaderKeyHolder,
  restartAgent,
  runKeel,
  sql,
  startTestCluster,
  type CliResult,
  type TestCluster,
} from '../../support/sandbox.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';
import { runProgram } from '../../../src/postgres/run.js';
import { freePorts } from '../../../src/sandbox/ports.js';
import { archivedWalNames } from './standalone-postgres.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const STANZA = 'prod-db';
const TTL_MS = 10_000;
const LOOP_WAIT_MS = 2_000;

let cluster: TestCluster;
let dir: string;
let repoPath: string;
const restoredPids: number[] = [];

async function toPostgres(path: string): Promise<void> {
  const user = postgresRunAs();
  if (user !== null) await chown(path, user.uid, user.gid);
}

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'keel-failover-pitr-'));
    await toPostgres(dir);
    repoPath = join(dir, 'repo');
    await mkdir(repoPath, { mode: 0o750 });
    await toPostgres(repoPath);
    // the seed's global settings, carried over by every agent; the node's own settings come from keel
    const conf = join(dir, 'pgbackrest.conf');
    await writeFile(
      conf,
      [
        '[global]',
        `repo1-path=${repoPath}`,
        'repo1-retention-full=2',
        'repo1-cipher-type=aes-256-cbc',
        'repo1-cipher-pass=encryption_key_change_me',
        'log-level-console=info',
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
    await toPostgres(conf);
    cluster = await startTestCluster({
      nodes: 3,
      ttlS: TTL_MS / 1000,
      loopWaitS: LOOP_WAIT_MS / 1000,
      retryTimeoutS: 3,
      backup: { stanza: STANZA, config: conf, 'compress-type': 'zst', 'process-max': 2 },
    });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    for (const pid of restoredPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already stopped
      }
    }
    await cluster?.stop();
    if (dir !== undefined && process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  },
  { timeout: 120_000 },
);

function member(name: string) {
  const node = cluster.record.nodes.find((n) => n.name === name);
  assert.ok(node !== undefined, `no node ${name}`);
  return node;
}

/** `keel pgbackrest` with the node's generated file, as an operator on that node runs it. */
function pgbackrest(node: string, args: string[]): Promise<CliResult> {
  const generated = join(cluster.dir, node, `pgbackrest.${node}.conf`);
  return runKeel(['pgbackrest', `--config=${generated}`, `--stanza=${STANZA}`, ...args], {
    timeoutMs: 180_000,
    env: { PGPASSWORD: cluster.superuserPassword },
  });
}

async function walFileName(node: string, expression: string): Promise<string> {
  const [row] = await sql<{ name: string }>(cluster, node, `SELECT pg_walfile_name(${expression}) AS name`);
  assert.ok(row !== undefined);
  return row.name;
}

/** Starts a restored data directory on a free port, never archiving (its WAL must not join the stanza). */
async function startRestored(dataDir: string): Promise<{ query<R extends pg.QueryResultRow>(text: string): Promise<R[]> }> {
  const [port] = await freePorts(1);
  const logFile = `${dataDir}.log`;
  await writeFile(logFile, '');
  await toPostgres(logFile);
  const started = await runProgram(
    `${PG_BIN}/pg_ctl`,
    ['start', '-w', '-t', '90', '-D', dataDir, '-l', logFile, '-o', `-p ${port} -k ${dir} -c listen_addresses='' -c archive_mode=off`],
    { timeoutMs: 120_000 },
  );
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0) restoredPids.push(pid);
  assert.equal(started.code, 0, `${started.stderr}\n${(await readFile(logFile, 'utf8').catch(() => '')).slice(-3000)}`);
  return {
    query: async <R extends pg.QueryResultRow>(text: string) => {
      const client = new pg.Client({
        host: dir,
        port,
        user: 'postgres',
        password: cluster.superuserPassword,
        database: 'postgres',
        connectionTimeoutMillis: 5000,
      });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (await client.query<R>(text)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

test(
  'every member archives through its agent, nobody edits postgresql.conf; PITR after a kill -9 failover follows timeline 2',
  { timeout: 420_000 },
  async () => {
    const oldLeader = cluster.leader;
    // the agent's settings on every member, replicas included (archive_mode=on archives once promoted)
    for (const node of cluster.record.nodes) {
      // a replica may still be starting when the cluster first reports healthy
      const rows = await eventually(`${node.name} answering`, 60_000, () =>
        sql<{ name: string; setting: string }>(
          cluster,
          node.name,
          "SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'archive_command', 'restore_command') ORDER BY name",
        ),
      );
      const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
      assert.equal(settings['archive_mode'], 'on', node.name);
      assert.match(
        settings['archive_command'] ?? '',
        new RegExp(`pgbackrest '?--config=[^ ]*pgbackrest\\.${node.name}\\.conf'? --stanza=${STANZA} archive-push "%p"$`),
      );
      assert.match(settings['restore_command'] ?? '', new RegExp(`--stanza=${STANZA} archive-get %f "%p"$`));
    }
    // the generated file is the postgres user's alone: it holds the repository passphrase
    const generated = await readFile(join(cluster.dir, oldLeader, `pgbackrest.${oldLeader}.conf`), 'utf8');
    assert.match(generated, /repo1-cipher-pass=encryption_key_change_me/);
    assert.match(generated, new RegExp(`pg1-path=${member(oldLeader).dataDir}`));

    const created = await pgbackrest(oldLeader, ['stanza-create']);
    assert.equal(created.code, 0, created.stderr + created.stdout);
    // The agent set archive_command before the stanza existed, so the archiver has been failing;
    // after three failures in a row PostgreSQL waits up to 60 s before it tries again, and the
    // switch that check forces did not wake it (seen in a full run: the stanza was created 50 ms
    // after the third failure, the segment was archived 60.2 s later). check's own default
    // timeout is those same 60 s: give it room for PostgreSQL's retry.
    const check = await pgbackrest(oldLeader, ['--archive-timeout=150', 'check']);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    assert.match(check.stdout, /successfully archived/);
    const full = await pgbackrest(oldLeader, ['--type=full', '--start-fast', 'backup']);
    assert.equal(full.code, 0, full.stderr + full.stdout);

    await sql(cluster, oldLeader, 'CREATE TABLE orders (id int PRIMARY KEY, timeline int)');
    await sql(cluster, oldLeader, 'INSERT INTO orders SELECT g, 1 FROM generate_series(1, 3) g');
    // every replica has the rows and the leader's archive holds all of timeline 1 up to them: a
    // replica does not archive (archive_mode=on), so what the dead leader did not push is lost to PITR
    for (const node of cluster.record.nodes.filter((n) => n.name !== oldLeader)) {
      await eventually(`rows replayed on ${node.name}`, 30_000, async () => {
        const [row] = await sql<{ n: number }>(cluster, node.name, 'SELECT count(*)::int AS n FROM orders');
        return row?.n === 3 ? true : undefined;
      });
    }
    const lastTimeline1 = await walFileName(oldLeader, 'pg_switch_wal()');
    await eventually(`${lastTimeline1} archived by ${oldLeader}`, 60_000, async () =>
      (await archivedWalNames(repoPath, STANZA)).includes(lastTimeline1) ? true : undefined,
    );

    await killNode(cluster, oldLeader, { agent: true, postgres: true });
    const newLeader = await eventually('a new leader', TTL_MS + 8 * LOOP_WAIT_MS + 60_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      if (holder === null || holder === oldLeader) return undefined;
      const [row] = await sql<{ r: boolean }>(cluster, holder, 'SELECT pg_is_in_recovery() AS r');
      return row?.r === false ? holder : undefined;
    });
    const [tl] = await sql<{ tl: string }>(cluster, newLeader, 'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl');
    const timeline = parseInt(tl?.tl ?? '0', 16);
    assert.ok(timeline >= 2, `new leader on timeline ${tl?.tl}`);
    const timelineHex = timeline.toString(16).toUpperCase().padStart(8, '0');

    await sql(cluster, newLeader, `INSERT INTO orders VALUES (4, ${timeline}), (5, ${timeline})`);
    await new Promise((r) => setTimeout(r, 1100));
    const [at] = await sql<{ at: string }>(
      cluster,
      newLeader,
      "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS at",
    );
    await new Promise((r) => setTimeout(r, 1100));
    await sql(cluster, newLeader, `INSERT INTO orders VALUES (6, ${timeline})`);
    const lastNew = await walFileName(newLeader, 'pg_switch_wal()');
    assert.ok(lastNew.startsWith(timelineHex), lastNew);
    // the new leader archives into the same stanza: its history file and its segments
    await eventually(`${lastNew} and ${timelineHex}.history archived by ${newLeader}`, 90_000, async () => {
      const names = await archivedWalNames(repoPath, STANZA);
      return names.includes(lastNew) && names.includes(`${timelineHex}.history`) ? true : undefined;
    });
    const info = await pgbackrest(newLeader, ['--output=json', 'info']);
    assert.equal(info.code, 0, info.stderr);
    const [stanza] = JSON.parse(info.stdout) as Array<{ archive: Array<{ max: string }>; backup: unknown[] }>;
    assert.equal(stanza?.backup.length, 1);
    assert.ok((stanza?.archive[0]?.max ?? '') >= lastNew, JSON.stringify(stanza?.archive));

    // restore the timeline-1 backup to a fresh directory, target after the failover
    const target = join(dir, 'restored');
    const restored = await pgbackrest(newLeader, [`--pg1-path=${target}`, '--type=time', `--target=${at?.at ?? ''}`, '--target-action=promote', 'restore']);
    assert.equal(restored.code, 0, restored.stderr + restored.stdout);
    const server = await startRestored(target);
    await eventually('the restored server promoted at its target', 120_000, async () => {
      const [row] = await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return row?.r === false ? true : undefined;
    });
    const rows = await server.query<{ id: number; timeline: number }>('SELECT id, timeline FROM orders ORDER BY id');
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
    const [restoredTl] = await server.query<{ tl: string }>('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl');
    assert.ok(parseInt(restoredTl?.tl ?? '0', 16) > timeline, `the restored server opened a new timeline after ${timeline}, got ${restoredTl?.tl}`);
  },
);

test('a replica whose WAL the leader no longer has catches up from the archive through the agent-written restore_command', { timeout: 300_000 }, async () => {
  const leader = await eventually('a leader', 60_000, async () => (await leaderKeyHolder(cluster)) ?? undefined);
  const replica = await eventually('a running replica', 60_000, async () => {
    for (const node of cluster.record.nodes.filter((n) => n.name !== leader)) {
      const rows = await sql<{ r: boolean }>(cluster, node.name, 'SELECT pg_is_in_recovery() AS r').catch(() => []);
      if (rows[0]?.r === true) return node.name;
    }
    return undefined;
  });
  const [before] = await sql<{ name: string }>(cluster, leader, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS name');
  await killNode(cluster, replica, { agent: true, postgres: true });
  // its member key expires with its lease, and the leader drops its slot
  await eventually(`the leader dropping ${replica}'s slot`, TTL_MS + 10 * LOOP_WAIT_MS + 30_000, async () => {
    const slots = await sql<{ n: number }>(cluster, leader, 'SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1', [replica]);
    return slots[0]?.n === 0 ? true : undefined;
  });
  await sql(cluster, leader, 'CREATE TABLE while_away (id int)');
  // well past wal_keep_size (128MB): 12 segments of 16 MiB, then checkpoints recycle the old ones
  let last = '';
  for (let i = 0; i < 12; i++) {
    await sql(cluster, leader, `INSERT INTO while_away VALUES (${i})`);
    last = await walFileName(leader, 'pg_switch_wal()');
  }
  await eventually(`${last} archived`, 90_000, async () => ((await archivedWalNames(repoPath, STANZA)).includes(last) ? true : undefined));
  await eventually(`the leader removing ${before?.name ?? ''}`, 60_000, async () => {
    await sql(cluster, leader, 'CHECKPOINT');
    const [oldest] = await sql<{ name: string }>(cluster, leader, "SELECT min(name) AS name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'");
    return (oldest?.name ?? '').slice(8) > (before?.name ?? '').slice(8) ? true : undefined;
  });

  await restartAgent(cluster, replica);
  await eventually(`${replica} replaying the rows written while it was away`, 180_000, async () => {
    const rows = await sql<{ n: number }>(cluster, replica, 'SELECT count(*)::int AS n FROM while_away');
    return rows[0]?.n === 12 ? true : undefined;
  });
  const log = await readFile(join(cluster.dir, replica, 'data.postgresql.log'), 'utf8');
  assert.match(log, /restored log file "[0-9A-F]{24}" from archive/);
});
