/**
 * What the member-operation verbs (restart, reinit, reload, flush) share, as patronictl does it
 * (ctl.py get_members, confirm_members_action, check_response): which members a command line
 * names, the topology printed before acting, the confirmation on a terminal, and the
 * "Success:/Failed:" lines. Every check on the input happens before the first request, so bad
 * input changes nothing.
 */
import { createInterface } from 'node:readline/promises';
import { loadConfigFile } from '../config/load.js';
import { KeelError } from '../errors.js';
import { renderList } from '../patroni/list-render.js';
import { configFileOf, readCluster } from './list-command.js';
import { MemberApi } from './member-api.js';
/** patronictl's role choices, folded: leader/primary/master/standby-leader, replica/standby, any. */
export function parseRole(value) {
    const role = value.toLowerCase();
    if (['leader', 'primary', 'master', 'standby-leader'].includes(role))
        return 'leader';
    if (['replica', 'standby'].includes(role))
        return 'replica';
    if (role === 'any')
        return 'any';
    throw new KeelError('cli.bad_role', `--role must be leader, primary, replica or any, got "${value}"`, { exitCode: 2 });
}
export async function loadOpsContext(program) {
    const config = loadConfigFile(configFileOf(program), process.env);
    const view = await readCluster(config);
    return { config, view, api: MemberApi.fromConfig(config) };
}
/**
 * Splits `[CLUSTER] [MEMBER...]`: the first word is the cluster when it is the configured scope
 * (patronictl requires it; keel lets it be left out). Any other cluster name is refused.
 */
export function splitClusterAndMembers(words, scope, view) {
    const [first, ...rest] = words;
    if (first === undefined)
        return [];
    if (first === scope)
        return rest;
    if (view.members.some((m) => m.name === first))
        return words;
    throw new KeelError('cli.unknown_cluster', `"${first}" is neither the cluster of the configuration (${scope}) nor one of its members`, { exitCode: 2 });
}
/** Members with the role, leader first then by name (patronictl's get_all_members). */
function membersWithRole(view, role) {
    const leader = view.leader?.name ?? null;
    return view.members
        .filter((m) => role === 'any' || (role === 'leader') === (m.name === leader))
        .sort((x, y) => (x.name === leader ? -1 : y.name === leader ? 1 : x.name.localeCompare(y.name)));
}
/**
 * patronictl's get_members: the named members, which must exist and have the role; with no names,
 * every member with the role (except for reinitialize, which needs names).
 */
export function selectMembers(view, scope, names, role, action) {
    const candidates = membersWithRole(view, role);
    if (names.length === 0) {
        if (candidates.length === 0)
            throw new KeelError('cli.no_members', `${scope} cluster doesn't have any members`);
        if (action === 'reinitialize')
            throw new KeelError('cli.no_member_named', 'name the member(s) to reinitialize', { exitCode: 2 });
        return candidates;
    }
    for (const name of names) {
        if (!view.members.some((m) => m.name === name))
            throw new KeelError('cli.unknown_member', `${name} is not a member of cluster`, { exitCode: 2 });
        if (!candidates.some((m) => m.name === name))
            throw new KeelError('cli.role_mismatch', `No ${role} among provided members`, { exitCode: 2 });
    }
    return candidates.filter((m) => names.includes(m.name));
}
/** The cluster table patronictl prints before acting. */
export function printTopology(ctx) {
    const table = renderList(ctx.view, 'pretty', { scope: ctx.config.scope });
    process.stdout.write(table.endsWith('\n') ? table : `${table}\n`);
}
/**
 * patronictl's confirmation. Without --force it asks on a terminal; with no terminal to ask on
 * it refuses (a script must say --force), so nothing happens by accident.
 */
export async function confirm(question, force) {
    if (force)
        return;
    if (process.stdin.isTTY !== true) {
        throw new KeelError('cli.needs_confirmation', `${question} needs a confirmation and there is no terminal to ask on`, { hint: 'pass --force', exitCode: 2 });
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
        const answer = (await rl.question(`${question} [y/N]: `)).trim().toLowerCase();
        if (answer !== 'y' && answer !== 'yes')
            throw new KeelError('cli.aborted', 'Aborted!');
    }
    finally {
        rl.close();
    }
}
/** The api_url of a member, or a one-line error. */
export function apiUrlOf(member) {
    if (member.apiUrl === null)
        throw new KeelError('cli.no_api_url', `member ${member.name} publishes no api_url`);
    return member.apiUrl;
}
/** patronictl's check_response; false (and the exit code set to 1) on a failure. */
export function checkResponse(answer, member, action, silentSuccess = false) {
    if (answer.status >= 400) {
        failed(`Failed: ${action} for member ${member}, status code=${answer.status}, (${answer.text})`);
        return false;
    }
    if (!silentSuccess)
        process.stdout.write(`Success: ${action} for member ${member}\n`);
    return true;
}
/** Prints a "Failed: ..." line; the command then exits 1 (patronictl exits 0, which scripts cannot see). */
export function failed(line) {
    process.stdout.write(`${line}\n`);
    process.exitCode = 1;
}
//# sourceMappingURL=member-ops.js.map