export const PEER_TIMEOUT_MS = 2000;
function asNumber(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
/** replication_state: top level in Patroni >= 3.1, under `keel` in keel's 3.0.2-shaped body; null when absent. */
function streamingOf(body) {
    const keel = body['keel'];
    const state = body['replication_state'] ?? (keel !== null && typeof keel === 'object' ? keel['replication_state'] : undefined);
    return typeof state === 'string' ? state === 'streaming' : null;
}
/** Interprets a GET /patroni body (pure). */
export function peerFromStatusJson(member, body) {
    const role = body['role'] === 'master' || body['role'] === 'primary' ? 'primary' : body['role'] === 'replica' ? 'replica' : null;
    const xlog = (body['xlog'] ?? {});
    const wal = role === 'primary' ? asNumber(xlog['location']) : Math.max(asNumber(xlog['received_location']) ?? -1, asNumber(xlog['replayed_location']) ?? -1);
    const tags = (body['tags'] ?? member.tags ?? {});
    const priority = asNumber(tags['failover_priority']);
    return {
        name: member.name,
        reachable: true,
        running: body['state'] === 'running',
        role,
        walPositionBytes: wal === null || wal < 0 ? null : wal,
        timeline: asNumber(body['timeline']),
        nofailover: tags['nofailover'] === true,
        failoverPriority: priority ?? undefined,
        watchdogFailed: body['watchdog_failed'] === true,
        streaming: streamingOf(body),
    };
}
function unreachable(member) {
    return {
        name: member.name,
        reachable: false,
        running: false,
        role: null,
        walPositionBytes: null,
        timeline: null,
        nofailover: false,
        failoverPriority: undefined,
        watchdogFailed: false,
        streaming: null,
    };
}
async function peerStatus(client, member) {
    if (member.apiUrl === null)
        return unreachable(member);
    const body = await client.status(member.apiUrl, PEER_TIMEOUT_MS);
    return body === null ? unreachable(member) : peerFromStatusJson(member, body);
}
export async function fetchPeers(client, members, self) {
    return Promise.all(members.filter((m) => m.name !== self).map((m) => peerStatus(client, m)));
}
//# sourceMappingURL=peers.js.map