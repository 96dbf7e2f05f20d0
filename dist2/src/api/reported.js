const QUERIED_STATES = new Set(['running', 'restarting', 'starting']);
/** Patroni 3.0.2's spelling of a role in the REST API and member keys ('master' for primary). */
export function patroniRoleName(role) {
    return role === 'primary' ? 'master' : role;
}
export function reportedPostgres(status) {
    const cluster = status.cluster;
    const common = {
        clusterUnlocked: cluster === null || cluster.leaderName === null,
        failsafeActive: status.failsafeActive,
        dcsLastSeenS: status.dcsLastSeenS,
    };
    const query = QUERIED_STATES.has(status.state) ? status.postgres : null;
    if (query === null) {
        const state = status.state === 'running' ? 'unknown' : status.state;
        return { state, role: patroniRoleName(status.role), query: null, syncStandby: false, ...common };
    }
    let role = query.xlog.kind === 'primary' ? 'master' : 'replica';
    if (role === 'replica' && status.standbyCluster)
        role = patroniRoleName(status.role);
    const syncStandby = role === 'replica' && cluster !== null && cluster.synchronousMode && cluster.syncStandbys.includes(status.patroni.name);
    return { state: status.state, role, query, syncStandby, ...common };
}
//# sourceMappingURL=reported.js.map