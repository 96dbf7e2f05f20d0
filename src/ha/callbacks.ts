/**
 * postgresql.callbacks, as Patroni 3.0.2 calls them (postgresql/__init__.py call_nowait):
 * `<command split like a shell> <action> <role> <scope>`, role 'master' for a primary (Patroni
 * 3.0.2's name) or 'replica'. The command runs through the CallbackPort, which never makes the
 * HA loop wait. What triggers which callback is the caller's business (tasks.ts, agent.ts).
 */
import { split } from 'shlex';
import type { AgentContext } from './context.js';

export type CallbackAction = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

/** The argv of one callback (pure). */
export function callbackArgv(command: string, action: CallbackAction, role: string, scope: string): string[] {
  return [...split(command), action, role, scope];
}

/** The role a callback reports: what PostgreSQL is (or was last configured as). */
function callbackRole(a: AgentContext): string {
  const probe = a.pg.probe;
  if (probe !== null) return probe.inRecovery ? 'replica' : 'master';
  return a.pg.recovery === null ? 'master' : 'replica';
}

/** Runs the configured callback for `action`, if any; never throws, never waits. */
export function runCallback(a: AgentContext, action: CallbackAction, role: string = callbackRole(a)): void {
  const local = a.local();
  const command = local.postgresql.callbacks[action];
  if (command === undefined || command.trim() === '') return;
  let argv: string[];
  try {
    argv = callbackArgv(command, action, role, local.scope);
  } catch (error) {
    a.log.error(`callback ${action} not run: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  a.log.info(`running callback ${action}: ${argv.join(' ')}`);
  a.ports.callbacks.run(argv, action === 'on_reload' ? 'reload' : 'other');
}
