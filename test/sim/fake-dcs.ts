/**
 * Fake etcd for the simulator: one store for the whole simulated cluster, with leases that expire
 * on the virtual clock, keys attached to leases, revisions, and the operations keel's etcd client
 * performs (create-only puts, compare-and-swap on mod_revision, compare-value deletes), each
 * applied atomically at the instant the request arrives. Expiry is evaluated lazily before every
 * operation. Watchers are told which keys changed (and which were created), like an etcd watch.
 *
 * An etcd leader change (`leaderChange`) is modelled as etcd does it: requests fail while there
 * is no leader, and the new leader extends every lease to a full TTL (etcd's lessor.Promote).
 */
import type { ClusterStatus, ClusterView, FailoverRequest, HistoryEntry, LeaderKey, Member, SyncState, Versioned } from '../../src/dcs/types.js';

interface Lease {
  id: string;
  owner: string;
  ttlMs: number;
  expiresAtMs: number;
}

export type StoreChange = { keys: string[]; created: string[]; deleted: string[] };

export class FakeDcs {
  revision = 1;
  initialize: string | null = null;
  config: Versioned<Record<string, unknown>> | null = null;
  leader: LeaderKey | null = null;
  members = new Map<string, Member>();
  failover: Versioned<FailoverRequest> | null = null;
  sync: Versioned<SyncState> | null = null;
  history: Versioned<HistoryEntry[]> | null = null;
  status: ClusterStatus | null = null;
  failsafe: Record<string, string> | null = null;
  /** While etcd has no leader, every request fails (until this instant). */
  noLeaderUntilMs = 0;
  private leases = new Map<string, Lease>();
  private nextLeaseId = 1000;
  private watchers = new Set<(change: StoreChange) => void>();
  /** The last snapshot handed out, shared until the store changes (copying the view was a quarter of the simulator's CPU). */
  private frozen: ClusterView | null = null;

  watch(onChange: (change: StoreChange) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  private changed(keys: string[], created: string[] = [], deleted: string[] = []): void {
    this.frozen = null;
    this.revision++;
    for (const watcher of this.watchers) watcher({ keys, created, deleted });
  }

  available(nowMs: number): boolean {
    return nowMs >= this.noLeaderUntilMs;
  }

  /** An etcd leader election: unavailable for `ms`, then every live lease gets a full TTL again. */
  leaderChange(nowMs: number, ms: number): void {
    this.expire(nowMs);
    this.noLeaderUntilMs = nowMs + ms;
    for (const lease of this.leases.values()) lease.expiresAtMs = Math.max(lease.expiresAtMs, nowMs + ms + lease.ttlMs);
  }

  expire(nowMs: number): void {
    for (const lease of [...this.leases.values()]) {
      if (lease.expiresAtMs <= nowMs) this.dropLease(lease.id);
    }
  }

  private dropLease(id: string): void {
    this.leases.delete(id);
    if (this.leader !== null && this.leader.leaseId === id) {
      this.leader = null;
      this.changed(['leader'], [], ['leader']);
    }
    for (const [name, m] of this.members) {
      if (m.leaseId === id) {
        this.members.delete(name);
        this.changed([`members/${name}`], [], [`members/${name}`]);
      }
    }
  }

  leaseAlive(id: string | null, nowMs: number): boolean {
    if (id === null) return false;
    const lease = this.leases.get(id);
    return lease !== undefined && lease.expiresAtMs > nowMs;
  }

  grant(owner: string, ttlMs: number, nowMs: number): string {
    const id = String(this.nextLeaseId++);
    this.leases.set(id, { id, owner, ttlMs, expiresAtMs: nowMs + ttlMs });
    return id;
  }

  /** false when the lease is gone (etcd answers TTL 0). */
  keepalive(id: string, nowMs: number): boolean {
    this.expire(nowMs);
    const lease = this.leases.get(id);
    if (lease === undefined) return false;
    lease.expiresAtMs = nowMs + lease.ttlMs;
    return true;
  }

  revoke(id: string, nowMs: number): void {
    this.expire(nowMs);
    if (this.leases.has(id)) this.dropLease(id);
  }

  /**
   * A snapshot. The store never mutates a value it handed out (every write replaces the object),
   * so the snapshot shares them instead of copying: reads are the simulator's hottest path.
   */
  load(nowMs: number): ClusterView {
    this.expire(nowMs);
    return this.view();
  }

  /** The state as it is (leases already expired by the caller). */
  private view(): ClusterView {
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

  /**
   * The state as a deep-frozen snapshot that every reader shares until the next change: what an
   * etcd response carries (a reader gets its own copy of the bytes, and keel never changes a view
   * it read; a write into one would throw here). No copy is needed: the store owns its values
   * (writers hand it copies) and replaces them on every write, never changing one in place.
   */
  snapshot(nowMs: number): ClusterView {
    this.expire(nowMs); // an expired lease drops its keys, which drops the shared snapshot
    this.frozen ??= deepFreeze(this.view());
    return this.frozen;
  }

  /** Writes that are not compare-and-swaps of one key (the lease-move second round trip, unconditional deletes). */
  moveLeaderToLease(name: string, leaseId: string): void {
    this.leader = { name, leaseId, modRevision: this.revision + 1 };
    this.changed(['leader']);
  }

  clear(key: 'failover' | 'sync'): void {
    if (this[key] === null) return; // etcd's delete of an absent key changes nothing, not even the revision
    this[key] = null;
    this.changed([key]);
  }

  putMember(member: Member, nowMs: number): boolean {
    this.expire(nowMs);
    if (!this.leaseAlive(member.leaseId, nowMs)) return false;
    const isNew = !this.members.has(member.name);
    this.members.set(member.name, { ...member, modRevision: this.revision + 1 });
    this.changed([`members/${member.name}`], isNew ? [`members/${member.name}`] : []);
    return true;
  }

  deleteMember(name: string): void {
    if (this.members.delete(name)) this.changed([`members/${name}`], [], [`members/${name}`]);
  }

  setInitialize(value: string, create: boolean): boolean {
    if (create && this.initialize !== null) return false;
    this.initialize = value;
    this.changed(['initialize']);
    return true;
  }

  cancelInitialization(): void {
    this.initialize = null;
    this.changed(['initialize']);
  }

  acquireLeader(name: string, leaseId: string, nowMs: number): boolean {
    this.expire(nowMs);
    if (this.leader !== null || !this.leaseAlive(leaseId, nowMs)) return false;
    this.leader = { name, leaseId, modRevision: this.revision + 1 };
    this.changed(['leader'], ['leader']);
    return true;
  }

  /** Patroni's update_lock after a keepalive: the key still holds our name and our lease. */
  holdsLeader(name: string, leaseId: string | null, nowMs: number): boolean {
    this.expire(nowMs);
    return this.leader !== null && this.leader.name === name && this.leader.leaseId === leaseId;
  }

  deleteLeader(name: string, nowMs: number): boolean {
    this.expire(nowMs);
    if (this.leader === null || this.leader.name !== name) return false;
    this.leader = null;
    this.changed(['leader'], [], ['leader']);
    return true;
  }

  /** Compare-and-swap on mod_revision (null: create-only); returns whether it was written. */
  cas<T>(key: 'config' | 'failover' | 'sync', value: T | null, modRevision: number | null): boolean {
    const current = this[key] as Versioned<unknown> | null;
    if (modRevision === null ? current !== null : current === null || current.modRevision !== modRevision) return false;
    (this as unknown as Record<string, unknown>)[key] = value === null ? null : { value, modRevision: this.revision + 1 };
    this.changed([key]);
    return true;
  }

  setHistory(entries: HistoryEntry[]): void {
    this.history = { value: entries, modRevision: this.revision + 1 };
    this.changed(['history']);
  }

  setStatus(status: ClusterStatus): void {
    this.status = status;
    this.changed(['status']);
  }

  setFailsafe(members: Record<string, string>): void {
    this.failsafe = members;
    this.changed(['failsafe']);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
