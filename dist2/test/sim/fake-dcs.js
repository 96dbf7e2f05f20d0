export class FakeDcs {
    revision = 1;
    initialize = null;
    config = null;
    leader = null;
    members = new Map();
    failover = null;
    sync = null;
    history = null;
    status = null;
    failsafe = null;
    /** While etcd has no leader, every request fails (until this instant). */
    noLeaderUntilMs = 0;
    leases = new Map();
    nextLeaseId = 1000;
    watchers = new Set();
    watch(onChange) {
        this.watchers.add(onChange);
        return () => this.watchers.delete(onChange);
    }
    changed(keys, created = []) {
        this.revision++;
        for (const watcher of this.watchers)
            watcher({ keys, created });
    }
    available(nowMs) {
        return nowMs >= this.noLeaderUntilMs;
    }
    /** An etcd leader election: unavailable for `ms`, then every live lease gets a full TTL again. */
    leaderChange(nowMs, ms) {
        this.expire(nowMs);
        this.noLeaderUntilMs = nowMs + ms;
        for (const lease of this.leases.values())
            lease.expiresAtMs = Math.max(lease.expiresAtMs, nowMs + ms + lease.ttlMs);
    }
    expire(nowMs) {
        for (const lease of [...this.leases.values()]) {
            if (lease.expiresAtMs <= nowMs)
                this.dropLease(lease.id);
        }
    }
    dropLease(id) {
        this.leases.delete(id);
        if (this.leader !== null && this.leader.leaseId === id) {
            this.leader = null;
            this.changed(['leader']);
        }
        for (const [name, m] of this.members) {
            if (m.leaseId === id) {
                this.members.delete(name);
                this.changed([`members/${name}`]);
            }
        }
    }
    leaseAlive(id, nowMs) {
        if (id === null)
            return false;
        const lease = this.leases.get(id);
        return lease !== undefined && lease.expiresAtMs > nowMs;
    }
    grant(owner, ttlMs, nowMs) {
        const id = String(this.nextLeaseId++);
        this.leases.set(id, { id, owner, ttlMs, expiresAtMs: nowMs + ttlMs });
        return id;
    }
    /** false when the lease is gone (etcd answers TTL 0). */
    keepalive(id, nowMs) {
        this.expire(nowMs);
        const lease = this.leases.get(id);
        if (lease === undefined)
            return false;
        lease.expiresAtMs = nowMs + lease.ttlMs;
        return true;
    }
    revoke(id, nowMs) {
        this.expire(nowMs);
        if (this.leases.has(id))
            this.dropLease(id);
    }
    /**
     * A snapshot. The store never mutates a value it handed out (every write replaces the object),
     * so the snapshot shares them instead of copying: reads are the simulator's hottest path.
     */
    load(nowMs) {
        this.expire(nowMs);
        return {
            revision: this.revision,
            initialize: this.initialize,
            config: this.config,
            leader: this.leader,
            members: [...this.members.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
            failover: this.failover,
            sync: this.sync,
            history: this.history,
            status: this.status,
            failsafe: this.failsafe,
        };
    }
    putMember(member, nowMs) {
        this.expire(nowMs);
        if (!this.leaseAlive(member.leaseId, nowMs))
            return false;
        const isNew = !this.members.has(member.name);
        this.members.set(member.name, { ...member, modRevision: this.revision + 1 });
        this.changed([`members/${member.name}`], isNew ? [`members/${member.name}`] : []);
        return true;
    }
    deleteMember(name) {
        if (this.members.delete(name))
            this.changed([`members/${name}`]);
    }
    setInitialize(value, create) {
        if (create && this.initialize !== null)
            return false;
        this.initialize = value;
        this.changed(['initialize']);
        return true;
    }
    cancelInitialization() {
        this.initialize = null;
        this.changed(['initialize']);
    }
    acquireLeader(name, leaseId, nowMs) {
        this.expire(nowMs);
        if (this.leader !== null || !this.leaseAlive(leaseId, nowMs))
            return false;
        this.leader = { name, leaseId, modRevision: this.revision + 1 };
        this.changed(['leader'], ['leader']);
        return true;
    }
    /** Patroni's update_lock after a keepalive: the key still holds our name and our lease. */
    holdsLeader(name, leaseId, nowMs) {
        this.expire(nowMs);
        return this.leader !== null && this.leader.name === name && this.leader.leaseId === leaseId;
    }
    deleteLeader(name, nowMs) {
        this.expire(nowMs);
        if (this.leader === null || this.leader.name !== name)
            return false;
        this.leader = null;
        this.changed(['leader']);
        return true;
    }
    /** Compare-and-swap on mod_revision (null: create-only); returns whether it was written. */
    cas(key, value, modRevision) {
        const current = this[key];
        if (modRevision === null ? current !== null : current === null || current.modRevision !== modRevision)
            return false;
        this[key] = value === null ? null : { value, modRevision: this.revision + 1 };
        this.changed([key]);
        return true;
    }
    setHistory(entries) {
        this.history = { value: entries, modRevision: this.revision + 1 };
        this.changed(['history']);
    }
    setStatus(status) {
        this.status = status;
        this.changed(['status']);
    }
    setFailsafe(members) {
        this.failsafe = members;
        this.changed(['failsafe']);
    }
}
//# sourceMappingURL=fake-dcs.js.map