/**
 * `keel reload [CLUSTER] [MEMBER...]` — patronictl's `reload`: POST /reload on each member; the
 * agent re-reads its configuration file and reloads PostgreSQL within loop_wait.
 */
import type { Command } from 'commander';
import { confirm, apiUrlOf, failed, loadOpsContext, parseRole, printTopology, selectMembers, splitClusterAndMembers } from './member-ops.js';

export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description("reload members' configuration (patronictl reload)")
    .argument('[words...]', '[CLUSTER] [MEMBER...]')
    .option('-r, --role <role>', 'reload only members with this role: leader, replica or any', 'any')
    .option('--force', 'do not ask for confirmation')
    .action(async (words: string[], flags: { role: string; force?: boolean }) => {
      const role = parseRole(flags.role);
      const ctx = await loadOpsContext(program);
      const names = splitClusterAndMembers(words, ctx.config.scope, ctx.view);
      const members = selectMembers(ctx.view, ctx.config.scope, names, role, 'reload');
      printTopology(ctx);
      await confirm(`Are you sure you want to reload members ${members.map((m) => m.name).join(', ')}?`, flags.force === true);
      const loopWait = ctx.view.config?.value['loop_wait'] ?? 10;
      for (const member of members) {
        const answer = await ctx.api.request(apiUrlOf(member), 'POST', 'reload');
        if (answer.status === 200) process.stdout.write(`No changes to apply on member ${member.name}\n`);
        else if (answer.status === 202)
          process.stdout.write(`Reload request received for member ${member.name} and will be processed within ${String(loopWait)} seconds\n`);
        else failed(`Failed: reload for member ${member.name}, status code=${answer.status}, (${answer.text})`);
      }
    });
}
