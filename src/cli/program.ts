#!/usr/bin/env node
/**
 * keel's single binary. Thin: each verb family lives in its own module and registers itself;
 * this file only wires them and turns expected failures into one-line errors and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { renderError } from '../errors.js';
import { registerAgentCommand } from './agent-command.js';
import { registerListCommand } from './list-command.js';
import { registerSandboxCommands } from './sandbox-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerConfigCommands } from './config-command.js';
import { registerPauseCommands } from './pause-command.js';
import { registerHistoryCommand } from './history-command.js';
import { registerConnectCommands } from './connect-command.js';
import { registerRemoveCommand } from './remove-command.js';
import { registerSwitchoverCommands } from './switchover-command.js';
import { setInsecureFlag } from './member-api.js';
import { registerExplainCommand } from './explain-command.js';
import { registerRestartCommand } from './restart-command.js';
import { registerReinitCommand } from './reinit-command.js';
import { registerReloadCommand } from './reload-command.js';
import { registerFlushCommand } from './flush-command.js';
import { registerBackupCommands } from './backup-command.js';
import { registerGaleraCommands } from './galera-command.js';
import { registerHaproxyCommand } from './haproxy-command.js';
import { registerSystemdCommand } from './systemd-command.js';
import { KEEL_VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('keel')
    .description('PostgreSQL high availability on etcd, Patroni-compatible')
    .version(KEEL_VERSION)
    .option('-c, --config-file <file>', 'configuration file (patroni.yml format)', process.env['PATRONICTL_CONFIG_FILE'])
    .option('--debug', 'print stack traces of errors')
    .option('-k, --insecure', "do not verify members' REST API certificates (patronictl -k)")
    .showHelpAfterError()
    // as patronictl (click): options before the verb are keel's, after it the verb's (query -c SQL)
    .enablePositionalOptions()
    .exitOverride()
    .hook('preAction', () => setInsecureFlag(program.opts<{ insecure?: boolean }>().insecure === true));
  registerAgentCommand(program);
  registerListCommand(program);
  registerSandboxCommands(program);
  registerDemoCommand(program);
  registerConfigCommands(program);
  registerPauseCommands(program);
  registerHistoryCommand(program);
  registerConnectCommands(program);
  registerRemoveCommand(program);
  registerSwitchoverCommands(program);
  registerExplainCommand(program);
  registerRestartCommand(program);
  registerReinitCommand(program);
  registerReloadCommand(program);
  registerFlushCommand(program);
  registerBackupCommands(program);
  registerGaleraCommands(program);
  registerHaproxyCommand(program);
  registerSystemdCommand(program);
  return program;
}

/** --debug is accepted anywhere on the line, also after the verb (where positional options would refuse it). */
function debugFirst(argv: string[]): string[] {
  if (!argv.includes('--debug')) return argv;
  return [...argv.slice(0, 2), '--debug', ...argv.slice(2).filter((arg) => arg !== '--debug')];
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(debugFirst(argv));
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(renderError(error, argv.includes('--debug')) + '\n');
    process.exitCode = typeof (error as { exitCode?: unknown }).exitCode === 'number' ? (error as { exitCode: number }).exitCode : 1;
  }
}

await main(process.argv);
