/**
 * The Dcs interface on etcd v3, in Patroni 3.0.2's key layout, so Patroni, patronictl and keel
 * can share one cluster.
 *
 * Invariants (see types.ts for why they make leader election safe):
 *  - one lease per agent (TTL = ttl); the member key and the leader key are attached to it;
 *  - the leader key is only created by a transaction comparing create_revision == 0, kept by a
 *    transaction comparing its value with our name, and deleted only while it holds our name;
 *  - config, failover and sync are written with compare-and-swap on mod_revision (null means
 *    create-only); initialize with create-only when asked;
 *  - every etcd call has a deadline <= retry_timeout and skips endpoints that do not answer;
 *    DcsUnavailableError means no endpoint answered in time.
 * Range reads are linearizable (unlike Patroni's serializable reads): a member cut off from the
 * etcd quorum cannot serve a stale cluster view; the call fails over to another endpoint instead.
 * The HA cycle mostly reads the watch-fed copy, proven current by a lease keepalive (readCluster).
 */
import type { EtcdConfig, HostPort } from '../config/types.js';
import type { Logger } from '../observability/log.js';
import { EtcdClient, type WatchEnd } from '../engine/etcd/etcd-client.js';
import { EtcdError } from '../engine/etcd/etcd-errors.js';
import type { Compare, KeyValue, RequestOp } from '../engine/etcd/etcd-wire.js';
import { PrefixCache } from './prefix-cache.js';
import {
  buildClusterView,
  clusterKeys,
  renderConfig,
  renderFailover,
  renderFailsafe,
  renderHistory,
  renderMemberValue,
  renderStatus,
  renderSync,
  type ClusterKeys,
} from '../patroni/dcs-layout.js';
import type { ClusterStatus, ClusterView, Dcs, FailoverRequest, HistoryEntry, MemberData, SyncState, WatchEvent } from './types.js';

export interface EtcdDcsOptions {
  etcd: EtcdConfig;
  /** Patroni namespace, e.g. "/service/". */
  namespace: string;
  scope: string;
  /** This member's name (value of the leader key, name of members/<name>). */
  name: string;
  /** Deadline of every etcd call (ms); Patroni's retry_timeout. */
  retryTimeoutMs: number;
  /** TTL of the lease granted when none exists yet (s); default 30 (Patroni's ttl). */
  ttlS?: number;
  log?: Logger;
  /** Shortest per-endpoint attempt (ms); default 1000. Lower only for tests on loopback. */
  minAttemptTimeoutMs?: number;
}

/** Watch reconnection back-off (ms): doubles from the first value up to the maximum. */
const WATCH_BACKOFF_FIRST_MS = 100;
const WATCH_BACKOFF_MAX_MS = 2_000;
const DEFAULT_TTL_S = 30;
/** readCluster reads the prefix from etcd at least this often, even while the watch-fed copy is proven current. */
const CACHE_RESYNC_MS = 60_000;
/** How recent the keepalive must be for updateLeader to trust the watch-fed copy instead of asking etcd. */
const LEADER_PROOF_MAX_AGE_MS = 1_000;
/** keel's own key beside Patroni's layout (see loadFailoverRecords). */
export const FAILOVER_RECORDS_KEY = 'keel-failovers';

/** What the last loadCluster saw of keys this agent rewrites each cycle (to skip identical writes). */
interface SeenValues {
  member: { value: string; lease: string | null } | null;
  status: string | null;
  failsafe: string | null;
}

export class EtcdDcs implements Dcs {
  readonly keys: ClusterKeys;
  readonly name: string;
  private readonly client: EtcdClient;
  private readonly log: Logger | undefined;
  private readonly closed = new AbortController();
  private lease: string | null = null;
  private ttl: number;
  private seen: SeenValues | null = null;
  private granting: Promise<void> | null = null;
  /** The prefix as the agent's watch keeps it (prefix-cache.ts), for readCluster. */
  private readonly cache = new PrefixCache();
  /** Whether a watch loop already feeds the cache (only the first one does). */
  private cacheFed = false;
  /** The newest confirmed keepalive: when it was sent (performance.now) and the revision it reported. */
  private proof: { sentMs: number; revision: number } | null = null;
  /** The view last built from the cache, reused while the cache has not moved. */
  private cachedView: { revision: number; view: ClusterView } | null = null;
  /** When readCluster last read the prefix from etcd (performance.now). */
  private lastFullReadMs = -Infinity;

  constructor(options: EtcdDcsOptions) {
    this.keys = clusterKeys(options.namespace, options.scope);
    this.name = options.name;
    this.ttl = options.ttlS ?? DEFAULT_TTL_S;
    this.log = options.log;
    this.client = new EtcdClient({
      endpoints: options.etcd.endpoints,
      protocol: options.etcd.protocol,
      ...(options.etcd.username === undefined ? {} : { username: options.etcd.username }),
      ...(options.etcd.password === undefined ? {} : { password: options.etcd.password }),
      tls: { ca: options.etcd.cacert, cert: options.etcd.cert, key: options.etcd.key },
      requestTimeoutMs: options.retryTimeoutMs,
      ...(options.minAttemptTimeoutMs === undefined ? {} : { minAttemptTimeoutMs: options.minAttemptTimeoutMs }),
    });
  }

  /** Current lease ID (decimal), or null when none is held. */
  get leaseId(): string | null {
    return this.lease;
  }

  /** Dcs.currentLeaseId: the lease ID (decimal) or null before the first grant / after expiry. */
  currentLeaseId(): string | null {
    return this.lease;
  }

  get ttlS(): number {
    return this.ttl;
  }

  /**
   * New ttl from the dynamic config. Like Patroni's set_ttl, the current lease is dropped (not
   * revoked) when it changes: the next refreshLease grants one with the new TTL and the next
   * touchMember / updateLeader move the keys onto it; the old lease then simply expires.
   */
  setTtl(ttlS: number): void {
    if (ttlS === this.ttl) return;
    this.ttl = ttlS;
    this.lease = null;
  }

  /** New retry_timeout from the dynamic config: the deadline of every later call. */
  setRetryTimeout(retryTimeoutMs: number): void {
    this.client.setRequestTimeout(retryTimeoutMs);
  }

  /** Dcs.setTimings: both of the above at once. */
  setTimings(ttlS: number, retryTimeoutMs: number): void {
    this.setTtl(ttlS);
    this.setRetryTimeout(retryTimeoutMs);
  }

  async loadCluster(): Promise<ClusterView> {
    const result = await this.client.range(this.keys.prefix, { prefix: true });
    this.cache.seed(result.kvs, result.revision);
    this.noteSeen(result.kvs);
    return buildClusterView(this.keys.prefix, result.revision, result.kvs);
  }

  /**
   * Dcs.readCluster: the watch-fed copy of the prefix when a keepalive confirmed no more than
   * `maxProofAgeMs` ago proves it current (prefix-cache.ts), else one range read (which also
   * refreshes the copy); a range read at least every CACHE_RESYNC_MS whatever the copy says.
   * With `provenSinceMs`, a proof sent before it does not count: the leader's cycle has just sent
   * a keepalive, whose proof is the one wanted. Without one (that keepalive granted a new lease or
   * found ours expired), a linearizable read sent now is the proof: an etcd that stopped
   * answering fails it, as a range read would have (the leader's cycle relies on that to take its
   * DCS-failure path, e.g. failsafe_mode, instead of acting on a view it cannot confirm).
   */
  async readCluster(maxProofAgeMs: number, provenSinceMs?: number): Promise<{ view: ClusterView; currentAtMs: number }> {
    if (provenSinceMs !== undefined && (this.proof === null || this.proof.sentMs < provenSinceMs)) {
      // A linearizable read needs the raft leader to hear from a quorum: an etcd member cut off
      // with us (even one that still thinks it leads, and still renews leases) fails it.
      const sentMs = performance.now();
      const revision = await this.quorumRead();
      if (this.proof === null || sentMs >= this.proof.sentMs) this.proof = { sentMs, revision };
    }
    const nowMs = performance.now();
    const proof = this.proof;
    const cached =
      proof !== null && nowMs - proof.sentMs <= maxProofAgeMs && nowMs - this.lastFullReadMs < CACHE_RESYNC_MS ? this.cache.read(proof.revision) : null;
    if (cached !== null && proof !== null) {
      this.noteSeen(cached.kvs);
      if (this.cachedView?.revision !== cached.revision) {
        this.cachedView = { revision: cached.revision, view: buildClusterView(this.keys.prefix, cached.revision, cached.kvs) };
      }
      return { view: this.cachedView.view, currentAtMs: proof.sentMs };
    }
    const view = await this.loadCluster();
    this.lastFullReadMs = nowMs;
    return { view, currentAtMs: nowMs };
  }

  /**
   * Dcs.reachQuorum: one linearizable read of the leader key within `timeoutMs`. Unlike a lease
   * keepalive, which a raft leader cut off from its quorum still answers until it steps down (an
   * election timeout or more later), it fails as soon as etcd has no quorum on our side.
   */
  async reachQuorum(timeoutMs: number): Promise<boolean> {
    try {
      await this.quorumRead(timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /** Dcs.quorumReadRequest: the bytes of reachQuorum's read, for keel-fence's probe. */
  quorumReadRequest(): { endpoints: HostPort[]; request: Buffer } | null {
    return this.client.quorumReadRequest(this.keys.leader);
  }

  /** One linearizable read of the leader key (it needs etcd's quorum); the revision it was served at. */
  private async quorumRead(timeoutMs?: number): Promise<number> {
    return (await this.client.range(this.keys.leader, { limit: 1, ...(timeoutMs === undefined ? {} : { timeoutMs }) })).revision;
  }

  /** What touchMember, writeStatus and writeFailsafe compare with to skip identical writes. */
  private noteSeen(kvs: KeyValue[]): void {
    let member: KeyValue | undefined;
    let status: string | null = null;
    let failsafe: string | null = null;
    const memberKey = this.keys.member(this.name);
    for (const kv of kvs) {
      if (kv.key === memberKey) member = kv;
      else if (kv.key === this.keys.status) status = kv.value;
      else if (kv.key === this.keys.failsafe) failsafe = kv.value;
    }
    this.seen = { member: member === undefined ? null : { value: member.value, lease: member.lease }, status, failsafe };
  }

  /**
   * keel's failover records (ha/core/failover-record.ts) under `<prefix>keel-failovers`: not a
   * Patroni key (Patroni and patronictl read the keys they know and ignore this one). The stored
   * JSON text and its mod_revision, null when there is none.
   */
  async loadFailoverRecords(): Promise<{ text: string | null; modRevision: number | null }> {
    const kv = (await this.client.range(this.failoverRecordsKey)).kvs[0];
    return kv === undefined ? { text: null, modRevision: null } : { text: kv.value, modRevision: kv.modRevision };
  }

  /** Compare-and-swap on mod_revision (null: create-only); false when someone wrote meanwhile. */
  writeFailoverRecords(text: string, modRevision: number | null): Promise<boolean> {
    return this.putIf(this.failoverRecordsKey, text, modRevision);
  }

  private get failoverRecordsKey(): string {
    return `${this.keys.prefix}${FAILOVER_RECORDS_KEY}`;
  }

  async createLease(ttlS: number): Promise<void> {
    this.ttl = ttlS;
    const granted = await this.client.leaseGrant(ttlS);
    this.lease = granted.id;
  }

  async refreshLease(timeoutMs?: number): Promise<boolean> {
    if (this.lease === null) {
      await this.createLease(this.ttl);
      return true;
    }
    let ttlS: number;
    try {
      const sentMs = performance.now();
      const answer = await this.client.leaseKeepAliveWithRevision(this.lease, timeoutMs === undefined ? {} : { timeoutMs });
      ttlS = answer.ttlS;
      if (ttlS > 0 && (this.proof === null || sentMs >= this.proof.sentMs)) this.proof = { sentMs, revision: answer.revision };
    } catch (error) {
      // A keepalive that failed voids the proof at once: the next cycle reads from etcd, and so
      // notices an outage as soon as it did before the cache (not one cycle later).
      this.proof = null;
      if (!(error instanceof EtcdError && error.kind === 'lease_not_found')) throw error;
      ttlS = 0;
    }
    if (ttlS <= 0) this.proof = null;
    if (ttlS > 0) return true;
    this.log?.warning('our etcd lease has expired', { lease: this.lease });
    this.lease = null;
    return false;
  }

  async revokeLease(): Promise<void> {
    const lease = this.lease;
    if (lease === null) return;
    await this.client.leaseRevoke(lease);
    this.lease = null;
  }

  async touchMember(data: MemberData): Promise<void> {
    const value = renderMemberValue(data);
    const lease = await this.ensureLease();
    const seen = this.seen?.member ?? null;
    this.seen = this.seen === null ? null : { ...this.seen, member: null };
    if (seen !== null && seen.value === value && seen.lease === lease) return;
    await this.withLease((leaseId) => this.client.put(this.keys.member(this.name), value, { lease: leaseId }));
  }

  async deleteMember(): Promise<void> {
    await this.client.deleteRange(this.keys.member(this.name));
  }

  async initialize(systemIdentifier: string, create: boolean): Promise<boolean> {
    if (!create) {
      await this.client.put(this.keys.initialize, systemIdentifier);
      return true;
    }
    return this.putIf(this.keys.initialize, systemIdentifier, null);
  }

  async cancelInitialization(): Promise<void> {
    await this.client.deleteRange(this.keys.initialize);
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    return this.withLease(async (leaseId) => {
      const result = await this.client.txn({
        compare: [{ key: this.keys.leader, target: 'CREATE', createRevision: 0 }],
        success: [{ put: { key: this.keys.leader, value: this.name, lease: leaseId } }],
        failure: [{ range: { key: this.keys.leader } }],
      });
      if (result.succeeded) return true;
      // A retried request whose first attempt was applied finds the key already ours.
      const current = result.responses[0]?.kind === 'range' ? result.responses[0].kvs[0] : undefined;
      return current !== undefined && current.value === this.name && current.lease === leaseId;
    });
  }

  async updateLeader(): Promise<boolean> {
    return this.withLease(async (leaseId) => {
      if (this.leaderKeyProvenOurs(leaseId)) return true;
      const held = await this.client.txn({
        compare: [
          { key: this.keys.leader, target: 'VALUE', value: this.name },
          { key: this.keys.leader, target: 'LEASE', lease: leaseId },
        ],
        success: [],
        failure: [{ range: { key: this.keys.leader } }],
      });
      if (held.succeeded) return true;
      const current = held.responses[0]?.kind === 'range' ? held.responses[0].kvs[0] : undefined;
      if (current === undefined || current.value !== this.name) return false;
      // Still ours but on another lease (the ttl changed, or we were granted a new lease):
      // move it onto the current lease, only if nobody touched it in between (Patroni re-puts it).
      this.log?.info('moving the leader key onto our current lease', { from: current.lease, to: leaseId });
      const moved = await this.client.txn({
        compare: [
          { key: this.keys.leader, target: 'VALUE', value: this.name },
          { key: this.keys.leader, target: 'MOD', modRevision: current.modRevision },
        ],
        success: [{ put: { key: this.keys.leader, value: this.name, lease: leaseId } }],
      });
      return moved.succeeded;
    });
  }

  /**
   * Whether the watch-fed copy, proven current by a keepalive sent within LEADER_PROOF_MAX_AGE_MS
   * (the one the HA cycle sends just before this check), shows the leader key with our name on
   * our lease: then the key was ours when that keepalive was served, which is what the
   * comparing transaction would confirm a few milliseconds later (Patroni only sends the keepalive).
   */
  private leaderKeyProvenOurs(leaseId: string): boolean {
    const proof = this.proof;
    if (proof === null || performance.now() - proof.sentMs > LEADER_PROOF_MAX_AGE_MS) return false;
    const cached = this.cache.read(proof.revision);
    const key = cached?.kvs.find((kv) => kv.key === this.keys.leader);
    return key !== undefined && key.value === this.name && key.lease === leaseId;
  }

  async deleteLeader(): Promise<boolean> {
    const result = await this.client.txn({
      compare: [{ key: this.keys.leader, target: 'VALUE', value: this.name }],
      success: [{ deleteRange: { key: this.keys.leader } }],
    });
    return result.succeeded;
  }

  setConfig(value: Record<string, unknown>, modRevision: number | null): Promise<boolean> {
    return this.putIf(this.keys.config, renderConfig(value), modRevision);
  }

  setFailover(value: FailoverRequest, modRevision: number | null): Promise<boolean> {
    return this.putIf(this.keys.failover, renderFailover(value), modRevision);
  }

  deleteFailover(modRevision: number | null): Promise<boolean> {
    return this.deleteIf(this.keys.failover, modRevision);
  }

  setSync(value: SyncState, modRevision: number | null): Promise<boolean> {
    return this.putIf(this.keys.sync, renderSync(value), modRevision);
  }

  deleteSync(modRevision: number | null): Promise<boolean> {
    return this.deleteIf(this.keys.sync, modRevision);
  }

  async setHistory(value: HistoryEntry[]): Promise<void> {
    await this.client.put(this.keys.history, renderHistory(value));
  }

  /** Skipped when the last loaded view already holds exactly this value (as Patroni does). */
  async writeStatus(value: ClusterStatus): Promise<void> {
    const rendered = renderStatus(value);
    if (this.seen?.status === rendered) return;
    await this.client.put(this.keys.status, rendered);
    if (this.seen !== null) this.seen.status = rendered;
  }

  async writeFailsafe(value: Record<string, string>): Promise<void> {
    const rendered = renderFailsafe(value);
    if (this.seen?.failsafe === rendered) return;
    await this.client.put(this.keys.failsafe, rendered);
    if (this.seen !== null) this.seen.failsafe = rendered;
  }

  /**
   * Watches every key of the cluster. `fromRevision` is the revision of a view the caller has
   * already seen (ClusterView.revision): changes made after it are reported, none before; 0 means
   * "from now on". `changed` events carry the full etcd keys ("/service/demo/leader",
   * "/service/demo/members/n1"; compare with `this.keys`). The stream is reopened by itself (next endpoint, back-off 100 ms doubling to
   * 2 s) from the last revision seen, so nothing is missed; when that revision has been compacted
   * away it restarts from the current one and reports `reset`: the caller must reload the view.
   */
  watch(fromRevision: number, onEvent: (event: WatchEvent) => void, signal: AbortSignal): void {
    const combined = AbortSignal.any([signal, this.closed.signal]);
    this.watchLoop(fromRevision, onEvent, combined).catch((error: unknown) => {
      this.log?.error('etcd watch loop stopped', { error: error instanceof Error ? error.message : String(error) });
    });
  }

  /** Stops watches and closes connections. Does not revoke the lease (call revokeLease first). */
  async close(): Promise<void> {
    this.closed.abort();
    this.client.close();
  }

  // ---- helpers ----

  private async watchLoop(fromRevision: number, consumer: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const feedsCache = !this.cacheFed;
    this.cacheFed = true;
    const onEvent = (event: WatchEvent): void => {
      try {
        consumer(event);
      } catch (error) {
        this.log?.error('etcd watch consumer failed', { error: error instanceof Error ? error.message : String(error) });
      }
    };
    let nextRevision = fromRevision > 0 ? fromRevision + 1 : 0;
    let backoffMs = WATCH_BACKOFF_FIRST_MS;
    // After a compaction the reset is reported only once the new stream exists, so a reload the
    // caller does in response cannot miss a change made before the stream started.
    let pendingReset = false;
    while (!signal.aborted) {
      let end: WatchEnd | null = null;
      const streamStart = nextRevision;
      let streamStarted = false;
      try {
        end = await this.client.watch(
          { key: this.keys.prefix, prefix: true, startRevision: nextRevision },
          (response) => {
            backoffMs = WATCH_BACKOFF_FIRST_MS;
            if (feedsCache) {
              // The first message (created) is when the stream exists: every event after its
              // start revision (or, for a stream "from now", after the revision it was created at) follows.
              if (!streamStarted) this.cache.watchStarted(streamStart > 0 ? streamStart - 1 : response.revision);
              this.cache.apply(response.events);
            }
            streamStarted = true;
            if (pendingReset) {
              pendingReset = false;
              onEvent({ kind: 'reset' });
            }
            if (response.events.length === 0) {
              if (nextRevision === 0 && response.revision > 0) nextRevision = response.revision + 1;
              return;
            }
            const last = response.events[response.events.length - 1];
            nextRevision = Math.max(nextRevision, (last?.kv.modRevision ?? response.revision) + 1);
            const keys = [...new Set(response.events.map((event) => event.kv.key))];
            const created = [...new Set(response.events.filter((event) => event.type === 'PUT' && event.kv.version === 1).map((event) => event.kv.key))];
            const deleted = [...new Set(response.events.filter((event) => event.type === 'DELETE').map((event) => event.kv.key))];
            onEvent({ kind: 'changed', keys, created, deleted });
          },
          signal,
        );
      } catch (error) {
        this.log?.debug('etcd watch interrupted', { error: error instanceof Error ? error.message : String(error) });
      }
      if (feedsCache) this.cache.watchStopped();
      if (signal.aborted || end?.reason === 'aborted') return;
      if (end?.reason === 'compacted' || end?.reason === 'canceled') {
        this.log?.info('etcd watch restarted from the current revision', { reason: end.reason });
        nextRevision = 0;
        pendingReset = true;
      }
      if (end?.reason !== 'compacted') {
        await abortableSleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, WATCH_BACKOFF_MAX_MS);
      }
    }
  }

  /** Our lease, granting one when there is none (concurrent callers share one grant). */
  private async ensureLease(): Promise<string> {
    if (this.lease !== null) return this.lease;
    this.granting ??= this.createLease(this.ttl).finally(() => {
      this.granting = null;
    });
    await this.granting;
    if (this.lease === null) throw new EtcdError('other', 'etcd granted no lease');
    return this.lease;
  }

  /** Runs `action` with our lease; when etcd no longer knows it, grants a new one and retries once. */
  private async withLease<T>(action: (leaseId: string) => Promise<T>): Promise<T> {
    const lease = await this.ensureLease();
    try {
      return await action(lease);
    } catch (error) {
      if (!(error instanceof EtcdError && error.kind === 'lease_not_found')) throw error;
      this.log?.warning('our etcd lease disappeared; granting a new one', { lease });
      this.lease = null;
      return action(await this.ensureLease());
    }
  }

  /** Put guarded by mod_revision (null: only if the key does not exist). */
  private async putIf(key: string, value: string, modRevision: number | null): Promise<boolean> {
    const result = await this.client.txn({ compare: [revisionGuard(key, modRevision)], success: [{ put: { key, value } }] });
    return result.succeeded;
  }

  /** Delete guarded by mod_revision (null: unconditionally; true even when nothing existed). */
  private async deleteIf(key: string, modRevision: number | null): Promise<boolean> {
    if (modRevision === null) {
      await this.client.deleteRange(key);
      return true;
    }
    const op: RequestOp = { deleteRange: { key } };
    const result = await this.client.txn({ compare: [revisionGuard(key, modRevision)], success: [op] });
    return result.succeeded;
  }
}

function revisionGuard(key: string, modRevision: number | null): Compare {
  return modRevision === null ? { key, target: 'CREATE', createRevision: 0 } : { key, target: 'MOD', modRevision };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
