/**
 * The Dcs port of one simulated agent process: keel's etcd client semantics (src/dcs/etcd-dcs.ts)
 * over the shared FakeDcs store, with the network in between. Every request travels to etcd
 * (latency, or lost on a cut link), is applied atomically on arrival, and its answer travels back
 * (or is lost on a one-way link). A call that has no answer within retry_timeout fails with
 * DcsUnavailableError at that deadline, as the real client's does.
 */
import { DcsUnavailableError, } from '../../src/dcs/types.js';
const LEASE_GONE = Symbol('lease gone');
export class SimDcsClient {
    w;
    proc;
    store;
    lease = null;
    ttlMs;
    retryTimeoutMs;
    closed = false;
    constructor(w, proc, store, ttlS, retryTimeoutMs) {
        this.w = w;
        this.proc = proc;
        this.store = store;
        this.ttlMs = ttlS * 1000;
        this.retryTimeoutMs = retryTimeoutMs;
    }
    /** One request/response with etcd; `op` runs on the store at the instant the request arrives. */
    request(what, op) {
        const w = this.w;
        const node = this.proc.node;
        const deadlineMs = this.retryTimeoutMs;
        return new Promise((resolve, reject) => {
            const fail = () => reject(new DcsUnavailableError(`no etcd endpoint answered ${what} within ${deadlineMs} ms`));
            const there = w.dcsLatency(node);
            let settled = false;
            w.deliver(this.proc, deadlineMs, () => {
                if (!settled) {
                    settled = true;
                    fail();
                }
            });
            w.at(there, () => {
                if (this.closed || !w.requestReachesDcs(node) || !this.store.available(w.nowMs))
                    return;
                let result;
                try {
                    result = op(w.nowMs);
                }
                catch (error) {
                    w.deliver(this.proc, w.dcsLatency(node), () => {
                        if (settled)
                            return;
                        settled = true;
                        reject(error instanceof Error ? error : new Error(String(error)));
                    });
                    return;
                }
                if (!w.responseReachesNode(node))
                    return;
                const back = w.dcsLatency(node);
                if (there + back >= deadlineMs)
                    return;
                w.deliver(this.proc, back, () => {
                    if (settled)
                        return;
                    settled = true;
                    resolve(result);
                });
            });
        });
    }
    async withLease(what, op) {
        const lease = await this.ensureLease();
        const result = await this.request(what, (nowMs) => op(lease, nowMs));
        if (result !== LEASE_GONE)
            return result;
        this.lease = null;
        const fresh = await this.ensureLease();
        const retried = await this.request(what, (nowMs) => op(fresh, nowMs));
        if (retried === LEASE_GONE)
            throw new DcsUnavailableError(`${what}: lease not found`);
        return retried;
    }
    async ensureLease() {
        if (this.lease !== null)
            return this.lease;
        await this.createLease(Math.round(this.ttlMs / 1000));
        if (this.lease === null)
            throw new DcsUnavailableError('etcd granted no lease');
        return this.lease;
    }
    loadCluster() {
        return this.request('/kv/range', (nowMs) => this.store.load(nowMs));
    }
    async createLease(ttlS) {
        this.ttlMs = ttlS * 1000;
        const owner = this.proc.node.name;
        this.lease = await this.request('/lease/grant', (nowMs) => this.store.grant(owner, ttlS * 1000, nowMs));
    }
    async refreshLease() {
        if (this.lease === null) {
            await this.createLease(Math.round(this.ttlMs / 1000));
            return true;
        }
        const lease = this.lease;
        const alive = await this.request('/lease/keepalive', (nowMs) => this.store.keepalive(lease, nowMs));
        if (!alive && this.lease === lease)
            this.lease = null;
        return alive;
    }
    currentLeaseId() {
        return this.lease;
    }
    async revokeLease() {
        const lease = this.lease;
        if (lease === null)
            return;
        await this.request('/lease/revoke', (nowMs) => this.store.revoke(lease, nowMs));
        this.lease = null;
    }
    async touchMember(data) {
        const name = this.proc.node.name;
        await this.withLease('/kv/put', (leaseId, nowMs) => (this.store.putMember(memberFromData(name, leaseId, data), nowMs) ? true : LEASE_GONE));
    }
    async deleteMember() {
        const name = this.proc.node.name;
        await this.request('/kv/deleterange', () => this.store.deleteMember(name));
    }
    initialize(systemIdentifier, create) {
        return this.request('/kv/txn', () => this.store.setInitialize(systemIdentifier, create));
    }
    async cancelInitialization() {
        await this.request('/kv/deleterange', () => this.store.cancelInitialization());
    }
    attemptToAcquireLeader() {
        const name = this.proc.node.name;
        return this.withLease('/kv/txn', (leaseId, nowMs) => {
            if (!this.store.leaseAlive(leaseId, nowMs))
                return LEASE_GONE;
            return this.store.acquireLeader(name, leaseId, nowMs) || this.store.holdsLeader(name, leaseId, nowMs);
        });
    }
    /** As the real client: held on our lease; or ours on another lease and moved onto it (a second round trip). */
    async updateLeader() {
        const name = this.proc.node.name;
        const held = await this.withLease('/kv/txn', (leaseId, nowMs) => {
            if (this.store.holdsLeader(name, leaseId, nowMs))
                return 'held';
            return this.store.leader?.name === name ? 'otherLease' : 'lost';
        });
        if (held !== 'otherLease')
            return held === 'held';
        const lease = this.lease;
        if (lease === null)
            return false;
        return this.request('/kv/txn', (nowMs) => {
            if (this.store.leader?.name !== name || !this.store.leaseAlive(lease, nowMs))
                return false;
            this.store.leader = { name, leaseId: lease, modRevision: this.store.revision + 1 };
            return true;
        });
    }
    deleteLeader() {
        const name = this.proc.node.name;
        return this.request('/kv/txn', (nowMs) => this.store.deleteLeader(name, nowMs));
    }
    setConfig(value, modRevision) {
        return this.request('/kv/txn', () => this.store.cas('config', structuredClone(value), modRevision));
    }
    setFailover(value, modRevision) {
        return this.request('/kv/txn', () => this.store.cas('failover', structuredClone(value), modRevision));
    }
    deleteFailover(modRevision) {
        return this.request('/kv/txn', () => (modRevision === null ? ((this.store.failover = null), true) : this.store.cas('failover', null, modRevision)));
    }
    setSync(value, modRevision) {
        return this.request('/kv/txn', () => this.store.cas('sync', structuredClone(value), modRevision));
    }
    deleteSync(modRevision) {
        return this.request('/kv/txn', () => (modRevision === null ? ((this.store.sync = null), true) : this.store.cas('sync', null, modRevision)));
    }
    async setHistory(value) {
        await this.request('/kv/put', () => this.store.setHistory(structuredClone(value)));
    }
    async writeStatus(value) {
        await this.request('/kv/put', () => this.store.setStatus(structuredClone(value)));
    }
    async writeFailsafe(value) {
        await this.request('/kv/put', () => this.store.setFailsafe({ ...value }));
    }
    /** Store changes reach the agent over its link; while the link is down they are lost, then a reset is reported. */
    watch(_fromRevision, onEvent, signal) {
        const node = this.proc.node;
        let missed = false;
        const unsubscribe = this.store.watch((change) => {
            if (!this.w.responseReachesNode(node)) {
                missed = true;
                return;
            }
            const reset = missed;
            missed = false;
            const keys = change.keys.map((k) => `/service/sim/${k}`);
            const created = change.created.map((k) => `/service/sim/${k}`);
            this.w.deliver(this.proc, this.w.dcsLatency(node), () => onEvent(reset ? { kind: 'reset' } : { kind: 'changed', keys, created }));
        });
        signal.addEventListener('abort', unsubscribe, { once: true });
    }
    async close() {
        this.closed = true;
    }
    setTimings(ttlS, retryTimeoutMs) {
        this.ttlMs = ttlS * 1000;
        this.retryTimeoutMs = retryTimeoutMs;
    }
}
function memberFromData(name, leaseId, data) {
    return {
        name,
        modRevision: 0,
        leaseId,
        connUrl: data.connUrl,
        apiUrl: data.apiUrl,
        state: data.state,
        role: data.role,
        xlogLocation: data.xlogLocation ?? null,
        receiveLsn: data.receiveLsn ?? null,
        replayLsn: data.replayLsn ?? null,
        replicationState: data.replicationState ?? null,
        timeline: data.timeline ?? null,
        tags: data.tags,
        data: {
            state: data.state,
            role: data.role,
            ...(data.replicationState === undefined ? {} : { replication_state: data.replicationState }),
            ...(data.xlogLocation === undefined ? {} : { xlog_location: data.xlogLocation }),
            ...(data.extra ?? {}),
        },
    };
}
//# sourceMappingURL=sim-dcs.js.map