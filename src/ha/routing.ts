/**
 * Role changes told to HAProxy (issue 11): the promote task calls `announceRoleChange` as soon as
 * PostgreSQL is out of recovery (before its CHECKPOINT), the executor after an unfence and as a
 * demotion, step-down or fence starts, so HAProxy moves writes in
 * milliseconds instead of after inter x rise of its health checks. Fire and forget through the
 * RoutingPort: nothing here waits, and without a `haproxy` section (or a port, as in the
 * simulator) it does nothing.
 */
import type { AgentContext } from './context.js';
import { roleChangeCommands, type RoleChange } from '../haproxy/runtime-commands.js';

export type { RoleChange };

export function announceRoleChange(a: AgentContext, change: RoleChange): void {
  const router = a.ports.routing;
  const local = a.local();
  const settings = local.haproxy;
  if (router === undefined || settings === undefined || settings.runtimeSockets.length === 0) return;
  const others = (a.cluster.view?.members ?? []).map((m) => m.name).filter((name) => name !== local.name);
  const commands = roleChangeCommands(change, local.name, others, { write: settings.writeBackend, read: settings.readBackend });
  const what = change === 'promoted' ? `${local.name} promoted: writes here only` : `${local.name} ${change}: no more writes here`;
  router.announce(settings.runtimeSockets, commands, what);
}
