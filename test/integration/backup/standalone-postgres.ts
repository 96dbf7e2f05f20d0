/**
 * Test support for backup tests: one standalone PostgreSQL 15 (initdb with data checksums and
 * scram passwords, as the seed's clusters) in a temporary directory owned by the postgres OS
 * user, archiving with `keel backup archive-push`, plus restored copies started on other ports.
 * Every postmaster is stopped by pg_ctl (then SIGKILL by PID) in teardown.
 */
import { mkdtemp, rm, writeFile, appendFile, readFile, chown, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runProgramOrFail, runProgram } from '../../../src/postgres/run.js';
import { postgresRunAs } from '../../../src/postgres/os-user.js';
import { freePorts } from '../../../src/sandbox/ports.js';
import { KEEL_MAIN, runKeel, type CliResult } from '../../support/sandbox.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PASSWORD = 'backup-test-secret';

export interface BackupLab {
  dir: string;
  configFile: string;
  repoPath: string;
  stanza: string;
  source: PgServer;
  keel(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** A fresh data directory path (absent) under the lab, owned by postgres once created. */
  newDataDir(name: string): string;
  /** Starts a restored copy; it never archives (its WAL must not join the source's archive). */
  startServer(dataDir: string): Promise<PgServer>;
  /** initdb of a new cluster (a new system identifier) archiving to the lab's stanza, started. */
  startNewCluster(dataDir: string): Promise<PgServer>;
  stop(): Promise<void>;
}

export interface PgServer {
  dataDir: string;
  port: number;
  socketDir: string;
  query<Row extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  stop(): Promise<void>;
}

async function chownToPostgres(path: string): Promise<void> {
  const user = postgresRunAs();
  if (user !== null) await chown(path, user.uid, user.gid);
}

export async function startBackupLab(extraConfig = ''): Promise<BackupLab> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-backup-'));
  await chownToPostgres(dir);
  const servers: PgServer[] = [];
  const stanza = 'demo';
  const repoPath = join(dir, 'repo');
  const configFile = join(dir, 'pgbackrest.conf');
  const dataDir = join(dir, 'source');
  const lab: BackupLab = {
    dir,
    configFile,
    repoPath,
    stanza,
    source: undefined as unknown as PgServer,
    keel: (args, env = {}) =>
      runKeel(['backup', `--config=${configFile}`, `--stanza=${stanza}`, ...args], { timeoutMs: 120_000, env: { PGPASSWORD: PASSWORD, ...env } }),
    newDataDir: (name) => join(dir, name),
    startServer: async (path) => {
      const server = await startServer(path, dir, false);
      servers.push(server);
      return server;
    },
    startNewCluster: async (path) => {
      await initArchivingCluster(path, dir, configFile, stanza);
      const server = await startServer(path, dir, true);
      servers.push(server);
      return server;
    },
    stop: async () => {
      for (const server of servers.reverse()) await server.stop().catch(() => undefined);
      await stopWalGetServers(dir);
      if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await mkdir(repoPath, { mode: 0o750 });
    await chownToPostgres(repoPath);
    await initArchivingCluster(dataDir, dir, configFile, stanza);
    lab.source = await startServer(dataDir, dir, true);
    servers.push(lab.source);
    await writeFile(
      configFile,
      [
        '[global]',
        `repo1-path=${repoPath}`,
        'repo1-retention-full=2',
        'log-level-console=info',
        'compress-type=zst',
        'compress-level=3',
        'process-max=2',
        '',
        `[${stanza}]`,
        `pg1-path=${dataDir}`,
        `pg1-port=${lab.source.port}`,
        `pg1-socket-path=${dir}`,
        'pg1-user=postgres',
        extraConfig,
        '',
      ].join('\n'),
    );
    await chownToPostgres(configFile);
    return lab;
  } catch (error) {
    await lab.stop();
    throw error;
  }
}

/**
 * Pids of this lab's archive-get servers (`archive-get:serve`, its directory on their command
 * line): a restore starts one and restore_command others, detached.
 */
export async function walGetServerPids(labDir: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.includes('archive-get:serve') && args.some((arg) => arg.includes(labDir))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Stops this lab's archive-get servers by PID. They exit by themselves once the PostgreSQL they
 * served stops or when idle; this does not wait for that.
 */
export async function stopWalGetServers(labDir: string): Promise<void> {
  for (const pid of await walGetServerPids(labDir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** initdb (data checksums, scram passwords) with archive_command = keel backup archive-push to the lab's stanza. */
async function initArchivingCluster(dataDir: string, dir: string, configFile: string, stanza: string): Promise<void> {
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  await chownToPostgres(pwfile);
  await runProgramOrFail(
    `${PG_BIN}/initdb`,
    ['-D', dataDir, '--username=postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--data-checksums', '--no-sync'],
    { timeoutMs: 120_000 },
    'initdb',
  );
  const archiveCommand = `'${process.execPath}' '${KEEL_MAIN}' backup archive-push %p --config=${configFile} --stanza=${stanza}`;
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      `listen_addresses = ''`,
      `unix_socket_directories = '${dir}'`,
      `archive_mode = on`,
      `archive_command = '${archiveCommand.replaceAll("'", "''")}'`,
      `wal_level = replica`,
      `fsync = off`,
      `shared_buffers = 32MB`,
      '',
    ].join('\n'),
  );
}

/** Runs a PostgreSQL program as the postgres OS user (pg_basebackup for a replica), with the lab's password. */
export async function runPgProgram(name: string, args: string[]): Promise<void> {
  await runProgramOrFail(`${PG_BIN}/${name}`, args, { timeoutMs: 120_000, env: { PGPASSWORD: PASSWORD } }, name);
}

/** The archived WAL names of one archive id of the lab's stanza (what expire kept), sorted. */
export function archivedWal(lab: BackupLab, archiveId: string): Promise<string[]> {
  return archivedWalNames(lab.repoPath, lab.stanza, archiveId);
}

/** The WAL file names stored in a repository's stanza under one archive id (`15-1`), without their checksum suffix, sorted. */
export async function archivedWalNames(repoPath: string, stanza: string, archiveId = '15-1'): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const names: string[] = [];
  const root = join(repoPath, stanza, 'archive', archiveId);
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    for (const entry of await readdir(join(root, dir)).catch(() => [] as string[])) if (entry.length > 65) names.push(entry.slice(0, -65));
  }
  return names.sort();
}

async function startServer(dataDir: string, socketDir: string, archive: boolean): Promise<PgServer> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const logFile = `${dataDir}.log`;
  await writeFile(logFile, '');
  await chownToPostgres(logFile);
  const started = await runProgram(
    `${PG_BIN}/pg_ctl`,
    ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', `-p ${port} -k ${socketDir}${archive ? '' : ' -c archive_mode=off'}`],
    { timeoutMs: 90_000 },
  );
  if (started.code !== 0) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`pg_ctl start failed: ${started.stderr}\n${log.split('\n').slice(-20).join('\n')}`);
  }
  const query = async <Row extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<Row[]> => {
    const client = new pg.Client({ host: socketDir, port, user: 'postgres', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<Row>(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  const stop = async () => {
    const pidText = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
    const result = await runProgram(`${PG_BIN}/pg_ctl`, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], { timeoutMs: 40_000 }).catch(() => null);
    const pid = Number(pidText?.split('\n')[0]);
    if ((result === null || result.code !== 0) && Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return { dataDir, port, socketDir, query, stop };
}

/** Bytes under a directory (regular files), for asserting what a backup stored. */
export async function directoryBytes(path: string): Promise<number> {
  const { readdir, lstat } = await import('node:fs/promises');
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else if (entry.isFile()) total += (await lstat(full)).size;
  }
  return total;
}

/** A table's rows as one md5 (ordered by id): a restored copy is compared with its source by it. */
export async function tableChecksum(server: PgServer, table: string): Promise<string> {
  const [row] = await server.query<{ sum: string }>(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS sum FROM ${table} t`);
  return row?.sum ?? '';
}

/** `info --output=json` (plus `extra`) of the lab's stanza: its JSON; a failed command fails the test. */
export async function infoStanza<T>(lab: BackupLab, extra: string[] = []): Promise<T> {
  const result = await lab.keel(['info', '--output=json', ...extra]);
  if (result.code !== 0) throw new Error(`info failed: ${result.stderr}`);
  const [stanza] = JSON.parse(result.stdout) as T[];
  if (stanza === undefined) throw new Error(`info listed no stanza: ${result.stdout}`);
  return stanza;
}
