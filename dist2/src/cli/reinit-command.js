import { KeelError } from '../errors.js';
import { apiUrlOf, checkResponse, confirm, loadOpsContext, printTopology, selectMembers, splitClusterAndMembers } from './member-ops.js';
const WAIT_POLL_MS = 2000;
/** --wait gives up after this long (a clone of a large database takes hours; a lost member forever). */
const WAIT_LIMIT_MS = 24 * 3600_000;
export function registerReinitCommand(program) {
    program
        .command('reinit')
        .description('rebuild replicas from the leader (patronictl reinit)')
        .argument('<words...>', '[CLUSTER] MEMBER...')
        .option('--force', 'do not ask for confirmation; wait for a task in progress on the member first')
        .option('--wait', 'wait until the reinitialization completes')
        .option('--from-leader', 'clone from the leader (keel always does)')
        .action(async (words, flags) => {
        const ctx = await loadOpsContext(program);
        const names = splitClusterAndMembers(words, ctx.config.scope, ctx.view);
        const members = selectMembers(ctx.view, ctx.config.scope, names, 'replica', 'reinitialize');
        printTopology(ctx);
        await confirm(`Are you sure you want to reinitialize members ${members.map((m) => m.name).join(', ')}?`, flags.force === true);
        const waitOn = [];
        for (const member of members) {
            const url = apiUrlOf(member);
            const body = { force: flags.force === true, ...(flags.fromLeader === true ? { from_leader: true } : {}) };
            const answer = await ctx.api.request(url, 'POST', 'reinitialize', body, 120_000);
            if (checkResponse(answer, member.name, 'reinitialize') && flags.wait === true)
                waitOn.push({ name: member.name, url });
        }
        if (waitOn.length === 0)
            return;
        process.stdout.write(`Waiting for reinitialize to complete on: ${waitOn.map((m) => m.name).join(', ')}\n`);
        const deadline = Date.now() + WAIT_LIMIT_MS;
        while (waitOn.length > 0) {
            if (Date.now() > deadline)
                throw new KeelError('cli.reinit_wait_timeout', `reinitialize still running after ${WAIT_LIMIT_MS / 3600_000} h on: ${waitOn.map((m) => m.name).join(', ')}`);
            await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
            for (const member of [...waitOn]) {
                const status = await ctx.api.request(member.url, 'GET', 'patroni').catch(() => null);
                const state = status?.json?.state;
                if (status !== null && status.status === 200 && state !== 'creating replica') {
                    process.stdout.write(`Reinitialize is completed on: ${member.name}\n`);
                    waitOn.splice(waitOn.indexOf(member), 1);
                }
            }
        }
    });
}
//# sourceMappingURL=reinit-command.js.map