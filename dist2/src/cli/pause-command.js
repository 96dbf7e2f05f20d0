import { KeelError } from '../errors.js';
import { isPaused } from '../patroni/cluster-json.js';
import { parseDynamicConfig } from '../config/dynamic.js';
import { MemberApi } from './member-api.js';
import { checkClusterName, loadLocalConfig, printOut, sleep, withDcs } from './cluster-session.js';
const POLL_INTERVAL_MS = 1_000;
/** Members with a REST API, the leader first (patronictl's get_all_members_leader_first). */
function membersLeaderFirst(view) {
    const leader = view.members.find((m) => m.name === view.leader?.name && m.apiUrl !== null);
    return [...(leader === undefined ? [] : [leader]), ...view.members.filter((m) => m.apiUrl !== null && m !== leader)];
}
const memberPaused = (member) => member.data['pause'] === true;
async function togglePause(program, cluster, paused, wait) {
    const local = loadLocalConfig(program);
    checkClusterName(local, cluster);
    const api = MemberApi.fromConfig(local);
    await withDcs(local, async (dcs) => {
        const view = await dcs.loadCluster();
        if (isPaused(view) === paused)
            throw new KeelError('cli.pause_state', `Cluster is ${paused ? 'already' : 'not'} paused`);
        const verb = paused ? 'pause' : 'resume';
        for (const member of membersLeaderFirst(view)) {
            let answer;
            try {
                answer = await api.request(member.apiUrl ?? '', 'PATCH', '/config', { pause: paused ? true : null });
            }
            catch (error) {
                process.stderr.write(`keel: member ${member.name} is not accessible: ${error instanceof Error ? error.message : String(error)}\n`);
                continue;
            }
            if (answer.status !== 200)
                throw new KeelError('cli.pause_failed', `Failed: ${verb} cluster management status code=${answer.status}, (${answer.text.trim()})`);
            if (wait)
                await waitUntilApplied(dcs, view, paused);
            else
                printOut(`Success: cluster management is ${paused ? 'paused' : 'resumed'}`);
            return;
        }
        throw new KeelError('cli.no_member', 'Can not find accessible cluster member');
    });
}
async function waitUntilApplied(dcs, before, paused) {
    printOut(`'${paused ? 'pause' : 'resume'}' request sent, waiting until it is recognized by all nodes`);
    const watched = new Set(before.members.filter((m) => m.apiUrl !== null).map((m) => m.name));
    const loopWaitS = parseDynamicConfig(before.config?.value ?? {}).loopWaitMs / 1000;
    const deadline = Date.now() + (loopWaitS + 1) * 1000;
    let remaining = [...watched];
    while (Date.now() < deadline) {
        const view = await dcs.loadCluster();
        remaining = view.members.filter((m) => watched.has(m.name) && memberPaused(m) !== paused).map((m) => m.name);
        if (remaining.length === 0) {
            printOut(`Success: cluster management is ${paused ? 'paused' : 'resumed'}`);
            return;
        }
        await sleep(POLL_INTERVAL_MS);
    }
    throw new KeelError('cli.pause_not_applied', `${remaining.join(', ')} members didn't recognize the ${paused ? 'pause' : 'resume'} after ${loopWaitS + 1} seconds`);
}
export function registerPauseCommands(program) {
    program
        .command('pause')
        .description('disable automatic failover: maintenance mode (patronictl pause)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('--wait', 'wait until every member has paused')
        .action(async (cluster, options) => togglePause(program, cluster, true, options.wait === true));
    program
        .command('resume')
        .description('resume automatic failover (patronictl resume)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('--wait', 'wait until every member has resumed')
        .action(async (cluster, options) => togglePause(program, cluster, false, options.wait === true));
}
//# sourceMappingURL=pause-command.js.map