import { KeelError } from '../errors.js';
import { renderList } from '../patroni/list-render.js';
import { isFailoverPending } from '../patroni/dcs-layout.js';
import { MemberApi } from './member-api.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';
import { ask, closeTerminal, confirm, stdinIsTerminal } from './terminal.js';
function fail(code, message, exitCode = 1) {
    throw new KeelError(code, message, { exitCode });
}
/** Asks on a terminal; without one, what patronictl would ask is an error naming the option. */
async function askFor(question, option, fallback) {
    if (!stdinIsTerminal())
        fail('cli.missing_option', `${option} is required without a terminal (or pass --force to accept "${fallback || 'none'}")`, 2);
    const answer = await ask(fallback === '' ? question : `${question} [${fallback}]`, option);
    return answer === '' ? fallback : answer;
}
/** Members that may take over, as patronictl offers them: not the leader, not tagged nofailover. */
function candidateNames(view) {
    return view.members.filter((m) => m.name !== view.leader?.name && m.tags['nofailover'] !== true).map((m) => m.name);
}
async function run(program, action, cluster, options) {
    const local = loadLocalConfig(program);
    checkClusterName(local, cluster);
    const force = options.force === true;
    const api = MemberApi.fromConfig(local, 5 * 60_000);
    await withDcs(local, async (dcs) => {
        const view = await dcs.loadCluster();
        const leaderName = view.leader?.name ?? null;
        if (action === 'switchover' && leaderName === null)
            fail('cli.no_leader', `This cluster (${local.scope}) has no leader: use "keel failover --candidate NAME"`);
        let leader = options.leader ?? options.primary ?? null;
        if (action === 'switchover' && leader === null)
            leader = force ? leaderName : await askFor('Primary', '--leader', leaderName ?? '');
        if (leader !== null && leader !== leaderName)
            fail('cli.not_leader', `Member ${leader} is not the leader of cluster ${local.scope}`);
        const names = candidateNames(view);
        let candidate = options.candidate ?? null;
        if (candidate === null && !force)
            candidate = (await askFor(`Candidate ${JSON.stringify(names)}`, '--candidate', '')) || null;
        if (action === 'failover' && candidate === null)
            fail('cli.no_candidate', 'Failover could be performed only to a specific candidate', 2);
        if (candidate !== null && candidate === leader)
            fail('cli.same_member', `Switchover target and source are the same.`, 2);
        if (candidate !== null && !names.includes(candidate))
            fail('cli.bad_candidate', `Member ${candidate} does not exist in cluster ${local.scope} or is tagged as nofailover`);
        let scheduled = options.scheduled ?? null;
        if (action === 'switchover' && scheduled === null && !force)
            scheduled = await askFor('When should the switchover take place (e.g. 2026-12-02T10:00+00:00)', '--scheduled', 'now');
        if (scheduled === 'now')
            scheduled = null;
        if (action === 'failover' && scheduled !== null)
            fail('cli.bad_schedule', "Failover can't be scheduled", 2);
        if (scheduled !== null && Number.isNaN(Date.parse(scheduled)))
            fail('cli.bad_schedule', `Unable to parse scheduled timestamp (${scheduled}). It should be in an unambiguous format, e.g. ISO 8601`, 2);
        if (isFailoverPending(view.failover?.value) && view.failover?.value.scheduledAt !== undefined && scheduled !== null) {
            fail('cli.already_scheduled', `A switchover is already scheduled at ${view.failover.value.scheduledAt}: cancel it first (keel flush ${local.scope} switchover)`);
        }
        if (!force) {
            printOut(renderList(view, 'pretty', { scope: local.scope }));
            const what = action === 'switchover'
                ? `Are you sure you want to switchover cluster ${local.scope}, demoting current leader ${leader ?? ''}?`
                : `Are you sure you want to failover cluster ${local.scope}${leaderName === null ? '' : `, demoting current leader ${leaderName}`}?`;
            if (!stdinIsTerminal())
                fail('cli.not_confirmed', 'confirmation needed: run on a terminal or pass --force', 2);
            if (!(await confirm(what)))
                fail('cli.aborted', 'Aborting ' + action);
        }
        const body = {};
        if (leader !== null)
            body['leader'] = leader;
        if (candidate !== null)
            body['candidate'] = candidate;
        if (scheduled !== null)
            body['scheduled_at'] = scheduled;
        // A switchover goes to the leader (as patronictl does); a failover to the candidate, which
        // answers also when the leader is gone (any member writes the key and follows the result).
        const target = view.members.find((m) => m.name === (action === 'switchover' ? leaderName : candidate));
        if (target?.apiUrl == null)
            fail('cli.no_member', 'Can not find accessible cluster member');
        const answer = await api.request(target.apiUrl, 'POST', `/${action}`, body);
        const text = answer.text.trim();
        if (answer.status !== 200 && answer.status !== 202)
            fail(`cli.${action}_failed`, `${action === 'switchover' ? 'Switchover' : 'Failover'} failed, details: ${answer.status}, ${text}`);
        printOut(`${new Date()
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, '')} ${text}`);
        printOut(renderList(await dcs.loadCluster(), 'pretty', { scope: local.scope }));
    }).finally(closeTerminal);
}
export function registerSwitchoverCommands(program) {
    program
        .command('switchover')
        .description('hand the leader role over to a replica, cleanly (patronictl switchover)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('--leader <name>', 'the current leader (asked on a terminal, the current leader with --force)')
        .option('--primary <name>', 'alias of --leader')
        .option('--candidate <name>', 'the member to promote (default: the best one, chosen by the agents)')
        .option('--scheduled <time>', 'when: an ISO-8601 time with a zone, or "now"')
        .option('--force', 'do not ask for anything')
        .action(async (cluster, options) => run(program, 'switchover', cluster, options));
    program
        .command('failover')
        .description('promote a named replica, also when the leader is gone (patronictl failover)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('--leader <name>', 'the current leader (makes it a switchover)')
        .option('--candidate <name>', 'the member to promote')
        .option('--force', 'do not ask for anything')
        .action(async (cluster, options) => run(program, options.leader === undefined ? 'failover' : 'switchover', cluster, options));
}
//# sourceMappingURL=switchover-command.js.map