/**
 * The distributed configuration store as keel sees it: Patroni's key layout under
 * /<namespace>/<scope>/ and the operations the agent and the CLI need.
 *
 * Invariants the implementations keep (they are what makes leader election safe):
 *  - the leader key is only ever created with a create-only transaction and is attached to the
 *    agent's lease, so it disappears by itself at most `ttl` after the last successful keepalive;
 *  - `config`, `failover` and `sync` are written with compare-and-swap on mod_revision;
 *  - every call has a deadline no longer than retry_timeout; a failing endpoint is skipped.
 * Time is never read here for safety purposes: callers measure keepalive send times themselves.
 */

import type { HostPort } from '../config/types.js';

/** One member key (`members/<name>`), parsed. `data` is the JSON object as stored. */
export interface Member {
  name: string;
  /** etcd mod_revision of the member key. */
  modRevision: number;
  /** Lease id (decimal string) the key is attached to, or null when none. */
  leaseId: string | null;
  connUrl: string | null;
  apiUrl: string | null;
  state: string;
  /** As written by the member: 'master'/'primary', 'replica', 'uninitialized', ... */
  role: string;
  /** Current WAL position in bytes (xlog_location), when published. */
  xlogLocation: number | null;
  receiveLsn: number | null;
  replayLsn: number | null;
  replicationState: string | null;
  timeline: number | null;
  tags: Record<string, unknown>;
  data: Record<string, unknown>;
}

export interface LeaderKey {
  /** Member name holding the key (the key's value). */
  name: string;
  modRevision: number;
  leaseId: string | null;
}

export interface Versioned<T> {
  value: T;
  modRevision: number;
}

/** The `failover` key: a requested switchover/failover. */
export interface FailoverRequest {
  /** Current leader that must step down (switchover); absent for failover. */
  leader?: string;
  /** Preferred new leader. */
  candidate?: string;
  /** ISO-8601 timestamp for a scheduled switchover. */
  scheduledAt?: string;
}

/** The `sync` key: who may be promoted without losing acknowledged commits in synchronous mode. */
export interface SyncState {
  leader: string | null;
  /** Comma-separated names in Patroni's format, split here. */
  syncStandbys: string[];
  /**
   * Patroni 4's `quorum`: how many other listed standbys must vouch (reachable, not ahead) for a
   * listed standby to be promoted; 0 in synchronous_mode on (absent in Patroni 3 keys).
   */
  quorum: number;
}

/** One line of the `history` key: [timeline, lsn, reason, timestamp?, new leader?]. */
export interface HistoryEntry {
  timeline: number;
  lsn: number;
  reason: string;
  timestamp?: string;
  newLeader?: string;
}

/** The `status` key: {"optime": <leader WAL LSN>, "slots": {...}, ...}. */
export interface ClusterStatus {
  optime: number | null;
  slots: Record<string, number>;
}

/** A snapshot of everything under /<namespace>/<scope>/ read at one etcd revision. */
export interface ClusterView {
  /** etcd revision the snapshot was read at. */
  revision: number;
  /** Value of `initialize` (the database system identifier), or null before bootstrap. */
  initialize: string | null;
  config: Versioned<Record<string, unknown>> | null;
  leader: LeaderKey | null;
  members: Member[];
  failover: Versioned<FailoverRequest> | null;
  sync: Versioned<SyncState> | null;
  history: Versioned<HistoryEntry[]> | null;
  status: ClusterStatus | null;
  /** `failsafe` key: member name -> api_url, written by the leader in failsafe mode. */
  failsafe: Record<string, string> | null;
}

/** What the agent publishes in its member key (Patroni's field names are produced by the DCS layer). */
export interface MemberData {
  connUrl: string;
  apiUrl: string;
  state: string;
  role: string;
  version: string;
  xlogLocation?: number;
  receiveLsn?: number;
  replayLsn?: number;
  replicationState?: string;
  timeline?: number;
  tags: Record<string, unknown>;
  /** Extra fields published as-is (e.g. pending_restart, scheduled_restart, checkpoint_after_promote). */
  extra?: Record<string, unknown>;
}

/**
 * A watch notification: the keys changed in one batch, and among them the keys that were created
 * (their first version: a new member key, a new leader key) and those deleted (explicitly, or by
 * a lease that expired), or `reset` when the watch had to start over and changes may have been
 * missed.
 */
export type WatchEvent = { kind: 'changed'; keys: string[]; created: string[]; deleted: string[] } | { kind: 'reset' };

export interface Dcs {
  /** Reads the whole cluster prefix in one range request. */
  loadCluster(): Promise<ClusterView>;

  /**
   * The agent's per-cycle read: a view kept current by a watch when a lease keepalive confirmed
   * at most `maxProofAgeMs` ago proves it holds every change made before that keepalive, else
   * loadCluster. `currentAtMs` (performance.now()) is when the view was last known current.
   * With `provenSinceMs` (performance.now() terms, as Clock.now()) only a proof sent at or after
   * that instant counts: the keepalive the leader's cycle has just sent (ClusterState.read). When
   * there is none (that keepalive granted a new lease, or found ours expired), the proof is a
   * linearizable read sent now, so an etcd that stopped answering (or lost its quorum) fails it.
   */
  readCluster(maxProofAgeMs: number, provenSinceMs?: number): Promise<{ view: ClusterView; currentAtMs: number }>;

  /**
   * Whether etcd answers a linearizable read within `timeoutMs` (the isolation watch's etcd
   * question).
   */
  reachQuorum(timeoutMs: number): Promise<boolean>;
  /**
   * reachQuorum's read as bytes, for a prober outside the agent (keel-fence): the HTTP request
   * and the etcd endpoints to send it to, preferred first. Absent or null when there is no such
   * form (https, the simulator): the agent then probes itself.
   */
  quorumReadRequest?(): { endpoints: HostPort[]; request: Buffer } | null;

  /** Grants a new lease with this TTL (seconds), replacing any previous one of this client. */
  createLease(ttlS: number): Promise<void>;
  /**
   * One keepalive of the current lease (creating one if there is none). Returns false when the
   * lease has expired (etcd answered TTL <= 0); throws DcsUnavailableError when etcd cannot be
   * reached within `timeoutMs` (default: retry_timeout).
   */
  refreshLease(timeoutMs?: number): Promise<boolean>;
  /** Id (decimal string) of this client's current lease, or null before the first grant. */
  currentLeaseId(): string | null;
  /** Revokes the lease: every key attached to it disappears at once. */
  revokeLease(): Promise<void>;

  /** Puts `members/<name>` attached to the lease. */
  touchMember(data: MemberData): Promise<void>;
  deleteMember(): Promise<void>;

  /** create=true: create-only; create=false: overwrite. Returns whether the write happened. */
  initialize(systemIdentifier: string, create: boolean): Promise<boolean>;
  cancelInitialization(): Promise<void>;

  /** Create-only transaction putting `leader` = own name with the lease. */
  attemptToAcquireLeader(): Promise<boolean>;
  /**
   * Keeps an already-held leader key: succeeds only while the key still holds our name and our
   * lease (the caller refreshes the lease separately). Returns false when the key is lost.
   */
  updateLeader(): Promise<boolean>;
  /** Deletes the leader key only if it still holds our name. */
  deleteLeader(): Promise<boolean>;

  /** Compare-and-swap on mod_revision (null = create-only). Returns whether it was written. */
  setConfig(value: Record<string, unknown>, modRevision: number | null): Promise<boolean>;
  setFailover(value: FailoverRequest, modRevision: number | null): Promise<boolean>;
  deleteFailover(modRevision: number | null): Promise<boolean>;
  setSync(value: SyncState, modRevision: number | null): Promise<boolean>;
  deleteSync(modRevision: number | null): Promise<boolean>;
  setHistory(value: HistoryEntry[]): Promise<void>;
  writeStatus(value: ClusterStatus): Promise<void>;
  writeFailsafe(value: Record<string, string>): Promise<void>;

  /**
   * Watches the cluster prefix from `fromRevision`; calls onEvent for every change until the
   * signal aborts. Reconnects by itself, reporting `reset` when it had to start over.
   */
  watch(fromRevision: number, onEvent: (event: WatchEvent) => void, signal: AbortSignal): void;

  close(): Promise<void>;

  /**
   * Applies new ttl (s) and retry_timeout (ms) from the dynamic config: later calls use the new
   * deadline, and a changed ttl takes effect with the next lease (granted by the next refreshLease;
   * touchMember / updateLeader then move the keys onto it). Optional: fakes may ignore timings.
   */
  setTimings?(ttlS: number, retryTimeoutMs: number): void;
}

export { DcsUnavailableError } from '../engine/etcd/etcd-errors.js';
