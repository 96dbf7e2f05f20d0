/**
 * `keel flush [CLUSTER] [MEMBER...] restart|switchover` — patronictl's `flush`: DELETE /restart
 * on each member that has a scheduled restart; DELETE /switchover on the first member that
 * answers, the leader first, when a switchover is scheduled.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { apiUrlOf, checkResponse, confirm, loadOpsContext, parseRole, printTopology, selectMembers, splitClusterAndMembers } from './member-ops.js';

export function registerFlushCommand(program: Command): void {
  program
    .command('flush')
    .description('discard scheduled restarts or a scheduled switchover (patronictl flush)')
    .argument('<words...>', '[CLUSTER] [MEMBER...] restart|switchover')
    .option('-r, --role <role>', 'flush only members with this role: leader, replica or any', 'any')
    .option('--force', 'do not ask for confirmation')
    .action(async (words: string[], flags: { role: string; force?: boolean }) => {
      const target = words[words.length - 1];
      if (target === 'switchover') {
        await flushSwitchover(program);
        return;
      }
      if (target !== 'restart') {
        throw new KeelError('cli.bad_flush_target', `flush: the last word must be "restart" or "switchover", got "${target ?? ''}"`, { exitCode: 2 });
      }
      const role = parseRole(flags.role);
      const ctx = await loadOpsContext(program);
      const names = splitClusterAndMembers(words.slice(0, -1), ctx.config.scope, ctx.view);
      const members = selectMembers(ctx.view, ctx.config.scope, names, role, 'flush');
      printTopology(ctx);
      await confirm(`Are you sure you want to flush members ${members.map((m) => m.name).join(', ')}?`, flags.force === true);
      for (const member of members) {
        if (member.data['scheduled_restart'] === undefined) {
          process.stdout.write(`No scheduled restart for member ${member.name}\n`);
          continue;
        }
        checkResponse(await ctx.api.request(apiUrlOf(member), 'DELETE', 'restart'), member.name, 'flush scheduled restart');
      }
    });
}

/** patronictl's flush ... switchover: the first member that answers deletes it (the leader first). */
async function flushSwitchover(program: Command): Promise<void> {
  const ctx = await loadOpsContext(program);
  const failover = ctx.view.failover;
  if (failover === null || failover.value.scheduledAt === undefined) {
    process.stdout.write('No pending scheduled switchover\n');
    return;
  }
  const members = selectMembers(ctx.view, ctx.config.scope, [], 'any', 'flush').filter((m) => m.apiUrl !== null);
  for (const member of members) {
    let answer;
    try {
      answer = await ctx.api.request(apiUrlOf(member), 'DELETE', 'switchover');
    } catch (error) {
      process.stderr.write(`keel: member ${member.name} is not accessible: ${error instanceof Error ? error.message : String(error)}\n`);
      continue;
    }
    if (answer.status === 200) {
      process.stdout.write(`Success: ${answer.text.trim()}\n`);
      return;
    }
    throw new KeelError('cli.flush_failed', `Failed: member=${member.name}, status_code=${answer.status}, (${answer.text.trim()})`);
  }
  throw new KeelError('cli.no_member', `Could not find any accessible member of cluster ${ctx.config.scope}`);
}
