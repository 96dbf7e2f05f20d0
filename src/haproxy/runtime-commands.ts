/**
 * What an agent tells HAProxy's runtime API when its role changes, as command lines (pure).
 *
 * `set server <backend>/<server> health up|down` forces the health state at once while leaving the
 * health checks running: a wrong announcement (a lost message, a stale one) is corrected by the
 * next `fall` or `rise` checks, so the checks stay the safety net and the announcement only makes
 * the switch faster. Admin states (`state maint|drain`) would stick until someone lifts them, so
 * they are not used.
 *
 * Server names are member names, as `keel haproxy-config` writes them (config-render.ts).
 */

/** A change of this member's role that moves traffic. */
export type RoleChange = 'promoted' | 'demoted' | 'fenced';

export interface RuntimeBackends {
  write: string;
  read: string;
}

/**
 * The commands for one change. `others` are the other members' names: a member that has just
 * promoted holds the leader key, so no other member may take writes; telling HAProxy so at once
 * matters most when the old leader died and cannot say it itself.
 */
export function roleChangeCommands(change: RoleChange, self: string, others: readonly string[], backends: RuntimeBackends): string[] {
  const health = (backend: string, server: string, state: 'up' | 'down') => `set server ${backend}/${server} health ${state}`;
  if (change === 'promoted') {
    return [health(backends.write, self, 'up'), ...others.map((other) => health(backends.write, other, 'down')), health(backends.read, self, 'down')];
  }
  // demoted or fenced: no more writes here; reads come back when /replica says so (rise checks)
  return [health(backends.write, self, 'down')];
}

/**
 * The lines of a runtime-API answer that report a failure. A successful `set server` prints
 * nothing; a server missing from a backend (a noloadbalance member has no read server) is not a
 * failure worth reporting.
 */
export function runtimeErrors(answer: string): string[] {
  return answer
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^No such server\.?$/i.test(line));
}
