/**
 * `keel backup <command> [options]` and `keel pgbackrest [options] <command>`: pgBackRest's
 * verbs and options (see src/config/pgbackrest.ts for the options, src/backup for the work).
 * Parsing and printing only. As pgBackRest is run as the postgres OS user (archive_command runs
 * as that user), keel switches to it when started as root, after reading its config file.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { OPTIONS, parseCommandLine, resolveBackupSettings, type BackupSettings, type OptionName } from '../config/pgbackrest.js';
import { KEEL_VERSION } from '../version.js';
import { lookupUser } from '../postgres/os-user.js';
import { BackupLog } from '../backup/log.js';
import { logLevel, pgConnection, pgHosts, pgPath, repositoryOptions, stanzaOf, tablespaceMapping } from '../backup/settings.js';
// Each verb's modules are imported when it runs (below): PostgreSQL runs archive-push and
// archive-get once per WAL segment, and a recovery waits on every archive-get, so those do not
// load what backup or restore need (the PostgreSQL client, worker pools).
import type { SpoolOptions } from '../backup/archive-async.js';
import { basename, isAbsolute, resolve } from 'node:path';
import { diskFullError, fileAccessError } from '../backup/durable-file.js';
import type { BackupType } from '../backup/core/label.js';
import type { ArchiveRetentionType } from '../backup/core/retention.js';
import type { RestoreType } from '../backup/recovery-settings.js';
import { walGetClient, walGetSocketPath } from '../backup/wal-get-command.js';
import { walGetServerName, withWalGetClient } from '../config/archiving.js';
import { spawn, type ChildProcess } from 'node:child_process';

const RESTORE_TYPES: readonly RestoreType[] = ['default', 'immediate', 'time', 'xid', 'name', 'lsn', 'standby', 'preserve', 'none'];

export function registerBackupCommands(program: Command): void {
  for (const [name, description] of [
    [
      'backup',
      'backups and point-in-time recovery, pgBackRest verbs: keel backup <stanza-create|stanza-upgrade|check|backup|info|restore|expire|verify|archive-push|archive-get> [--option=value ...]',
    ],
    ['pgbackrest', 'pgBackRest-compatible entry: keel pgbackrest [--option=value ...] <command> (options before or after the command)'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[arguments...]')
      .action(async (args: string[]) => {
        process.exitCode = await runBackupCommand(args);
      });
  }
}

/** Runs one pgBackRest-style command line; returns the exit code. */
export async function runBackupCommand(args: string[]): Promise<number> {
  // the background workers of archive-async run as `archive-push:async` / `archive-get:async`
  // and read the sections of the verb they serve
  // (pgBackRest's names); `archive-get:serve` is restore_command's server (archive-get-server.ts)
  const worker = args.find((a) => a === 'archive-push:async' || a === 'archive-get:async' || a === 'archive-get:serve');
  const settings = resolveBackupSettings(worker === undefined ? args : args.map((a) => (a === worker ? (a.split(':')[0] ?? a) : a)), process.env);
  if (worker === 'archive-get:serve') return serveArchiveGet(settings, args);
  if (worker !== undefined) return runArchiveWorker(worker, settings);
  dropRootPrivileges();
  const log = new BackupLog(logLevel(settings));
  const logged = COMMANDS_LOGGING_BEGIN_END.has(settings.command);
  if (logged) log.info(commandBeginLine(settings));
  const code = await runCommand(settings, log, args).catch((error: unknown) => {
    // a full filesystem is one line: the writes that know their file name it, the others the
    // repository; so is a path the command's user may not use
    throw fileAccessError(diskFullError(error, (error as NodeJS.ErrnoException).path ?? String(settings.options['repo1-path'])));
  });
  if (logged && code === 0) log.info(`${settings.command} command end: completed successfully`);
  return code;
}

/** Commands that frame their work with pgBackRest's "command begin" / "command end" lines (info and verify print their report alone). */
const COMMANDS_LOGGING_BEGIN_END = new Set(['stanza-create', 'stanza-upgrade', 'check', 'backup', 'restore', 'expire']);

/** `backup command begin 0.1.0: --repo1-cipher-pass=<redacted> --stanza=prod-db ...`: the options given, sorted, secrets redacted. */
export function commandBeginLine(settings: BackupSettings): string {
  const given = (Object.keys(settings.sources) as OptionName[]).sort();
  const rendered = given.map((name) => {
    const value = settings.options[name];
    if ((OPTIONS[name] as { secret?: boolean }).secret === true) return `--${name}=<redacted>`;
    if (typeof value === 'boolean') return value ? `--${name}` : `--no-${name}`;
    return `--${name}=${String(value)}`;
  });
  return `${settings.command} command begin ${KEEL_VERSION}: ${rendered.join(' ')}`.trimEnd();
}

async function runCommand(settings: BackupSettings, log: BackupLog, args: string[]): Promise<number> {
  const o = settings.options;
  switch (settings.command) {
    case 'stanza-create': {
      const { stanzaCreate } = await import('../backup/stanza.js');
      await stanzaCreate(repositoryOptions(settings), pgConnection(settings), log);
      return 0;
    }
    case 'stanza-upgrade': {
      const { stanzaUpgrade } = await import('../backup/stanza.js');
      await stanzaUpgrade(repositoryOptions(settings), pgConnection(settings), log);
      return 0;
    }
    case 'check': {
      const { checkArchiving } = await import('../backup/stanza.js');
      await checkArchiving(repositoryOptions(settings), pgConnection(settings), Number(o['archive-timeout']) * 1000, log);
      return 0;
    }
    case 'backup': {
      const { runBackup } = await import('../backup/backup.js');
      await runBackup({
        repository: repositoryOptions(settings),
        hosts: pgHosts(settings),
        backupStandby: o['backup-standby'] === true,
        type: backupType(settings),
        startFast: o['start-fast'] === true,
        archiveCheck: o['archive-check'] !== false,
        archiveTimeoutMs: Number(o['archive-timeout']) * 1000,
        processMax: Number(o['process-max']),
        log,
        progress: progressFlag(settings),
      });
      return 0;
    }
    case 'info':
      return info(settings);
    case 'restore': {
      const { runRestore } = await import('../backup/restore.js');
      const restoreCommand = restoreCommandFor(settings);
      // PostgreSQL usually starts right after a restore: started once the files are written (its
      // Node.js start then overlaps the final fsyncs, not the decoding), restore_command's server
      // is loaded when the recovery's first calls come, instead of each starting Node.js. It
      // exits if unused (UNUSED_MS after the restore), and at once if the restore fails.
      let server: ChildProcess | null = null;
      const archiveGet = restoreCommand.archiveGet;
      await runRestore({
        repository: repositoryOptions(settings),
        pgPath: pgPath(settings),
        set: typeof o.set === 'string' ? o.set : null,
        target: restoreTarget(settings),
        delta: o.delta === true,
        force: o.force === true,
        tablespaceMapping: tablespaceMapping(settings),
        restoreCommand: restoreCommand.line,
        log,
        progress: progressFlag(settings),
        processMax: Number(o['process-max']),
        ...(archiveGet === null ? {} : { onFilesWritten: () => (server = startWalGetServer(archiveGet)) }),
      }).catch((error: unknown) => {
        (server as ChildProcess | null)?.kill();
        throw error;
      });
      return 0;
    }
    case 'expire': {
      const { runExpire } = await import('../backup/expire.js');
      const result = await runExpire(
        repositoryOptions(settings),
        {
          retentionFull: typeof o['repo1-retention-full'] === 'number' ? o['repo1-retention-full'] : null,
          retentionDiff: typeof o['repo1-retention-diff'] === 'number' ? o['repo1-retention-diff'] : null,
          retentionArchive: typeof o['repo1-retention-archive'] === 'number' ? o['repo1-retention-archive'] : null,
          retentionArchiveType: o['repo1-retention-archive-type'] as ArchiveRetentionType,
        },
        log,
      );
      if (result.expired.length === 0) log.info('expire: nothing to expire');
      return 0;
    }
    case 'verify': {
      const { runVerify } = await import('../backup/verify.js');
      const result = await runVerify(repositoryOptions(settings), typeof o.set === 'string' ? o.set : null);
      for (const p of result.problems) process.stdout.write(`${p.backup === null ? 'archive' : `backup ${p.backup}`}: ${p.file}: ${p.problem}\n`);
      process.stdout.write(`verify: ${result.checked.length} backup(s) checked, ${result.problems.length} problem(s)\n`);
      return result.problems.length === 0 ? 0 : 1;
    }
    case 'archive-push': {
      const [walPath] = settings.parameters;
      if (walPath === undefined) throw new KeelError('backup.usage', 'archive-push requires the WAL file path (%p)');
      if (o['archive-async'] === true) {
        const { asyncArchivePush } = await import('../backup/archive-async.js');
        await asyncArchivePush(resolve(walPath), spoolOptions(settings), await workerStarter(args));
        log.info(`pushed WAL file '${basename(walPath)}' to the archive asynchronously`);
        return 0;
      }
      const [{ archivePush }, { Repository }] = await Promise.all([import('../backup/archive.js'), import('../backup/repository.js')]);
      const outcome = await archivePush(await Repository.open(repositoryOptions(settings)), walPath);
      log.info(`archive-push command end: ${outcome === 'stored' ? 'pushed' : 'already archived with the same content'} ${walPath}`);
      return 0;
    }
    case 'archive-get': {
      const [name, destination] = settings.parameters;
      if (name === undefined || destination === undefined)
        throw new KeelError('backup.usage', 'archive-get requires the WAL file name (%f) and destination (%p)');
      // keel-wal-get found no server to ask and says where one belongs: start it now, so it is
      // loading while this call does its work, ready for the next WAL file of the recovery
      const serverSocket = process.env['KEEL_WAL_GET_SOCKET'];
      if (serverSocket !== undefined && o['archive-async'] !== true && pathsAreAbsolute(settings)) spawnWalGetServer(commandLineOptions(args), process.env);
      const [{ archiveGet, archiveDbOf }, { Repository }] = await Promise.all([import('../backup/archive.js'), import('../backup/repository.js')]);
      const repository = await Repository.open(repositoryOptions(settings));
      // the WAL of the cluster being recovered (PostgreSQL runs restore_command in its data directory)
      const pg1Path = o['pg1-path'];
      const db = await archiveDbOf(repository, [process.cwd(), ...(typeof pg1Path === 'string' ? [pg1Path] : [])]);
      const found =
        o['archive-async'] === true
          ? await (
              await import('../backup/archive-async.js')
            ).asyncArchiveGet(repository, name, resolve(destination), spoolOptions(settings), await workerStarter(args), db)
          : await archiveGet(repository, name, destination, db);
      log.info(found ? `found ${name} in the archive` : `unable to find ${name} in the archive`);
      return found ? 0 : 1;
    }
    default:
      throw new KeelError('backup.unknown_command', `unknown command '${settings.command}'`, {
        hint: 'commands: stanza-create, stanza-upgrade, check, backup, info, restore, expire, verify, archive-push, archive-get',
      });
  }
}

function spoolOptions(settings: BackupSettings): SpoolOptions {
  const o = settings.options;
  return {
    spoolPath: String(o['spool-path']),
    stanza: stanzaOf(settings),
    processMax: Number(o['process-max']),
    timeoutMs: Number(o['archive-timeout']) * 1000,
  };
}

/** Starts a background worker with this invocation's options (file, environment and command line stay the same). */
async function workerStarter(args: string[]) {
  const { detachedWorkerStarter } = await import('../backup/archive-async.js');
  return detachedWorkerStarter([process.argv[1] ?? 'keel', 'backup'], commandLineOptions(args));
}

/** The options of a command line, as a background process of the same command is given them. */
function commandLineOptions(args: string[]): string[] {
  return [...parseCommandLine(args).options].map(([name, value]) =>
    typeof value === 'boolean' ? (value ? `--${name}` : `--no-${name}`) : `--${name}=${value}`,
  );
}

async function runArchiveWorker(worker: string, settings: BackupSettings): Promise<number> {
  dropRootPrivileges();
  const [{ Repository }, { runGetWorker, runPushWorker }, { archiveDbOf }] = await Promise.all([
    import('../backup/repository.js'),
    import('../backup/archive-async.js'),
    import('../backup/archive.js'),
  ]);
  const repository = await Repository.open(repositoryOptions(settings));
  const [parameter] = settings.parameters;
  if (parameter === undefined) throw new KeelError('backup.usage', `${worker} requires its parameter`);
  if (worker === 'archive-push:async') {
    const result = await runPushWorker(repository, parameter, spoolOptions(settings));
    return result.failed === 0 ? 0 : 1;
  }
  // started by archive-get in the recovering cluster's directory: the same database as its caller
  const pg1Path = settings.options['pg1-path'];
  const db = await archiveDbOf(repository, [process.cwd(), ...(typeof pg1Path === 'string' ? [pg1Path] : [])]);
  await runGetWorker(repository, parameter, Number(settings.options['archive-get-queue-max']), spoolOptions(settings), db);
  return 0;
}

/**
 * restore_command's server (`archive-get:serve`, started by archive-get when keel-wal-get found
 * none): serves archive-get requests on the socket keel-wal-get named until idle.
 */
async function serveArchiveGet(settings: BackupSettings, args: string[]): Promise<number> {
  dropRootPrivileges();
  const [
    { runArchiveGetServer, isWalGetSocketPath, OutdatedServer, IDLE_MS, UNUSED_MS },
    { archiveGet, archiveDbOf, CallerGone },
    { Repository },
    { readFile },
    { join },
  ] = await Promise.all([
    import('../backup/archive-get-server.js'),
    import('../backup/archive.js'),
    import('../backup/repository.js'),
    import('node:fs/promises'),
    import('node:path'),
  ]);
  const socketPath = process.env['KEEL_WAL_GET_SOCKET'];
  const uid = process.geteuid?.() ?? 0;
  if (socketPath === undefined || !isWalGetSocketPath(socketPath, uid)) {
    throw new KeelError(
      'backup.usage',
      `archive-get:serve is started by keel-wal-get: KEEL_WAL_GET_SOCKET must name .../keel-wal-get-${uid}/<name>-<hash>.sock`,
    );
  }
  // it runs in /: a relative path would be read elsewhere than by the plain archive-get
  if (!pathsAreAbsolute(settings)) return 0;
  const options = repositoryOptions(settings);
  const stanzaFile = join(Repository.stanzaDir(options), 'stanza.json');
  // opened again when stanza.json changes (stanza-upgrade adds a database): never a stale view
  let opened: { text: string; repository: Awaited<ReturnType<typeof Repository.open>> } | null = null;
  const repository = async () => {
    const text = await readFile(stanzaFile, 'utf8');
    if (opened?.text !== text) opened = { text, repository: await Repository.open(options) };
    return opened.repository;
  };
  const pg1Path = settings.options['pg1-path'];
  const level = logLevel(settings);
  const parentPid = Number(process.env['KEEL_WAL_GET_PARENT']);
  await runArchiveGetServer(
    socketPath,
    async ({ name, destination, cwd }, wanted) => {
      // the options as the plain archive-get would resolve them now (pgbackrest.conf may have
      // been edited while a replica kept this server busy)
      const current = resolveBackupSettings(
        args.map((arg) => (arg === 'archive-get:serve' ? 'archive-get' : arg)),
        process.env,
      );
      if (JSON.stringify(current.options) !== JSON.stringify(settings.options)) throw new OutdatedServer();
      try {
        const repo = await repository();
        const db = await archiveDbOf(repo, [cwd, ...(typeof pg1Path === 'string' ? [pg1Path] : [])]);
        const found = await archiveGet(repo, name, destination, db, wanted);
        let log = '';
        new BackupLog(level, (line) => (log += line)).info(found ? `found ${name} in the archive` : `unable to find ${name} in the archive`);
        return { found, log };
      } catch (error) {
        // any other failure: the plain archive-get reports it (with its exit code), and a new
        // server is started for the calls after it rather than one that may keep failing
        if (error instanceof CallerGone) throw error;
        throw new OutdatedServer();
      }
    },
    {
      // KEEL_WAL_GET_IDLE_MS shortens both waits (tests)
      idleMs: positiveMs(process.env['KEEL_WAL_GET_IDLE_MS']) ?? IDLE_MS,
      unusedMs: positiveMs(process.env['KEEL_WAL_GET_IDLE_MS']) ?? UNUSED_MS,
      ...(Number.isSafeInteger(parentPid) && parentPid > 0 ? { parentPid } : {}),
    },
  );
  return 0;
}

function positiveMs(text: string | undefined): number | undefined {
  const ms = Number(text);
  return text !== undefined && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

async function info(settings: BackupSettings): Promise<number> {
  const { stanzaReport, renderInfoText } = await import('../backup/info.js');
  const report = await stanzaReport(repositoryOptions(settings), typeof settings.options.set === 'string' ? settings.options.set : null);
  process.stdout.write(settings.options.output === 'json' ? JSON.stringify([report]) + '\n' : renderInfoText(report));
  return 0;
}

function backupType(settings: BackupSettings): BackupType {
  const type = settings.options.type ?? 'incr';
  if (type !== 'full' && type !== 'diff' && type !== 'incr')
    throw new KeelError('config.invalid', `invalid value '${String(type)}' for option 'type' (full, diff or incr)`, { exitCode: 2 });
  return type;
}

function restoreTarget(settings: BackupSettings) {
  const o = settings.options;
  const type = (o.type ?? 'default') as RestoreType;
  if (!RESTORE_TYPES.includes(type))
    throw new KeelError('config.invalid', `invalid value '${type}' for option 'type' (${RESTORE_TYPES.join(', ')})`, { exitCode: 2 });
  const target = typeof o.target === 'string' ? o.target : null;
  if (['time', 'xid', 'name', 'lsn'].includes(type) && target === null)
    throw new KeelError('config.invalid', `restore --type=${type} requires option 'target'`, { exitCode: 2 });
  return {
    type,
    target,
    targetAction: (o['target-action'] ?? 'pause') as 'pause' | 'promote' | 'shutdown',
    targetExclusive: o['target-exclusive'] === true,
    targetTimeline: typeof o['target-timeline'] === 'string' ? o['target-timeline'] : null,
  };
}

function progressFlag(settings: BackupSettings): boolean | undefined {
  return typeof settings.options.progress === 'boolean' ? settings.options.progress : undefined;
}

/**
 * restore_command for the restored server: this keel, archive-get, the same stanza and config,
 * behind keel-wal-get when it was built (`archiveGet` is then the argument list of the
 * archive-get it falls back to, which also starts its server).
 */
function restoreCommandFor(settings: BackupSettings): { line: string; archiveGet: string[] | null } {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  // paths made absolute: PostgreSQL runs restore_command in the data directory, not where the restore ran
  const options = [`--stanza=${String(settings.options.stanza)}`, `--config=${resolve(String(settings.options.config))}`];
  for (const name of ['repo1-path', 'repo1-cipher-type', 'log-level-console'] as const) {
    const source = settings.sources[name];
    const value = String(settings.options[name]);
    if (source !== undefined && !source.includes(' [')) options.push(`--${name}=${name === 'repo1-path' ? resolve(value) : value}`);
  }
  const quoteOption = (option: string) => option.replace(/=(.*)$/s, (_, value: string) => `=${quote(value)}`);
  const line = [quote(process.execPath), quote(process.argv[1] ?? 'keel'), 'backup', 'archive-get', '%f', '"%p"', ...options.map(quoteOption)].join(' ');
  // through keel-wal-get, which asks a running server before starting Node.js (not with
  // archive-async: its queue has its own worker; nor with a relative path in the file, which the
  // server, running in /, would read elsewhere)
  // (pg1-path is the restore's target, not part of restore_command)
  const client = settings.options['archive-async'] === true || !pathsAreAbsolute(settings, ['repo1-path', 'spool-path']) ? undefined : walGetClient();
  if (client === undefined) return { line, archiveGet: null };
  return { line: withWalGetClient(line, client), archiveGet: [line, ...options] };
}

/**
 * Starts the archive-get server a restore_command line (`archiveGet[0]`, options after it) will
 * ask. Its environment has no PGBACKREST_* variable: it must read the repository exactly as the
 * restore_command's own archive-get would, whatever the shell running the restore had set.
 */
function startWalGetServer([line, ...options]: string[]): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PGBACKREST_')) env[name] = value;
  env['KEEL_WAL_GET_SOCKET'] = walGetSocketPath(walGetServerName(line ?? ''), env);
  // not unused while this restore runs, however long it takes
  env['KEEL_WAL_GET_PARENT'] = String(process.pid);
  return spawnWalGetServer(options, env);
}

/**
 * Starts an archive-get server (detached, in /: a data directory it held would keep a filesystem
 * from being unmounted), with `options` and `env` (KEEL_WAL_GET_SOCKET set).
 */
function spawnWalGetServer(options: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [process.argv[1] ?? 'keel', 'backup', ...options, 'archive-get:serve'], {
    detached: true,
    stdio: 'ignore',
    env,
    cwd: '/',
  });
  child.unref();
  return child;
}

/**
 * Whether the server would read what this command reads: it runs in /, so the paths archive-get
 * uses (on the line, in the file or the environment) must be absolute.
 */
function pathsAreAbsolute(settings: BackupSettings, names: readonly string[] = ['config', 'repo1-path', 'spool-path', 'pg1-path']): boolean {
  return names.every((name) => {
    const value = settings.options[name as OptionName];
    return typeof value !== 'string' || isAbsolute(value);
  });
}

/** As root, become the postgres OS user (PostgreSQL runs archive_command as that user; the repository is its). */
function dropRootPrivileges(): void {
  if (process.getuid?.() !== 0 || process.setuid === undefined || process.setgid === undefined) return;
  const user = lookupUser('postgres');
  if (user === null) return;
  process.setgid(user.gid);
  process.setuid(user.uid);
  process.env['HOME'] = user.home;
}
