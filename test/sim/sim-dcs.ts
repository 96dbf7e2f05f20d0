/**
 * The Dcs port of one simulated agent process: keel's etcd client semantics (src/dcs/etcd-dcs.ts)
 * over the shared FakeDcs store, with the network in between. Every request travels to etcd
 * (latency, or lost on a cut link), is applied atomically on arrival, and its answer travels back
 * (or is lost on a one-way link). A call that has no answer within retry_timeout fails with
 * DcsUnavailableError at that deadline, as the real client's does.
 */
import {
  DcsUnavailableError,
  type ClusterStatus,
  type ClusterView,
  type Dcs,
  type FailoverRequest,
  type HistoryEntry,
  type MemberData,
  type SyncState,
  type WatchEvent,
} from '../../src/dcs/types.js';
import type { FakeDcs, StoreChange } from './fake-dcs.js';
import type { SimProcess } from './model.js';
import type { World } from './world.js';

const LEASE_GONE = Symbol('lease gone');

export class SimDcsClient implements Dcs {
  private lease: string | null = null;
  private ttlMs: number;
  private retryTimeoutMs: number;
  private closed = false;
  /**
   * The newest confirmed keepalive: when it was sent (the agent's clock) and the store as it was
   * when etcd served it. readCluster serves that state: the stalest view the real watch-fed copy
   * (src/dcs/prefix-cache.ts) may serve under its proof rule, whatever its watch delivered since.
   */
  private proof: { sentMs: number; view: ClusterView } | null = null;

  constructor(
    private readonly w: World,
    private readonly proc: SimProcess,
    private readonly store: FakeDcs,
    ttlS: number,
    retryTimeoutMs: number,
    /** The agent's monotonic clock (for the proof's age, as EtcdDcs measures it). */
    private readonly now: () => number = () => w.nowMs,
  ) {
    this.ttlMs = ttlS * 1000;
    this.retryTimeoutMs = retryTimeoutMs;
  }

  /** One request/response with etcd; `op` runs on the store at the instant the request arrives. */
  private request<T>(what: string, op: (nowMs: number) => T, timeoutMs?: number): Promise<T> {
    const w = this.w;
    const node = this.proc.node;
    const deadlineMs = timeoutMs ?? this.retryTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const fail = (): void => reject(new DcsUnavailableError(`no etcd endpoint answered ${what} within ${deadlineMs} ms`));
      const there = w.dcsLatency(node);
      let settled = false;
      w.deliver(this.proc, deadlineMs, () => {
        if (!settled) {
          settled = true;
          fail();
        }
      });
      w.at(there, () => {
        if (this.closed || !w.requestReachesDcs(node) || !this.store.available(w.nowMs)) return;
        let result: T;
        try {
          result = op(w.nowMs);
        } catch (error) {
          w.deliver(this.proc, w.dcsLatency(node), () => {
            if (settled) return;
            settled = true;
            reject(error instanceof Error ? error : new Error(String(error)));
          });
          return;
        }
        if (!w.responseReachesNode(node)) return;
        const back = w.dcsLatency(node);
        if (there + back >= deadlineMs) return;
        w.deliver(this.proc, back, () => {
          if (settled) return;
          settled = true;
          resolve(result);
        });
      });
    });
  }

  private async withLease<T>(what: string, op: (leaseId: string, nowMs: number) => T | typeof LEASE_GONE): Promise<T> {
    const lease = await this.ensureLease();
    const result = await this.request(what, (nowMs) => op(lease, nowMs));
    if (result !== LEASE_GONE) return result;
    this.lease = null;
    const fresh = await this.ensureLease();
    const retried = await this.request(what, (nowMs) => op(fresh, nowMs));
    if (retried === LEASE_GONE) throw new DcsUnavailableError(`${what}: lease not found`);
    return retried;
  }

  private async ensureLease(): Promise<string> {
    if (this.lease !== null) return this.lease;
    await this.createLease(Math.round(this.ttlMs / 1000));
    if (this.lease === null) throw new DcsUnavailableError('etcd granted no lease');
    return this.lease;
  }

  loadCluster(): Promise<ClusterView> {
    return this.request('/kv/range', (nowMs) => this.store.snapshot(nowMs));
  }

  async createLease(ttlS: number): Promise<void> {
    this.ttlMs = ttlS * 1000;
    const owner = this.proc.node.name;
    this.lease = await this.request('/lease/grant', (nowMs) => this.store.grant(owner, ttlS * 1000, nowMs));
  }

  async refreshLease(timeoutMs?: number): Promise<boolean> {
    if (this.lease === null) {
      await this.createLease(Math.round(this.ttlMs / 1000));
      return true;
    }
    const lease = this.lease;
    const sentMs = this.now();
    let served: ClusterView | null = null;
    let alive: boolean;
    try {
      alive = await this.request(
        '/lease/keepalive',
        (nowMs) => {
          const ok = this.store.keepalive(lease, nowMs);
          if (ok) served = this.store.snapshot(nowMs);
          return ok;
        },
        timeoutMs,
      );
    } catch (error) {
      this.proof = null; // as EtcdDcs: a failed keepalive voids the proof
      throw error;
    }
    if (!alive) this.proof = null;
    else if (served !== null && (this.proof === null || sentMs >= this.proof.sentMs)) this.proof = { sentMs, view: served };
    if (!alive && this.lease === lease) this.lease = null;
    return alive;
  }

  /** EtcdDcs.reachQuorum: a read that answers while etcd is reachable (the simulated etcd has no raft leader of its own to lose). */
  async reachQuorum(timeoutMs: number): Promise<boolean> {
    try {
      await this.request('/kv/range', () => true, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /** EtcdDcs.readCluster at its stalest: the state the newest young-enough keepalive proved, else a range read. */
  async readCluster(maxProofAgeMs: number, provenSinceMs?: number): Promise<{ view: ClusterView; currentAtMs: number }> {
    if (provenSinceMs !== undefined && (this.proof === null || this.proof.sentMs < provenSinceMs)) {
      // as EtcdDcs: no keepalive proof that recent, so a linearizable read proves the state as it is now
      const sentMs = this.now();
      const served = await this.request('/kv/range', (nowMs) => this.store.snapshot(nowMs));
      if (this.proof === null || sentMs >= this.proof.sentMs) this.proof = { sentMs, view: served };
    }
    const nowMs = this.now();
    const proof = this.proof;
    if (proof !== null && nowMs - proof.sentMs <= maxProofAgeMs) return { view: proof.view, currentAtMs: proof.sentMs };
    return { view: await this.loadCluster(), currentAtMs: nowMs };
  }

  currentLeaseId(): string | null {
    return this.lease;
  }

  async revokeLease(): Promise<void> {
    const lease = this.lease;
    if (lease === null) return;
    await this.request('/lease/revoke', (nowMs) => this.store.revoke(lease, nowMs));
    this.lease = null;
  }

  async touchMember(data: MemberData): Promise<void> {
    const name = this.proc.node.name;
    await this.withLease('/kv/put', (leaseId, nowMs) =>
      this.store.putMember(memberFromData(name, leaseId, structuredClone(data)), nowMs) ? true : LEASE_GONE,
    );
  }

  async deleteMember(): Promise<void> {
    const name = this.proc.node.name;
    await this.request('/kv/deleterange', () => this.store.deleteMember(name));
  }

  initialize(systemIdentifier: string, create: boolean): Promise<boolean> {
    return this.request('/kv/txn', () => this.store.setInitialize(systemIdentifier, create));
  }

  async cancelInitialization(): Promise<void> {
    await this.request('/kv/deleterange', () => this.store.cancelInitialization());
  }

  attemptToAcquireLeader(): Promise<boolean> {
    const name = this.proc.node.name;
    return this.withLease('/kv/txn', (leaseId, nowMs) => {
      if (!this.store.leaseAlive(leaseId, nowMs)) return LEASE_GONE;
      return this.store.acquireLeader(name, leaseId, nowMs) || this.store.holdsLeader(name, leaseId, nowMs);
    });
  }

  /** As the real client: held on our lease; or ours on another lease and moved onto it (a second round trip). */
  async updateLeader(): Promise<boolean> {
    const name = this.proc.node.name;
    // As EtcdDcs.leaderKeyProvenOurs: a keepalive confirmed within 1 s whose state shows the key ours on our lease.
    const proof = this.proof;
    if (proof !== null && this.now() - proof.sentMs <= 1000 && proof.view.leader?.name === name && proof.view.leader.leaseId === this.lease) return true;
    const held = await this.withLease('/kv/txn', (leaseId, nowMs) => {
      if (this.store.holdsLeader(name, leaseId, nowMs)) return 'held' as const;
      return this.store.leader?.name === name ? ('otherLease' as const) : ('lost' as const);
    });
    if (held !== 'otherLease') return held === 'held';
    const lease = this.lease;
    if (lease === null) return false;
    return this.request('/kv/txn', (nowMs) => {
      if (this.store.leader?.name !== name || !this.store.leaseAlive(lease, nowMs)) return false;
      this.store.moveLeaderToLease(name, lease);
      return true;
    });
  }

  deleteLeader(): Promise<boolean> {
    const name = this.proc.node.name;
    return this.request('/kv/txn', (nowMs) => this.store.deleteLeader(name, nowMs));
  }

  setConfig(value: Record<string, unknown>, modRevision: number | null): Promise<boolean> {
    return this.request('/kv/txn', () => this.store.cas('config', structuredClone(value), modRevision));
  }
  setFailover(value: FailoverRequest, modRevision: number | null): Promise<boolean> {
    return this.request('/kv/txn', () => this.store.cas('failover', structuredClone(value), modRevision));
  }
  deleteFailover(modRevision: number | null): Promise<boolean> {
    return this.request('/kv/txn', () => (modRevision === null ? (this.store.clear('failover'), true) : this.store.cas('failover', null, modRevision)));
  }
  setSync(value: SyncState, modRevision: number | null): Promise<boolean> {
    return this.request('/kv/txn', () => this.store.cas('sync', structuredClone(value), modRevision));
  }
  deleteSync(modRevision: number | null): Promise<boolean> {
    return this.request('/kv/txn', () => (modRevision === null ? (this.store.clear('sync'), true) : this.store.cas('sync', null, modRevision)));
  }
  async setHistory(value: HistoryEntry[]): Promise<void> {
    await this.request('/kv/put', () => this.store.setHistory(structuredClone(value)));
  }
  async writeStatus(value: ClusterStatus): Promise<void> {
    await this.request('/kv/put', () => this.store.setStatus(structuredClone(value)));
  }
  async writeFailsafe(value: Record<string, string>): Promise<void> {
    await this.request('/kv/put', () => this.store.setFailsafe({ ...value }));
  }

  /** Store changes reach the agent over its link; while the link is down they are lost, then a reset is reported. */
  watch(_fromRevision: number, onEvent: (event: WatchEvent) => void, signal: AbortSignal): void {
    const node = this.proc.node;
    let missed = false;
    const unsubscribe = this.store.watch((change: StoreChange) => {
      if (!this.w.responseReachesNode(node)) {
        missed = true;
        return;
      }
      const reset = missed;
      missed = false;
      const keys = change.keys.map((k) => `/service/sim/${k}`);
      const created = change.created.map((k) => `/service/sim/${k}`);
      const deleted = change.deleted.map((k) => `/service/sim/${k}`);
      this.w.deliver(this.proc, this.w.dcsLatency(node), () => onEvent(reset ? { kind: 'reset' } : { kind: 'changed', keys, created, deleted }));
    });
    signal.addEventListener('abort', unsubscribe, { once: true });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  setTimings(ttlS: number, retryTimeoutMs: number): void {
    this.ttlMs = ttlS * 1000;
    this.retryTimeoutMs = retryTimeoutMs;
  }
}

function memberFromData(name: string, leaseId: string, data: MemberData): import('../../src/dcs/types.js').Member {
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
