import { pythonIsoformat } from './iso-datetime.js';
import { asJsonValue, compareCodePoints, isPlainObject, parseBool, pyInt, pyTruthy, pyUrlHostPort } from './python-compat.js';
const OPTIONAL_ATTRIBUTES = ['timeline', 'pending_restart', 'scheduled_restart', 'tags'];
/** Whether maintenance mode is on: the config key's `pause`, parsed like Patroni's parse_bool. */
export function isPaused(view) {
    return view.config !== null && parseBool(view.config.value['pause']) === true;
}
function isStandbyClusterConfig(value) {
    return isPlainObject(value) && (pyTruthy(value['host']) || pyTruthy(value['port']) || pyTruthy(value['restore_command']));
}
function syncStandbyNames(view) {
    const names = (view.sync?.value.syncStandbys ?? []).map((name) => name.trim()).filter((name) => name !== '');
    return new Set(names);
}
function roleOf(member, view, syncNames) {
    if (member.name === view.leader?.name) {
        // Patroni ignores a config key it could not parse (modify_index 0).
        const config = view.config !== null && view.config.modRevision !== 0 ? view.config.value : {};
        return isStandbyClusterConfig(config['standby_cluster']) ? 'standby_leader' : 'leader';
    }
    return syncNames.has(member.name) ? 'sync_standby' : 'replica';
}
/** Patroni's Member.conn_kwargs(): host and port, from conn_kwargs or else from conn_url. */
function endpointOf(member) {
    const connKwargs = member.data['conn_kwargs'];
    if (isPlainObject(connKwargs) && pyTruthy(connKwargs)) {
        if (!pyTruthy(connKwargs['host']))
            return {};
        const port = pyTruthy(connKwargs['port']) ? pyInt(connKwargs['port']) : undefined;
        return port === undefined ? { host: asJsonValue(connKwargs['host']) } : { host: asJsonValue(connKwargs['host']), port };
    }
    const published = member.data['conn_url'];
    const connUrl = typeof published === 'string' && published !== '' ? published : member.connUrl;
    if (connUrl === null || connUrl === '')
        return {};
    const { hostname, port } = pyUrlHostPort(connUrl);
    if (hostname === null)
        return {};
    // Python: `r.port or 5432` (a port of 0 or none means 5432).
    return { host: hostname, port: port === undefined || port === null || port === 0 ? 5432 : port };
}
function lagOf(member, clusterLsn) {
    const published = member.data['xlog_location'];
    const lsn = typeof published === 'number' ? published : member.xlogLocation;
    if (lsn === null || lsn === undefined)
        return 'unknown';
    return clusterLsn >= lsn ? clusterLsn - lsn : 0;
}
/**
 * Patroni >= 3.1: a non-leader shows its replication_state ('streaming') when it publishes one,
 * else its state; so a streaming replica reads 'streaming' and one that receives nothing 'running'.
 */
function memberStateJson(member, view) {
    const data = member.data;
    const replicationState = member.name === view.leader?.name ? undefined : data['replication_state'];
    if (typeof replicationState === 'string' && replicationState !== '')
        return replicationState;
    return 'state' in data ? asJsonValue(data['state']) : '';
}
function memberJson(member, view, syncNames, clusterLsn) {
    const data = member.data;
    const entry = {
        name: member.name,
        role: roleOf(member, view, syncNames),
        state: memberStateJson(member, view),
        api_url: 'api_url' in data ? asJsonValue(data['api_url']) : member.apiUrl,
    };
    const { host, port } = endpointOf(member);
    if (host !== undefined) {
        entry.host = host;
        if (port !== undefined)
            entry.port = port;
    }
    for (const attribute of OPTIONAL_ATTRIBUTES) {
        if (attribute in data)
            entry[attribute] = asJsonValue(data[attribute]);
    }
    if (member.name !== view.leader?.name)
        entry.lag = lagOf(member, clusterLsn);
    return entry;
}
function scheduledSwitchover(view) {
    const failover = view.failover?.value;
    if (failover === undefined || failover.scheduledAt === undefined || failover.scheduledAt === '')
        return undefined;
    const result = { at: pythonIsoformat(failover.scheduledAt) };
    if (failover.leader !== undefined && failover.leader !== '')
        result.from = failover.leader;
    if (failover.candidate !== undefined && failover.candidate !== '')
        result.to = failover.candidate;
    return result;
}
/**
 * GET /cluster as Patroni 3.0.2 answers it. `options.paused` overrides the config key's `pause`
 * (e.g. when the caller already knows the dynamic config); by default it is read from view.config.
 */
export function clusterAsJson(view, options = {}) {
    const syncNames = syncStandbyNames(view);
    const clusterLsn = Math.trunc(view.status?.optime ?? 0);
    const members = view.members.map((member) => memberJson(member, view, syncNames, clusterLsn)).sort((a, b) => compareCodePoints(a.name, b.name));
    const result = { members };
    if (options.paused ?? isPaused(view))
        result.pause = true;
    const switchover = scheduledSwitchover(view);
    if (switchover !== undefined)
        result.scheduled_switchover = switchover;
    return result;
}
/** GET /history as Patroni 3.0.2 answers it: the history key's lines, [] when there is none. */
export function historyAsJson(view) {
    return (view.history?.value ?? []).map((entry) => {
        const line = [entry.timeline, entry.lsn, entry.reason];
        if (entry.newLeader !== undefined)
            line.push(entry.timestamp ?? null, entry.newLeader);
        else if (entry.timestamp !== undefined)
            line.push(entry.timestamp);
        return line;
    });
}
//# sourceMappingURL=cluster-json.js.map