/**
 * Fake etcd for the simulator: leases with TTL expiry on the virtual clock, keys attached to leases,
 * create-only puts and the operations keel's Dcs performs, applied atomically at the instant a
 * request arrives. Expiry is evaluated lazily (`expire(nowMs)`) before every operation and check.
 * It also records every leader-key holder's lease so the checker can ask "could an old leader's
 * lease still be valid?".
 */
import type { ClusterView, HistoryEntry, LeaderKey, Member } from '../../src/dcs/types.js';

interface Lease {
  id: string;
  owner: string;
  expiresAtMs: number;
}

export class FakeDcs {
  revision = 1;
  initialize: string | null = null;
  config: Record<string, unknown> | null = null;
  leader: LeaderKey | null = null;
  members = new Map<string, Member>();
  history: HistoryEntry[] | null = null;
  statusOptime: number | null = null;
  private leases = new Map<string, Lease>();
  private nextLeaseId = 1000;

  constructor(private readonly ttlMs: number) {}

  expire(nowMs: number): void {
    for (const lease of this.leases.values()) {
      if (lease.expiresAtMs <= nowMs) this.dropLease(lease.id);
    }
  }

  private dropLease(id: string): void {
    this.leases.delete(id);
    if (this.leader !== null && this.leader.leaseId === id) {
      this.leader = null;
      this.revision++;
    }
    for (const [name, m] of this.members) {
      if (m.leaseId === id) {
        this.members.delete(name);
        this.revision++;
      }
    }
  }

  leaseAlive(id: string | null, nowMs: number): boolean {
    if (id === null) return false;
    const lease = this.leases.get(id);
    return lease !== undefined && lease.expiresAtMs > nowMs;
  }

  leaseExpiry(id: string): number | null {
    return this.leases.get(id)?.expiresAtMs ?? null;
  }

  grant(owner: string, nowMs: number): string {
    const id = String(this.nextLeaseId++);
    this.leases.set(id, { id, owner, expiresAtMs: nowMs + this.ttlMs });
    return id;
  }

  /** Keepalive: false when the lease is gone (etcd answers TTL 0). */
  keepalive(id: string | null, nowMs: number): boolean {
    this.expire(nowMs);
    if (id === null) return false;
    const lease = this.leases.get(id);
    if (lease === undefined) return false;
    lease.expiresAtMs = nowMs + this.ttlMs;
    return true;
  }

  load(nowMs: number): ClusterView {
    this.expire(nowMs);
    return {
      revision: this.revision,
      initialize: this.initialize,
      config: this.config === null ? null : { value: this.config, modRevision: 1 },
      leader: this.leader === null ? null : { ...this.leader },
      members: [...this.members.values()],
      failover: null,
      sync: null,
      history: this.history === null ? null : { value: this.history.slice(), modRevision: 1 },
      status: this.statusOptime === null ? null : { optime: this.statusOptime, slots: {} },
      failsafe: null,
    };
  }

  putMember(m: Member, nowMs: number): boolean {
    this.expire(nowMs);
    if (!this.leaseAlive(m.leaseId, nowMs)) return false;
    this.members.set(m.name, { ...m, modRevision: ++this.revision });
    return true;
  }

  claimInitialize(nowMs: number): boolean {
    this.expire(nowMs);
    if (this.initialize !== null) return false;
    this.initialize = '';
    this.revision++;
    return true;
  }

  setInitialize(value: string, create: boolean): boolean {
    if (create && this.initialize !== null) return false;
    this.initialize = value;
    this.revision++;
    return true;
  }

  cancelInitialization(): void {
    this.initialize = null;
    this.revision++;
  }

  acquireLeader(name: string, leaseId: string | null, nowMs: number): boolean {
    this.expire(nowMs);
    if (this.leader !== null || leaseId === null || !this.leaseAlive(leaseId, nowMs)) return false;
    this.leader = { name, leaseId, modRevision: ++this.revision };
    return true;
  }

  /** Keepalive + "the key still holds our name and lease" (Dcs.refreshLease + Dcs.updateLeader). */
  updateLeader(name: string, leaseId: string | null, nowMs: number): boolean {
    if (!this.keepalive(leaseId, nowMs)) return false;
    return this.leader !== null && this.leader.name === name && this.leader.leaseId === leaseId;
  }

  deleteLeader(name: string, nowMs: number): boolean {
    this.expire(nowMs);
    if (this.leader === null || this.leader.name !== name) return false;
    this.leader = null;
    this.revision++;
    return true;
  }

  appendHistory(entry: HistoryEntry): void {
    const lines = this.history ?? [];
    if (!lines.some((l) => l.timeline === entry.timeline)) this.history = [...lines, entry];
    this.revision++;
  }
}
