import { clusterAsJson } from './cluster-json.js';
import { renderPatronictlTable } from './patronictl-table.js';
import { pyJsonDumps, pyRound, pyStr, pyTitle, pyTruthy, isPlainObject } from './python-compat.js';
import { pyYamlDump } from './pyyaml.js';
/**
 * patronictl's topology_sort + generate_topology: the leader first, then each member under the
 * member it replicates from (tag `replicatefrom` naming another replica; else the leader), its name
 * prefixed with "+ " and indented two spaces per extra level.
 */
export function topologyOrder(members) {
    const isLeader = (member) => member.role.endsWith('leader');
    const leader = members.find(isLeader);
    const replicas = new Set(members.filter((m) => !isLeader(m)).map((m) => m.name));
    const children = new Map();
    for (const member of members) {
        if (isLeader(member))
            continue;
        const tag = isPlainObject(member.tags) ? member.tags['replicatefrom'] : undefined;
        const parent = typeof tag === 'string' && tag !== '' && tag !== member.name && replicas.has(tag) ? tag : (leader?.name ?? null);
        children.set(parent, [...(children.get(parent) ?? []), member]);
    }
    const out = [];
    // A replicatefrom loop (a -> b -> a) never reaches the leader: patronictl drops those members too.
    const walk = (name, level, seen) => {
        for (const member of children.get(name) ?? []) {
            if (seen.has(member.name))
                continue;
            out.push({ ...member, name: `${' '.repeat((level - 1) * 2)}+ ${member.name}` });
            walk(member.name, level + 1, new Set([...seen, member.name]));
        }
    };
    if (leader !== undefined)
        out.push(leader);
    walk(leader?.name ?? null, 1, new Set([leader?.name ?? null]));
    return out;
}
/** What Patroni >= 3.2 shows for the `initialize` key in the title. */
function initializeLabel(initialize) {
    if (initialize === null)
        return 'uninitialized';
    return initialize === '' ? 'initializing' : initialize;
}
const BASE_COLUMNS = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
const EXTRA_COLUMNS = [
    { title: 'Pending restart', key: 'pending_restart' },
    { title: 'Scheduled restart', key: 'scheduled_restart' },
    { title: 'Tags', key: 'tags' },
];
const MIB = 1024 * 1024;
function columnsFor(members, extended) {
    const withHost = members.filter((member) => member.host !== undefined);
    const extras = EXTRA_COLUMNS.filter(({ key }) => extended || withHost.some((member) => pyTruthy(member[key])));
    return [...BASE_COLUMNS, ...extras.map(({ title }) => title)];
}
/** Whether patronictl shows host:port: a member off port 5432, or two members on one host. */
function showsPorts(members) {
    const withHost = members.filter((member) => member.host !== undefined);
    const offDefaultPort = withHost.some((member) => member.port !== undefined && member.port !== 5432);
    const hosts = new Set(withHost.map((member) => pyStr(member.host)));
    return offDefaultPort || hosts.size < withHost.length;
}
function scheduledRestartText(value) {
    if (value === undefined)
        return '';
    if (!isPlainObject(value))
        return value;
    let text = pyStr(value['schedule']);
    if ('postgres_version' in value)
        text += ` if version < ${pyStr(value['postgres_version'])}`;
    return text;
}
function cellsOf(member, scope, showPorts) {
    const lag = member.lag ?? '';
    let host = member.host ?? '';
    if (showPorts && pyTruthy(host) && pyTruthy(member.port))
        host = `${pyStr(host)}:${member.port}`;
    return {
        Cluster: scope,
        Member: member.name,
        Host: host,
        Role: pyTitle(member.role.replace(/_/g, ' ')),
        State: member.state,
        TL: member.timeline === undefined ? '' : member.timeline,
        'Lag in MB': typeof lag === 'number' && Number.isInteger(lag) ? pyRound(lag / MIB) : lag,
        'Pending restart': pyTruthy(member.pending_restart) ? '*' : '',
        'Scheduled restart': scheduledRestartText(member.scheduled_restart),
        Tags: member.tags === undefined ? '' : member.tags,
    };
}
function serviceInfo(cluster) {
    const info = [];
    if (cluster.pause === true)
        info.push('Maintenance mode: on');
    const switchover = cluster.scheduled_switchover;
    if (switchover !== undefined) {
        let text = `Switchover scheduled at: ${switchover.at}`;
        if (switchover.from !== undefined)
            text += `\n${'from'.padStart(24)}: ${switchover.from}`;
        if (switchover.to !== undefined)
            text += `\n${'to'.padStart(24)}: ${switchover.to}`;
        info.push(text);
    }
    return info;
}
function renderStructured(columns, rows, format) {
    const elements = rows.map((row) => {
        const element = {};
        columns.forEach((column, index) => {
            const value = index < row.length ? row[index] : '';
            if (pyStr(value) !== '')
                element[column] = value;
        });
        return element;
    });
    return format === 'json' ? pyJsonDumps(elements) + '\n' : pyYamlDump(elements) + '\n';
}
/** Tags as patronictl formats them for a table cell: YAML, block style for pretty, flow style for tsv. */
function tagsCell(value, flowStyle) {
    return pyTruthy(value) ? pyYamlDump(value, { flowStyle }).trim() : value;
}
/** patronictl 3.0.2 `list` output for this cluster snapshot. */
export function renderList(view, format = 'pretty', options) {
    const cluster = clusterAsJson(view, options.paused === undefined ? {} : { paused: options.paused });
    if (options.topology === true)
        cluster.members = topologyOrder(cluster.members);
    const columns = columnsFor(cluster.members, options.extended === true);
    const showPorts = showsPorts(cluster.members);
    const rows = cluster.members.map((member) => {
        const cells = cellsOf(member, options.scope, showPorts);
        return columns.map((column) => (column in cells ? cells[column] : ''));
    });
    if (format === 'json' || format === 'yaml')
        return renderStructured(columns, rows, format);
    const tagsIndex = columns.indexOf('Tags');
    const text = rows.map((row) => row.map((cell, index) => pyStr(index === tagsIndex ? tagsCell(cell, format === 'tsv') : cell)));
    if (format === 'tsv')
        return [columns, ...text].map((line) => line.join('\t') + '\n').join('');
    const title = options.systemIdInTitle === false ? ` Cluster: ${options.scope} ` : ` Cluster: ${options.scope} (${initializeLabel(view.initialize)}) `;
    const table = renderPatronictlTable(title, columns.slice(1), text.map((row) => row.slice(1)), { TL: 'r', 'Lag in MB': 'r' });
    const info = serviceInfo(cluster);
    return table + '\n' + (info.length > 0 ? ' ' + info.join('\n ') + '\n' : '');
}
//# sourceMappingURL=list-render.js.map