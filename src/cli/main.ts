#!/usr/bin/env node
/**
 * keel's entry point (dist/src/cli/main.js, the path in systemd units, archive_command and
 * restore_command). PostgreSQL runs `keel backup archive-push` and `archive-get` once per WAL
 * segment, and a recovery waits on each archive-get: those command lines load only the backup
 * commands, which halves the start-up time of loading every command; `keel agent` loads only the
 * agent command (agent-program.ts), which it keeps in memory for as long as it runs. Everything
 * else loads the whole program (program.ts), which parses the line with Commander.
 */
import { renderError } from '../errors.js';

const verb = process.argv[2];
if (verb === 'backup' || verb === 'pgbackrest') {
  // as program.ts: --debug is keel's anywhere on the line, the rest is the backup command's
  const debug = process.argv.includes('--debug');
  try {
    const { runBackupCommand } = await import('./backup-command.js');
    process.exitCode = await runBackupCommand(process.argv.slice(3).filter((arg) => arg !== '--debug'));
  } catch (error) {
    process.stderr.write(renderError(error, debug) + '\n');
    process.exitCode = typeof (error as { exitCode?: unknown }).exitCode === 'number' ? (error as { exitCode: number }).exitCode : 1;
  }
} else if (verb === 'agent') {
  await import('./agent-program.js');
} else {
  await import('./program.js');
}
