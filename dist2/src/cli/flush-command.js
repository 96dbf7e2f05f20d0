import { KeelError } from '../errors.js';
import { apiUrlOf, checkResponse, confirm, loadOpsContext, parseRole, printTopology, selectMembers, splitClusterAndMembers } from './member-ops.js';
export function registerFlushCommand(program) {
    program
        .command('flush')
        .description('discard scheduled restarts (patronictl flush ... restart)')
        .argument('<words...>', '[CLUSTER] [MEMBER...] restart')
        .option('-r, --role <role>', 'flush only members with this role: leader, replica or any', 'any')
        .option('--force', 'do not ask for confirmation')
        .action(async (words, flags) => {
        const target = words[words.length - 1];
        if (target !== 'restart') {
            throw new KeelError('cli.bad_flush_target', `flush: the last word must be "restart"${target === 'switchover' ? ' (flush switchover is not available here yet)' : `, got "${target ?? ''}"`}`, {
                exitCode: 2,
            });
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
//# sourceMappingURL=flush-command.js.map