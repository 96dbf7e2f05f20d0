/**
 * restore_command's fast path on a real PostgreSQL 15 (scram passwords): keel-wal-get
 * (native/keel-wal-get.c) asks the archive-get server (src/backup/archive-get-server.ts) and runs
 * the plain archive-get only when no server answers for it.
 *  - A restore writes restore_command through keel-wal-get and starts its server; a point-in-time
 *    recovery replays through it, and the server exits once that PostgreSQL stops (its idle
 *    timeout is pushed out of reach, so only the postmaster watch can explain the exit).
 *  - The server answers "found" (the file written) and "missing" without the plain command; with
 *    no server the client runs the plain command and tells it where the server belongs; once
 *    pgbackrest.conf changes the server hands requests to the plain command and exits; a server
 *    in a socket directory others can reach is never asked.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startBackupLab, walGetServerPids, type BackupLab } from './standalone-postgres.js';
import { answers } from '../../../src/backup/archive-get-server.js';
import { eventually, KEEL_MAIN } from '../../support/sandbox.js';
import { runProgram } from '../../../src/postgres/run.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';
import { KEEL_WAL_GET_BINARY, walGetSocketPath } from '../../../src/backup/wal-get-command.js';

let lab: BackupLab;
/** A segment the archive has (switched out after the full backup). */
let segment = '';
const user = postgresRunAs();
const uid = user?.uid ?? process.getuid?.() ?? 0;
/** Where keel-wal-get, run as the postgres user without TMPDIR (and `env`), looks for server `name`. */
const socketOf = (name: string, env: Record<string, string> = {}) => walGetSocketPath(name, env, uid);

async function ownedDir(path: string, mode = 0o700): Promise<string> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
  if (user !== null) await chown(path, user.uid, user.gid);
  return path;
}

/** Pids of this lab's archive-get servers. */
const servers = () => walGetServerPids(lab.dir);

/** keel-wal-get as PostgreSQL runs it (the postgres user, in `cwd`), falling back to `fallback`. */
function walGet(name: string, wal: string, destination: string, fallback: string[], cwd: string, env: Record<string, string> = {}) {
  return runProgram(KEEL_WAL_GET_BINARY, [name, wal, destination, ...fallback], { timeoutMs: 60_000, cwd, env });
}

/** A fallback that proves it ran: exit 7, printing where the client said the server belongs. */
const MARKED_FALLBACK = ['/bin/sh', '-c', 'printf %s "$KEEL_WAL_GET_SOCKET"; exit 7'];

before(
  async () => {
    lab = await startBackupLab();
    assert.equal((await lab.keel(['stanza-create'])).code, 0);
    await lab.source.query('CREATE TABLE marks (id int PRIMARY KEY)');
    assert.equal((await lab.keel(['backup', '--type=full', '--start-fast'])).code, 0);
    await lab.source.query('INSERT INTO marks VALUES (1)');
    const [row] = await lab.source.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
    segment = row?.name ?? '';
    await eventually(`${segment} archived`, 60_000, async () =>
      (await lab.keel(['archive-get', segment, join(lab.dir, 'probe-segment')])).code === 0 ? true : undefined,
    );
  },
  { timeout: 240_000 },
);

after(async () => {
  await lab?.stop();
});

test(
  'a restore writes restore_command through keel-wal-get and starts its server; the recovery replays through it; the server exits when that PostgreSQL stops',
  { timeout: 240_000 },
  async () => {
    const dataDir = lab.newDataDir('pitr');
    const restored = await lab.keel(['restore', `--pg1-path=${dataDir}`, '--type=immediate', '--target-action=promote'], {
      KEEL_WAL_GET_IDLE_MS: '600000',
      TMPDIR: '/tmp',
    });
    assert.equal(restored.code, 0, restored.stderr);
    const autoConf = await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8');
    const command = /^restore_command = '(.*)'$/m.exec(autoConf)?.[1]?.replaceAll("''", "'") ?? '';
    const [client, name] = command.split(' ');
    assert.equal(client, KEEL_WAL_GET_BINARY, command);
    assert.match(name ?? '', /^[0-9a-f]{24}$/);
    assert.match(command, / %f "%p" '[^']*node[^']*' '[^']*main\.js' backup archive-get %f "%p" --stanza=/, 'the plain archive-get follows');
    // its socket appears (looked at, not connected to: a connection is not a request)
    const [server] = await eventually('the server the restore started to listen', 60_000, async () =>
      (await lstat(socketOf(name ?? '')).then(
        (info) => info.isSocket(),
        () => false,
      ))
        ? await servers()
        : undefined,
    );
    assert.ok(server !== undefined);

    const recovered = await lab.startServer(dataDir);
    await eventually('the recovered server to accept writes', 120_000, async () =>
      (await recovered
        .query('INSERT INTO marks VALUES (2)')
        .then(() => true)
        .catch(() => false))
        ? true
        : undefined,
    );
    const log = await readFile(`${dataDir}.log`, 'utf8');
    assert.match(log, /restored log file "[0-9A-F]{24}" from archive/);
    assert.deepEqual(await recovered.query('SELECT id FROM marks ORDER BY id'), [{ id: 2 }], 'the immediate target: the backup and nothing after it');
    assert.deepEqual(await servers(), [server], 'the recovery was served by the server the restore started, and no other was needed');

    await recovered.stop();
    await eventually('the server to exit once the PostgreSQL it served stopped', 60_000, async () => ((await servers()).includes(server) ? undefined : true));
    assert.equal(await answers(socketOf(name ?? '')), false, 'its socket is gone');
  },
);

test(
  'the server answers found and missing without the plain command; with no server the plain command runs and is told where the server belongs',
  { timeout: 120_000 },
  async () => {
    const out = await ownedDir(join(lab.dir, 'wal-out'));
    const name = 'c0ffee00c0ffee00c0ffee01';
    const plain = [process.execPath, KEEL_MAIN, 'backup', 'archive-get', segment, join(out, 'by-node'), `--config=${lab.configFile}`, `--stanza=${lab.stanza}`];
    // the source's directory: the server watches its postmaster, which runs throughout
    const cwd = lab.source.dataDir;

    const none = await walGet('c0ffee00c0ffee00c0ffee99', segment, join(out, 'x'), MARKED_FALLBACK, cwd);
    assert.equal(none.code, 7, 'no server: the plain command runs');
    assert.equal(none.stdout, socketOf('c0ffee00c0ffee00c0ffee99'), 'and is told where the server belongs');

    const first = await walGet(name, segment, join(out, 'by-node'), plain, cwd, { KEEL_WAL_GET_IDLE_MS: '600000' });
    assert.equal(first.code, 0, first.stderr);
    await eventually('the server the plain archive-get started', 60_000, async () => ((await answers(socketOf(name))) ? true : undefined));

    // a relative destination, as PostgreSQL passes %p: the client makes it absolute from its directory
    const served = await walGet(name, segment, '../wal-out/by-server', MARKED_FALLBACK, cwd);
    assert.equal(served.code, 0, `served, not the fallback: ${served.stdout}${served.stderr}`);
    assert.match(served.stdout, new RegExp(`P00 +INFO: found ${segment} in the archive`));
    assert.ok((await readFile(join(out, 'by-server'))).equals(await readFile(join(out, 'by-node'))), 'the same bytes as the plain archive-get');

    // other PGBACKREST_* variables change what archive-get reads: never this server's verdict
    const otherEnv = { PGBACKREST_REPO1_PATH: '/nonexistent-repo' };
    const elsewhere = await walGet(name, segment, join(out, 'w'), MARKED_FALLBACK, cwd, otherEnv);
    assert.equal(elsewhere.code, 7, 'other PGBACKREST_* variables: not this server');
    assert.notEqual(socketOf(name, otherEnv), socketOf(name));
    assert.equal(elsewhere.stdout, socketOf(name, otherEnv), "a server of its own, where the client's rule (C) and keel's (TypeScript) agree");

    const missing = await walGet(name, '0000000A.history', join(out, 'history'), MARKED_FALLBACK, cwd);
    assert.equal(missing.code, 1, `missing, not the fallback: ${missing.stdout}`);
    assert.match(missing.stdout, /unable to find 0000000A\.history in the archive/);
    await assert.rejects(readFile(join(out, 'history')), { code: 'ENOENT' });

    const refused = await walGet(name, 'not-a-wal-name', join(out, 'y'), MARKED_FALLBACK, cwd);
    assert.equal(refused.code, 7, 'a request the server refuses goes to the plain command');

    // pgbackrest.conf edited under a running server: the request goes to the plain command, which
    // reads it afresh, and the server gives way
    const config = await readFile(lab.configFile, 'utf8');
    try {
      await writeFile(lab.configFile, config.replace('[global]\n', '[global]\narchive-timeout=61\n'));
      const outdated = await walGet(name, segment, join(out, 'z'), MARKED_FALLBACK, cwd);
      assert.equal(outdated.code, 7, 'settings changed: the plain command');
      await eventually('the outdated server to exit', 30_000, async () => ((await answers(socketOf(name))) ? undefined : true));
    } finally {
      await writeFile(lab.configFile, config);
    }
  },
);

test('a server in a socket directory other users can reach, or of another user, is never asked', { timeout: 60_000 }, async () => {
  const tmp = await ownedDir(join(lab.dir, 'tmp'), 0o755);
  const dir = await ownedDir(join(tmp, `keel-wal-get-${uid}`), 0o777);
  const name = 'badbadbadbadbadbadbadbad';
  const socketPath = walGetSocketPath(name, { TMPDIR: tmp }, uid);
  // an impostor run by this test's user (root, when the client runs as postgres)
  const impostor: Server = createServer((socket) => {
    socket.on('error', () => undefined); // a refusing client closes at once
    socket.end('found\n');
  });
  await new Promise<void>((resolve) => impostor.listen(socketPath, resolve));
  try {
    await chmod(socketPath, 0o777);
    const open = await walGet(name, segment, join(tmp, 'x'), MARKED_FALLBACK, lab.source.dataDir, { TMPDIR: tmp });
    assert.equal(open.code, 7, 'a directory open to others: the plain command, not the impostor');
    assert.equal(open.stdout, '', 'and no server is started there');
    await chmod(dir, 0o700);
    const private_ = await walGet(name, segment, join(tmp, 'x'), MARKED_FALLBACK, lab.source.dataDir, { TMPDIR: tmp });
    const sameUser = (process.geteuid?.() ?? 0) === uid;
    assert.equal(
      private_.code,
      sameUser ? 0 : 7,
      sameUser ? 'a server of this user in a private directory is asked' : 'a private directory, but the answer comes from another user: refused',
    );
  } finally {
    impostor.close();
    await rm(tmp, { recursive: true, force: true });
  }
});
