/**
 * The WAL archiving settings keel writes into postgresql.conf when the node YAML has a `backup:`
 * section, and the Patroni `recovery_conf` settings of a replica.
 *
 * Rules (Patroni users already write these by hand; what they wrote wins):
 *  - archive_mode = on and archive_command = `keel pgbackrest ... archive-push "%p"` on EVERY
 *    member, unless postgresql.parameters (local or dynamic) sets them. On a replica archive_mode=on
 *    archives nothing; the member that is promoted starts archiving on its new timeline at once,
 *    with nobody editing postgresql.conf after a failover.
 *  - restore_command = `keel pgbackrest ... archive-get %f "%p"` (behind keel-wal-get, its fast
 *    path, when built) on every member, unless
 *    recovery_conf (local or dynamic) or postgresql.parameters sets one: a replica whose leader no
 *    longer has the WAL it needs catches up from the archive, and PostgreSQL ignores it on a primary.
 *  - on a replica, recovery_conf's settings (dynamic, then local, which wins) except the ones keel
 *    owns for streaming (primary_conninfo, primary_slot_name, recovery_target_timeline), as Patroni
 *    writes them into postgresql.conf on PostgreSQL 12 and later.
 * Pure: the program that runs archive-push is an argument.
 */
import type { DynamicConfig, LocalConfig } from './types.js';
import { renderParameterValue } from './parameters.js';
import { createHash } from 'node:crypto';
import { KEEL_VERSION } from '../version.js';

/** How archive_command starts this keel: the Node.js binary and keel's entry script. */
export interface KeelProgram {
  node: string;
  script: string;
  /** keel-wal-get, restore_command's fast path (src/backup/wal-get-command.ts), when it was built. */
  walGet?: string;
}

/** recovery_conf keys keel itself writes for streaming replication (conf-files.ts); the user's are ignored. */
const KEEL_RECOVERY_KEYS = new Set(['primary_conninfo', 'primary_slot_name', 'recovery_target_timeline', 'standby_mode']);

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** `keel pgbackrest --config=... --stanza=... <verb> <args>` as /bin/sh reads it. */
export function pgbackrestCommand(local: LocalConfig, program: KeelProgram, verb: 'archive-push' | 'archive-get'): string | null {
  const backup = local.backup;
  if (backup === undefined) return null;
  const args = verb === 'archive-push' ? ['"%p"'] : ['%f', '"%p"'];
  const command = [
    shellQuote(program.node),
    shellQuote(program.script),
    'pgbackrest',
    shellQuote(`--config=${backup.configFile}`),
    shellQuote(`--stanza=${backup.stanza}`),
    verb,
    ...args,
  ].join(' ');
  return verb === 'archive-get' && program.walGet !== undefined ? withWalGetClient(command, program.walGet) : command;
}

function has(params: Record<string, unknown>, name: string): boolean {
  return Object.keys(params).some((key) => key.toLowerCase() === name);
}

/**
 * Settings to add to the effective parameters `params` (effectiveParameters' output) for this
 * member's role; see the module comment for the rules.
 */
export function archivingParameters(
  local: LocalConfig,
  dyn: DynamicConfig,
  params: Record<string, string>,
  program: KeelProgram,
  replica: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  const recoveryConf = { ...(dyn.recoveryConf ?? {}), ...(local.postgresql.recoveryConf ?? {}) };
  if (replica) {
    for (const [name, value] of Object.entries(recoveryConf)) {
      if (!KEEL_RECOVERY_KEYS.has(name.toLowerCase())) out[name.toLowerCase()] = renderParameterValue(value);
    }
  }
  const push = pgbackrestCommand(local, program, 'archive-push');
  const get = pgbackrestCommand(local, program, 'archive-get');
  if (push === null || get === null) return out;
  if (!has(params, 'archive_mode')) out['archive_mode'] = 'on';
  if (!has(params, 'archive_command')) out['archive_command'] = push;
  if (!has(params, 'restore_command') && !has(recoveryConf, 'restore_command')) out['restore_command'] = get;
  return out;
}

/**
 * `archiveGet` (a shell command line whose first word is the Node.js binary) behind keel-wal-get
 * (`client`, src/backup/wal-get-command.ts), restore_command's fast path.
 * The server's name is a hash of that command: one server per repository, stanza and options,
 * shared by every PostgreSQL of this user that restores with the same command.
 */
export function withWalGetClient(archiveGet: string, client: string): string {
  const name = walGetServerName(archiveGet);
  return `${shellQuote(client)} ${name} %f "%p" ${archiveGet}`;
}

/**
 * The server's name for an archive-get command line of this keel version (a server of the keel
 * an upgrade replaced in place is not asked).
 */
export function walGetServerName(archiveGet: string): string {
  return createHash('sha256').update(`${KEEL_VERSION}\0${archiveGet}`).digest('hex').slice(0, 24);
}
