/**
 * What the REST API knows about this node: the `NodeStatus` snapshot the agent hands the server
 * (rebuilt every HA cycle and whenever a request asks), and the JSON Patroni 3.0.2 answers on
 * GET /patroni and on the GET health endpoints, built from it.
 *
 * Invariants:
 *  - everything here is pure: no clock, no I/O. Time-dependent facts (whether we still hold the
 *    leader lock, whether the DCS snapshot is younger than ttl) are decided by the agent when it
 *    builds the snapshot;
 *  - the JSON has Patroni 3.0.2's keys, in Patroni's order, omitted exactly when Patroni omits
 *    them (see reported.ts for the PostgreSQL part), so `pyJsonDumps` of it is byte-identical to
 *    Patroni's body. keel's own additions live under the single key `keel`, which Patroni's
 *    readers (patronictl, Patroni's is_healthiest_node) ignore.
 */
import { pythonIsoformat } from '../patroni/iso-datetime.js';
import { reportedPostgres } from './reported.js';
import { effectiveTags } from './tags.js';
export { healthResponse, HEALTH_PATHS } from './health.js';
export { publishedTags, effectiveTags } from './tags.js';
export { patroniRoleName } from './reported.js';
/** Python's str() of a timezone-aware datetime, as Patroni's json.dumps(default=str) prints it. */
export function pythonDatetimeStr(text) {
    return pythonIsoformat(text).replace('T', ' ');
}
function postgresJson(reported) {
    const json = { state: reported.state };
    const query = reported.query;
    if (query !== null) {
        json['postmaster_start_time'] = pythonDatetimeStr(query.postmasterStartTime);
        json['role'] = reported.role;
        json['server_version'] = query.serverVersion;
        const xlog = query.xlog;
        json['xlog'] =
            xlog.kind === 'primary'
                ? { location: xlog.location }
                : {
                    received_location: xlog.receivedLocation === null || xlog.receivedLocation === 0 ? xlog.replayedLocation : xlog.receivedLocation,
                    replayed_location: xlog.replayedLocation,
                    replayed_timestamp: xlog.replayedTimestamp === null ? null : pythonDatetimeStr(xlog.replayedTimestamp),
                    paused: xlog.paused,
                };
        if (reported.syncStandby)
            json['sync_standby'] = true;
        json['timeline'] = query.timeline;
        if (query.replication.length > 0)
            json['replication'] = query.replication.map(replicationJson);
    }
    else {
        json['role'] = reported.role;
    }
    if (reported.clusterUnlocked)
        json['cluster_unlocked'] = true;
    if (reported.failsafeActive)
        json['failsafe_mode_is_active'] = true;
    json['dcs_last_seen'] = reported.dcsLastSeenS;
    return json;
}
function replicationJson(row) {
    return {
        usename: row.usename,
        application_name: row.application_name,
        client_addr: row.client_addr,
        state: row.state,
        sync_state: row.sync_state,
        sync_priority: row.sync_priority,
    };
}
function scheduledRestartJson(restart) {
    const json = {};
    for (const [key, value] of Object.entries(restart)) {
        if (key === 'postmaster_start_time')
            continue;
        json[key] = key === 'schedule' && typeof value === 'string' ? pythonIsoformat(value) : value;
    }
    return json;
}
/**
 * The body of GET /patroni (and of GET on every health endpoint), shaped as Patroni 3.0.2's
 * get_postgresql_status() + _write_status_response(), plus `keel: {name, last_why}`.
 */
export function patroniStatusJson(status) {
    const reported = reportedPostgres(status);
    const json = postgresJson(reported);
    const tags = effectiveTags(status);
    if (Object.keys(tags).length > 0)
        json['tags'] = tags;
    if (status.systemIdentifier !== null && status.systemIdentifier !== '')
        json['database_system_identifier'] = status.systemIdentifier;
    if (status.pendingRestart)
        json['pending_restart'] = true;
    // `name` is what Patroni >= 3.1 adds here (3.0.2 has only version and scope); readers ignore extras.
    json['patroni'] = { version: status.patroni.version, scope: status.patroni.scope, name: status.patroni.name };
    if (status.scheduledRestart !== null)
        json['scheduled_restart'] = scheduledRestartJson(status.scheduledRestart);
    if (status.watchdogFailed)
        json['watchdog_failed'] = true;
    if (status.paused)
        json['pause'] = true;
    // Patroni >= 3.1's replication_state, kept under `keel` so the body stays byte-identical to
    // 3.0.2's: a leader checks its switchover candidate streams (src/ha/peers.ts reads both).
    const keel = { name: status.patroni.name, last_why: status.lastWhy };
    if (reported.query !== null && reported.role === 'replica')
        keel['replication_state'] = status.replicaStreaming ? 'streaming' : 'in archive recovery';
    json['keel'] = keel;
    return json;
}
//# sourceMappingURL=status.js.map