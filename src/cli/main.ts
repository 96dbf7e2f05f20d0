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
import { registerRestartCommand } from './restart-command.js';
import { registerReinitCommand } from './reinit-command.js';
import { registerReloadCommand } from './reload-command.js';
import { registerFlushCommand } from './flush-command.js';
import { KEEL_VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('keel')
    .description('PostgreSQL high availability on etcd, Patroni-compatible')
    .version(KEEL_VERSION)
    .option('-c, --config-file <file>', 'configuration file (patroni.yml format)', process.env['PATRONICTL_CONFIG_FILE'])
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError()
    .exitOverride();
  registerAgentCommand(program);
  registerListCommand(program);
  registerSandboxCommands(program);
  registerDemoCommand(program);
  registerRestartCommand(program);
  registerReinitCommand(program);
  registerReloadCommand(program);
  registerFlushCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
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
