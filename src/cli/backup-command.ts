/**
 * `keel backup <command> [options]` and `keel pgbackrest [options] <command>`: pgBackRest's
 * verbs and options (see src/config/pgbackrest.ts for the options, src/backup for the work).
 * Parsing and printing only. As pgBackRest is run as the postgres OS user (archive_command runs
 * as that user), keel switches to it when started as root, after reading its config file.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { resolveBackupSettings, type BackupSettings } from '../config/pgbackrest.js';
import { lookupUser } from '../postgres/os-user.js';
import { BackupLog } from '../backup/log.js';
import { logLevel, pgConnection, pgPath, repositoryOptions } from '../backup/settings.js';
import { stanzaCreate, checkArchiving } from '../backup/stanza.js';
import { runBackup } from '../backup/backup.js';
import { runRestore } from '../backup/restore.js';
import { runExpire } from '../backup/expire.js';
import { runVerify } from '../backup/verify.js';
import { stanzaReport, renderInfoText } from '../backup/info.js';
import { archiveGet, archivePush } from '../backup/archive.js';
import { Repository } from '../backup/repository.js';
import type { BackupType } from '../backup/core/label.js';
import type { RestoreType } from '../backup/recovery-settings.js';

const RESTORE_TYPES: readonly RestoreType[] = ['default', 'immediate', 'time', 'xid', 'name', 'lsn', 'standby', 'preserve', 'none'];

export function registerBackupCommands(program: Command): void {
  for (const [name, description] of [
    [
      'backup',
      'backups and point-in-time recovery, pgBackRest verbs: keel backup <stanza-create|check|backup|info|restore|expire|verify|archive-push|archive-get> [--option=value ...]',
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
  const settings = resolveBackupSettings(args, process.env);
  dropRootPrivileges();
  const log = new BackupLog(logLevel(settings));
  const o = settings.options;
  switch (settings.command) {
    case 'stanza-create':
    case 'stanza-upgrade':
      await stanzaCreate(repositoryOptions(settings), pgConnection(settings), log);
      return 0;
    case 'check':
      await checkArchiving(repositoryOptions(settings), pgConnection(settings), Number(o['archive-timeout']) * 1000, log);
      return 0;
    case 'backup':
      await runBackup({
        repository: repositoryOptions(settings),
        connection: pgConnection(settings),
        pgPath: pgPath(settings),
        type: backupType(settings),
        startFast: o['start-fast'] === true,
        archiveCheck: o['archive-check'] !== false,
        archiveTimeoutMs: Number(o['archive-timeout']) * 1000,
        processMax: Number(o['process-max']),
        log,
        progress: progressFlag(settings),
      });
      return 0;
    case 'info':
      return info(settings);
    case 'restore':
      await runRestore({
        repository: repositoryOptions(settings),
        pgPath: pgPath(settings),
        set: typeof o.set === 'string' ? o.set : null,
        target: restoreTarget(settings),
        delta: o.delta === true,
        force: o.force === true,
        restoreCommand: restoreCommandFor(settings),
        log,
        progress: progressFlag(settings),
        processMax: Number(o['process-max']),
      });
      return 0;
    case 'expire': {
      const result = await runExpire(
        repositoryOptions(settings),
        {
          retentionFull: typeof o['repo1-retention-full'] === 'number' ? o['repo1-retention-full'] : null,
          retentionDiff: typeof o['repo1-retention-diff'] === 'number' ? o['repo1-retention-diff'] : null,
        },
        log,
      );
      if (result.expired.length === 0) log.info('expire: nothing to expire');
      return 0;
    }
    case 'verify': {
      const result = await runVerify(repositoryOptions(settings), typeof o.set === 'string' ? o.set : null);
      for (const p of result.problems) process.stdout.write(`${p.backup === null ? 'archive' : `backup ${p.backup}`}: ${p.file}: ${p.problem}\n`);
      process.stdout.write(`verify: ${result.checked.length} backup(s) checked, ${result.problems.length} problem(s)\n`);
      return result.problems.length === 0 ? 0 : 1;
    }
    case 'archive-push': {
      const [walPath] = settings.parameters;
      if (walPath === undefined) throw new KeelError('backup.usage', 'archive-push requires the WAL file path (%p)');
      const outcome = await archivePush(await Repository.open(repositoryOptions(settings)), walPath);
      log.info(`archive-push command end: ${outcome === 'stored' ? 'pushed' : 'already archived with the same content'} ${walPath}`);
      return 0;
    }
    case 'archive-get': {
      const [name, destination] = settings.parameters;
      if (name === undefined || destination === undefined)
        throw new KeelError('backup.usage', 'archive-get requires the WAL file name (%f) and destination (%p)');
      const found = await archiveGet(await Repository.open(repositoryOptions(settings)), name, destination);
      log.info(found ? `found ${name} in the archive` : `unable to find ${name} in the archive`);
      return found ? 0 : 1;
    }
    default:
      throw new KeelError('backup.unknown_command', `unknown command '${settings.command}'`, {
        hint: 'commands: stanza-create, check, backup, info, restore, expire, verify, archive-push, archive-get',
      });
  }
}

async function info(settings: BackupSettings): Promise<number> {
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

/** restore_command for the restored server: this keel, archive-get, the same stanza and config. */
function restoreCommandFor(settings: BackupSettings): string {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const parts = [
    quote(process.execPath),
    quote(process.argv[1] ?? 'keel'),
    'backup',
    'archive-get',
    '%f',
    '"%p"',
    `--stanza=${quote(String(settings.options.stanza))}`,
  ];
  parts.push(`--config=${quote(String(settings.options.config))}`);
  for (const name of ['repo1-path', 'repo1-cipher-type', 'log-level-console'] as const) {
    const source = settings.sources[name];
    if (source !== undefined && !source.includes(' [')) parts.push(`--${name}=${quote(String(settings.options[name]))}`);
  }
  return parts.join(' ');
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
