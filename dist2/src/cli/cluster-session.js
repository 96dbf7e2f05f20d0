import { KeelError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import { DcsUnavailableError } from '../dcs/types.js';
import { configFileOf } from './list-command.js';
const DCS_DEADLINE_MS = 10_000;
export function loadLocalConfig(program) {
    return loadConfigFile(configFileOf(program), process.env);
}
/** Runs `work` with a DCS client for the configured cluster, always closing it; etcd not answering is a one-line error. */
export async function withDcs(config, work) {
    const dcs = new EtcdDcs({ etcd: config.etcd, namespace: config.namespace, scope: config.scope, name: config.name, retryTimeoutMs: DCS_DEADLINE_MS });
    try {
        return await work(dcs);
    }
    catch (error) {
        if (error instanceof DcsUnavailableError)
            throw new KeelError('cli.dcs_unavailable', error.message, { hint: 'check that etcd runs and that the etcd3 section of the configuration file names it' });
        throw error;
    }
    finally {
        await dcs.close();
    }
}
/** patronictl's role choices; primary/master and standby-leader are kinds of leader, standby a replica. */
export const ROLE_CHOICES = ['leader', 'primary', 'master', 'standby-leader', 'replica', 'standby', 'any'];
export function parseRole(value) {
    if (ROLE_CHOICES.includes(value))
        return value;
    throw new KeelError('cli.bad_role', `--role must be one of ${ROLE_CHOICES.join(', ')}, got "${value}"`, { exitCode: 2 });
}
/** patronictl's get_all_members: the leader (of the asked kind), or the other members / all of them. */
export function membersWithRole(view, role) {
    const leaderName = view.leader?.name ?? null;
    const leader = leaderName === null ? undefined : view.members.find((m) => m.name === leaderName);
    if (role === 'leader' || role === 'primary' || role === 'master' || role === 'standby-leader') {
        if (leader === undefined)
            return [];
        if (role === 'leader')
            return [leader];
        const isStandbyLeader = leader.role === 'standby_leader';
        return (role === 'standby-leader') === isStandbyLeader ? [leader] : [];
    }
    return view.members.filter((m) => role === 'any' || m.name !== leaderName);
}
/** The role --role/--member ask for (checked before anything is read: bad input changes nothing). */
export function memberChoiceRole(options) {
    if (options.role !== undefined && options.member !== undefined)
        throw new KeelError('cli.bad_arguments', '--role and --member are mutually exclusive options', { exitCode: 2 });
    return options.member !== undefined ? 'any' : parseRole(options.role ?? 'leader');
}
/** The member a verb with --role/--member talks to (patronictl's dsn/query selection rules). */
export function pickMember(view, options) {
    const role = memberChoiceRole(options);
    const member = membersWithRole(view, role).find((m) => options.member === undefined || m.name === options.member);
    if (member === undefined) {
        throw new KeelError('cli.no_member', options.member !== undefined ? `no member named "${options.member}" in the cluster` : `Can not find a suitable member (role ${role})`);
    }
    return member;
}
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Prints `text` on stdout with exactly one final newline. */
export function printOut(text) {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}
/** patronictl takes the cluster name as an argument; keel's is the scope of the file, so another name is a mistake. */
export function checkClusterName(config, cluster) {
    if (cluster !== undefined && cluster !== config.scope)
        throw new KeelError('cli.wrong_cluster', `cluster "${cluster}" is not the one the configuration file names ("${config.scope}")`, { exitCode: 2 });
}
//# sourceMappingURL=cluster-session.js.map