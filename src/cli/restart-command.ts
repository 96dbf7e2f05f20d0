/**
 * `keel restart [CLUSTER] [MEMBER...]` — patronictl's `restart`: POST /restart on each member,
 * now or at a time (--scheduled), optionally only where a restart is pending (--pending), the
 * PostgreSQL version is older (--pg-version) or the role matches (--role). Replicas go first and
 * the leader last, so a rolling restart never leaves the cluster without a streaming replica for
 * longer than one member's restart.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { postgresVersionToInt } from '../ha/restart-request.js';
import { apiUrlOf, checkResponse, confirm, failed, loadOpsContext, parseRole, printTopology, selectMembers, splitClusterAndMembers } from './member-ops.js';

/** An ISO 8601 time; without an offset it is local time (patronictl: tzlocal). Returns ISO with offset. */
export function parseScheduled(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim());
  const at =
    match === null ? Number.NaN : Date.parse(`${match[1]}T${match[2]}${match[3] === undefined ? '' : match[3].length === 3 ? `${match[3]}:00` : match[3]}`);
  if (!Number.isFinite(at)) {
    throw new KeelError('cli.bad_schedule', `Unable to parse scheduled timestamp (${value}). It should be in an unambiguous format (e.g. ISO 8601)`, {
      exitCode: 2,
    });
  }
  const date = new Date(at);
  const offsetMin = -date.getTimezoneOffset();
  const local = new Date(at + offsetMin * 60_000).toISOString().replace(/\.000Z$|Z$/, '');
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

interface RestartFlags {
  role: string;
  pending?: boolean;
  scheduled?: string;
  pgVersion?: string;
  timeout?: string;
  force?: boolean;
}

export function registerRestartCommand(program: Command): void {
  program
    .command('restart')
    .description('restart PostgreSQL on cluster members (patronictl restart)')
    .argument('[words...]', '[CLUSTER] [MEMBER...]')
    .option('-r, --role <role>', 'restart only members with this role: leader, replica or any', 'any')
    .option('--pending', 'restart only where a restart is pending')
    .option('--scheduled <time>', 'restart at this time (ISO 8601) instead of now')
    .option('--pg-version <version>', 'restart only if the PostgreSQL version is lower (e.g. 15.6)')
    .option('--timeout <seconds>', 'fail the restart when PostgreSQL takes longer to start')
    .option('--force', 'do not ask for confirmation')
    .action(async (words: string[], flags: RestartFlags) => {
      const role = parseRole(flags.role);
      const content: Record<string, unknown> = {};
      if (flags.pending === true) content['restart_pending'] = true;
      if (flags.pgVersion !== undefined) {
        try {
          postgresVersionToInt(flags.pgVersion);
        } catch (error) {
          throw new KeelError('cli.bad_version', (error as Error).message, { exitCode: 2 });
        }
        content['postgres_version'] = flags.pgVersion;
      }
      const schedule = flags.scheduled === undefined || flags.scheduled === 'now' ? null : parseScheduled(flags.scheduled);
      if (flags.timeout !== undefined) {
        if (!/^\d+$/.test(flags.timeout) || Number(flags.timeout) <= 0)
          throw new KeelError('cli.bad_timeout', `--timeout must be a positive number of seconds, got "${flags.timeout}"`, { exitCode: 2 });
        content['timeout'] = Number(flags.timeout);
      }
      const ctx = await loadOpsContext(program);
      const names = splitClusterAndMembers(words, ctx.config.scope, ctx.view);
      const leader = ctx.view.leader?.name ?? null;
      // Replicas first, the leader last.
      const members = selectMembers(ctx.view, ctx.config.scope, names, role, 'restart').sort((x, y) => Number(x.name === leader) - Number(y.name === leader));
      if (schedule !== null) {
        if (ctx.view.config?.value['pause'] === true) throw new KeelError('cli.paused', "Can't schedule restart in the paused state");
        content['schedule'] = schedule;
      }
      printTopology(ctx);
      const list = members.map((m) => m.name).join(', ');
      await confirm(
        schedule === null
          ? `Are you sure you want to restart members ${list}?`
          : `Are you sure you want to schedule restart of members ${list} at ${schedule}?`,
        flags.force === true,
      );
      for (const member of members) {
        const url = apiUrlOf(member);
        if (schedule !== null && flags.force === true && member.data['scheduled_restart'] !== undefined) {
          checkResponse(await ctx.api.request(url, 'DELETE', 'restart'), member.name, 'flush scheduled restart', true);
        }
        const answer = await ctx.api.request(url, 'POST', 'restart', content, 120_000);
        if (answer.status === 200) process.stdout.write(`Success: restart on member ${member.name}\n`);
        else if (answer.status === 202) process.stdout.write(`Success: restart scheduled on member ${member.name}\n`);
        else if (answer.status === 409) failed(`Failed: another restart is already scheduled on member ${member.name}`);
        else failed(`Failed: restart for member ${member.name}, status code=${answer.status}, (${answer.text})`);
      }
    });
}
