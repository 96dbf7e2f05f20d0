import { parseConnUrl } from '../conn-url.js';
export function makeCtx(obs, view) {
    const self = obs.self.name;
    const keyNamesUs = view.leader !== null && view.leader.name === self;
    const hasLock = keyNamesUs && view.leader !== null && (view.leader.leaseId === null || view.leader.leaseId === obs.lease.leaseId);
    const pg = obs.postgres;
    return {
        obs,
        view,
        self,
        keyNamesUs,
        hasLock,
        isPrimary: pg.running && !pg.starting && pg.role === 'primary',
        leaderName: view.leader === null ? failsafeLeaderName(obs) : view.leader.name,
    };
}
/**
 * failsafe_mode: a leader that reached us through POST /failsafe less than ttl ago still counts
 * as the leader when the key is gone (Patroni injects it into the cluster view): it keeps
 * acknowledging commits because we accepted, so we follow it and never race against it.
 */
export function failsafeLeaderName(obs) {
    const heard = obs.failsafeLeader;
    if (!obs.config.failsafeMode || heard === null || heard.name === obs.self.name)
        return null;
    return obs.nowMs - heard.heardAtMs < obs.config.ttlMs ? heard.name : null;
}
export function plan(why, ...actions) {
    return { actions, why };
}
/**
 * The fence margin: the lease guard fences at (keepalive send time) + ttl - margin. The margin is
 * retry_timeout (capped at ttl/2) because that is how long one keepalive attempt may take: with
 * loop_wait + 2*retry_timeout <= ttl, the guard fires only after the NEXT cycle's keepalive attempt
 * has had its full retry_timeout, and still leaves retry_timeout for the fence (a reload) to act
 * before the key can expire in etcd.
 */
export function fenceMarginMs(obs) {
    return Math.max(1, Math.min(obs.config.retryTimeoutMs, Math.floor(obs.config.ttlMs / 2)));
}
export function leaseGuardOffsetMs(obs) {
    return obs.config.ttlMs - fenceMarginMs(obs);
}
/**
 * The send time our right to acknowledge commits counts from: the newest confirmed keepalive, or
 * the newest round of POST /failsafe every member accepted, whichever is later; null when neither.
 */
export function authoritySentMs(obs) {
    const { lastConfirmedSentMs: lease, failsafeConfirmedSentMs: failsafe } = obs.lease;
    if (lease === null)
        return failsafe;
    return failsafe === null ? lease : Math.max(lease, failsafe);
}
/** The guard instant has passed (or the authority send time is unknown): fence before anything else. */
export function pastFencePoint(obs) {
    const sent = authoritySentMs(obs);
    if (sent === null)
        return true;
    return obs.nowMs >= sent + leaseGuardOffsetMs(obs);
}
export function member(view, name) {
    return view.members.find((m) => m.name === name);
}
/**
 * Where `name`'s PostgreSQL is: its member key's conn_url, or — for a leader heard through POST
 * /failsafe whose key has expired — the conn_url it posted. Null when unknown.
 */
export function addressOf(ctx, name) {
    const published = member(ctx.view, name)?.connUrl ?? null;
    const heard = ctx.obs.failsafeLeader;
    const connUrl = published ?? (heard !== null && heard.name === name ? heard.connUrl : null);
    const parsed = parseConnUrl(connUrl);
    return parsed === null ? null : { name, host: parsed.host, port: parsed.port };
}
/**
 * Whom PostgreSQL should stream from: the member named by our replicatefrom tag when it has a key,
 * else the leader; never ourselves (Patroni's _get_node_to_follow). `address` is null while that
 * member's conn_url is unknown.
 */
export function nodeToFollow(ctx) {
    const from = ctx.obs.self.tags.replicatefrom;
    const name = from !== undefined && from !== ctx.self && member(ctx.view, from) !== undefined
        ? from
        : ctx.leaderName !== null && ctx.leaderName !== ctx.self
            ? ctx.leaderName
            : null;
    return name === null ? null : { name, address: addressOf(ctx, name) };
}
/** The address to follow, when known (for actions that start or rewind PostgreSQL). */
export function followAddress(ctx) {
    return nodeToFollow(ctx)?.address ?? null;
}
/** Patroni's cluster.timeline: last history line's timeline + 1, or 1 with an empty history, 0 without. */
export function clusterTimeline(view) {
    if (view.history === null)
        return 0;
    const lines = view.history.value;
    const last = lines[lines.length - 1];
    return last === undefined ? 1 : last.timeline + 1;
}
export function isValidSysid(value) {
    return value !== null && value.length >= 10 && /^[0-9]+$/.test(value);
}
/** Tag rules: nofailover, or failover_priority 0, keeps a node out of every leader race. */
export function mayPromote(nofailover, failoverPriority) {
    return !nofailover && failoverPriority !== 0;
}
//# sourceMappingURL=context.js.map