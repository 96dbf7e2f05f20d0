#!/usr/bin/env node
/**
 * keel's single binary. Thin: each verb family lives in its own module and registers itself;
 * this file only wires them (root-command.ts turns expected failures into one-line errors and
 * exit codes).
 */
import type { Command } from 'commander';
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
import { registerExplainCommand } from './explain-command.js';
import { registerRestartCommand } from './restart-command.js';
import { registerReinitCommand } from './reinit-command.js';
import { registerReloadCommand } from './reload-command.js';
import { registerFlushCommand } from './flush-command.js';
import { registerBackupCommands } from './backup-command.js';
import { registerGaleraCommands } from './galera-command.js';
import { registerHaproxyCommand } from './haproxy-command.js';
import { registerSystemdCommand } from './systemd-command.js';
import { rootCommand, runProgram } from './root-command.js';

export function buildProgram(): Command {
  const program = rootCommand();
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

await runProgram(buildProgram(), process.argv);
