/**
 * The contract between the pure HA core (`decide`) and the imperative shell (executor + agent loop).
 *
 * One HA cycle, raft-`Ready` style:
 *   1. the executor gathers an `Observation` (DCS read, PostgreSQL probe, peers, task state, ...);
 *   2. `decide(obs)` returns a `Decision`: an ordered list of `Action`s plus a typed reason (`Why`);
 *   3. the executor applies the actions IN ORDER, then sleeps until loop_wait or a watch event.
 *
 * Results flow back in two ways, and only these two:
 *   - Gates. `claimInitialize`, `acquireLeaderKey`, `updateLeaderKey` and `confirmFailsafe` can lose a race or fail, and
 *     what follows depends on the outcome within the SAME cycle (a failover is one cycle: acquire the
 *     key, then promote). A gate carries two sub-plans, `then` and `else`; it is always the LAST action
 *     of its list. The executor runs the gate's I/O; on success (true) it continues with `then.actions`,
 *     on failure (false, error or timeout) with `else.actions`. The reason to log and expose is the
 *     `why` of the deepest plan taken (`Decision.why` when no gate was reached). `resolvePlan` in
 *     decide.ts does the walk for a given list of outcomes (the simulator and tests use it).
 *   - Everything else (promote failed, rewind failed, PostgreSQL did not start, lease keepalive lost)
 *     shows up in the NEXT observation: `asyncTask.lastResult`, `postgres.*`, `lease.*`. decide keeps
 *     no memory of its own; every fact it needs is re-observed each cycle.
 *
 * Time: every `...Ms` instant is on the executor's monotonic clock (`performance.now()`), never wall
 * time; durations are milliseconds. decide reads no clock: `obs.nowMs` is "now".
 *
 * Safety contract of the lease guard (see `Decision.leaseGuard`): while armed, the executor keeps a
 * timer independent of the cycle: when `nowMs >= authority + fenceAfterSentMs` it fences PostgreSQL
 * at once, even if the cycle is blocked in I/O; `authority` is the send time of the newest confirmed
 * keepalive or, in failsafe_mode, of the newest round of POST /failsafe every member accepted. This is what guarantees that the
 * primary stops acknowledging commits strictly before its leader key can expire in etcd.
 */
import type { DynamicConfig, SlotMatcher, Tags, WatchdogMode } from '../../config/types.js';
import type { ClusterView, HistoryEntry, SyncState } from '../../dcs/types.js';

// ---------------------------------------------------------------------------------------------
// Observation
// ---------------------------------------------------------------------------------------------

/** This node's identity and local (file) settings that matter to decisions. */
export interface SelfInfo {
  name: string;
  tags: Tags;
  watchdogMode: WatchdogMode;
  /** watchdog.safety_margin in ms (Patroni default 5 s). */
  watchdogSafetyMarginMs: number;
  /** postgresql.remove_data_directory_on_rewind_failure */
  removeDataDirectoryOnRewindFailure: boolean;
  /** postgresql.remove_data_directory_on_diverged_timelines */
  removeDataDirectoryOnDivergedTimelines: boolean;
  /** The local file has a `bootstrap` section (Patroni only lets such a node initialize a cluster). */
  canBootstrap: boolean;
  /** Our REST API's /patroni URL, as our member key publishes it (the failsafe topology names us by it). */
  apiUrl: string;
}

/** The DCS read of this cycle. */
export type DcsObservation =
  | { ok: true; view: ClusterView }
  /** The read failed; `sinceMs` is when the first failed read of the current outage started. */
  | { ok: false; sinceMs: number };

/** Our etcd lease, as the executor tracks it. */
export interface LeaseObservation {
  /**
   * Our current lease id (decimal string), or null before the first grant. A leader key that holds
   * our name but another lease id is a leftover of a previous agent process: its expiry is unknown,
   * so decide fences before trying to keep it.
   */
  leaseId: string | null;
  /**
   * Monotonic time recorded BEFORE sending the newest keepalive (or grant) that etcd CONFIRMED, or
   * null when no keepalive has been confirmed since the agent started. Our leader key (if any) cannot
   * outlive lastConfirmedSentMs + ttl.
   */
  lastConfirmedSentMs: number | null;
  /**
   * failsafe_mode: monotonic time recorded BEFORE sending the newest round of POST /failsafe that
   * EVERY member accepted, or null. Each member that accepts promises not to race for the leader
   * key for ttl after it received the POST, so, like a confirmed keepalive, it bounds how long we
   * may keep acknowledging commits: the lease guard counts from the later of the two.
   */
  failsafeConfirmedSentMs: number | null;
}

/**
 * The check of this data directory against the current leader's timeline history (Patroni's
 * trigger_check_diverged_lsn), done over a replication connection (IDENTIFY_SYSTEM,
 * TIMELINE_HISTORY) with the replication user, as Patroni does, so it needs no extra grant.
 */
export type DivergenceObservation =
  /** Not needed: no leader, we are the leader, or we stream from it. */
  | { verdict: 'notChecked' }
  /** Our WAL is on the leader's history: following it works. */
  | { verdict: 'safe' }
  /**
   * Our WAL went past the point where the leader's timeline forked: rewind or re-clone first.
   * `leaderCheckpointed`: the leader has run a checkpoint since its promotion (pg_rewind reads the
   * source's timeline from its control file: before that checkpoint it would see the OLD timeline
   * and answer "no rewind required"); null when it could not be read.
   */
  | { verdict: 'diverged'; leaderCheckpointed: boolean | null }
  /**
   * The check could not conclude (`cause` says why: leader unreachable, authentication failed,
   * ...) since `sinceMs` (monotonic, first inconclusive check of the current run).
   */
  | {
      verdict: 'unknown';
      cause: string;
      sinceMs: number;
      /** No connection to the leader could be opened at all (refused, timed out): a pg_rewind from it cannot run either. */
      leaderUnreachable?: boolean;
    };

export type PgRole = 'primary' | 'replica';

/** One physical replication slot (pg_replication_slots). */
export interface PhysicalSlot {
  name: string;
  /** A walsender streams through it now. */
  active: boolean;
}

/** One standby as the primary's pg_stat_replication shows it (application_name is the member name). */
export interface StandbyReplication {
  name: string;
  /** The walsender's state: 'streaming', 'catchup', 'startup', 'backup', 'stopping'. */
  state: string;
  /** 'sync', 'quorum', 'potential' or 'async'. */
  syncState: string;
  /** WAL the standby has flushed (bytes), null when it has not said. */
  flushLsnBytes: number | null;
  /**
   * How long it has been behind the primary's flushed WAL without confirming more (core/sync-stall.ts);
   * absent or 0 when it is not, or when nobody samples (synchronous mode off).
   */
  stalledMs?: number;
}

export interface PostgresObservation {
  dataDir: 'missing' | 'empty' | 'initialized';
  /** From pg_controldata; null when the data directory is not initialized or unreadable. */
  systemIdentifier: string | null;
  /** postmaster running and accepting connections (or starting up: see `starting`). */
  running: boolean;
  /** postmaster is up but not yet accepting connections (recovery/startup in progress). */
  starting: boolean;
  /** pg_is_in_recovery(): false -> 'primary', true -> 'replica'; null when not running. */
  role: PgRole | null;
  /** Current timeline (running: from the server; stopped: from pg_controldata), null when unknown. */
  timeline: number | null;
  /** Primary: pg_current_wal_lsn; replica: max(receive, replay); stopped: checkpoint location. Bytes. */
  walPositionBytes: number | null;
  /** Member name the WAL receiver is configured to follow (primary_conninfo), null when none. */
  followTarget: string | null;
  /** WAL receiver currently streaming (pg_stat_wal_receiver status = 'streaming'). */
  streaming: boolean;
  /** synchronous_standby_names points at the black-hole standby: commits are not acknowledged. */
  fenced: boolean;
  /**
   * synchronous_mode on/quorum: the synchronous_standby_names synchronous mode has in
   * postgresql.conf (the fence overrides it while up, and lifting the fence restores it); null
   * when synchronous mode manages none (mode off: the configured parameter applies).
   */
  syncStandbyNames: string | null;
  /**
   * The primary's WAL position first observed with `syncStandbyNames` in effect; null until then
   * (or while fenced). Every commit acknowledged under the previous setting ends at or before it,
   * so once enough standbys have flushed past it the previous setting no longer matters
   * (rules/sync.ts, "subsumed").
   */
  syncAppliedAtLsn: number | null;
  /** A running primary's standbys (pg_stat_replication); [] otherwise. */
  standbys: StandbyReplication[];
  /**
   * A running primary's physical replication slots, as the cycle's probe saw them; null when
   * unknown (no probe, a replica): the leader then syncs its slots as if they could differ.
   */
  physicalSlots: PhysicalSlot[] | null;
  /** Set by the executor when the postmaster died without being asked to stop; cleared once it runs again. */
  crashedSinceMs: number | null;
  /**
   * pg_rewind can work on this data directory: its control file says data checksums are on or
   * wal_log_hints was on (read from the server while it runs, from pg_controldata while stopped;
   * never from the configuration, which may differ from what the data directory was written with).
   */
  rewindCapable: boolean;
  /** The check against the leader's timeline history; see DivergenceObservation. */
  divergence: DivergenceObservation;
  /**
   * A replica configured to follow a member whose WAL receiver has not been streaming since this
   * instant (monotonic); null when it streams, has no source, or is not a running replica.
   */
  notStreamingSinceMs: number | null;
  /** The WAL receiver's last error from the server log (e.g. password authentication failed), or null. */
  receiverError: string | null;
  /**
   * A primary on timeline > 1: the switch point where its timeline began (from its own
   * NNNNNNNN.history file), for the DCS `history` key; null otherwise or when unreadable.
   */
  timelineStart: { endedTimeline: number; switchLsn: number; reason: string } | null;
  /** Running: the timeline of the last checkpoint (behind `timeline` until the first checkpoint after a promotion); null otherwise. */
  checkpointTimeline: number | null;
  /** The data directory's timeline-origin marker: who promoted it into which timeline (null: none). */
  timelineOrigin: { timeline: number; member: string } | null;
}

/** 'restart' and an API-requested 'reinit' are started by the operator (POST /restart, /reinitialize), not by decide. */
export type TaskKind = 'bootstrap' | 'clone' | 'rewind' | 'reinit' | 'start' | 'stop' | 'promote' | 'demote' | 'checkpoint' | 'restart' | 'stepdown';

export interface RunningTask {
  kind: TaskKind;
}

export interface TaskResult {
  kind: TaskKind;
  ok: boolean;
  message: string;
  /**
   * Member the task worked against (clone/rewind/reinit source), if any. For a `stepdown`: the
   * mod revision of the `failover` key it served (so a failed step-down clears that request only).
   */
  target?: string;
  /**
   * A failure that says nothing about the data directory (the source was unreachable, the leader
   * was not ready): the same task may simply be tried again later. A pg_rewind that ran and
   * failed is not retryable.
   */
  retryable?: boolean;
}

/** The executor's background task (long PostgreSQL operations never block the cycle). */
export interface AsyncTaskObservation {
  running: RunningTask | null;
  /** The last finished task; kept until the next task starts. */
  lastResult: TaskResult | null;
  /**
   * The last pg_rewind and how it went, while nothing has replaced the data directory since (a
   * clone or re-clone finishing later forgets it): a stop or a start after it must not make a
   * failed rewind forgotten (simulator, seed 484: it rewound in a loop).
   */
  lastRewind: TaskResult | null;
}

/** A leader heard through POST /failsafe while it could not reach the DCS (failsafe_mode). */
export interface FailsafeLeaderObservation {
  name: string;
  /** Its conn_url from the POST body (its member key may have expired meanwhile). */
  connUrl: string | null;
  /** Monotonic instant the POST was received. */
  heardAtMs: number;
}

/** Where a member's PostgreSQL is: from its conn_url (member key, or a failsafe POST). */
export interface MemberAddress {
  name: string;
  host: string;
  port: number;
}

/** GET /patroni of another member, fetched in parallel with a 2 s timeout. */
export interface PeerStatus {
  name: string;
  /** false: timeout, refused, or a non-JSON answer. The other fields are then meaningless. */
  reachable: boolean;
  running: boolean;
  role: PgRole | null;
  walPositionBytes: number | null;
  timeline: number | null;
  nofailover: boolean;
  failoverPriority: number | undefined;
  /** The peer reports `watchdog_failed` (mode required, device unusable): it cannot promote. */
  watchdogFailed: boolean;
  /**
   * A replica's WAL receiver streams (`replication_state: streaming`, Patroni >= 3.1 and keel);
   * null when the peer does not say (Patroni 3.0.2 does not publish it).
   */
  streaming: boolean | null;
}

export interface WatchdogObservation {
  /** The device could be opened (or is open). */
  available: boolean;
  /** We hold the device open and are pinging it. */
  armed: boolean;
}

export interface Observation {
  nowMs: number;
  /** When this agent process started (monotonic). */
  agentStartedMs: number;
  /** Wall-clock time as ISO-8601 with offset, for what people read (history timestamps); never for safety. */
  wallTimeIso: string;
  self: SelfInfo;
  /**
   * The cluster config: parsed from the DCS `config` key, or, when the DCS has none yet (or cannot
   * be read), the one parsed from this node's `bootstrap.dcs`. Never null: timing needs it.
   */
  config: DynamicConfig;
  /** config `pause: true` (maintenance mode). */
  paused: boolean;
  dcs: DcsObservation;
  lease: LeaseObservation;
  postgres: PostgresObservation;
  asyncTask: AsyncTaskObservation;
  /**
   * Other members' REST status. The executor gathers it ONLY when the DCS read succeeded and the
   * leader key is absent (from every member key of the view but ours); otherwise null.
   */
  peers: PeerStatus[] | null;
  watchdog: WatchdogObservation;
  /**
   * failsafe_mode: the last leader that told us, through POST /failsafe, that it keeps running
   * without the DCS; null when none did. While fresh (younger than ttl) we must not race for the
   * leader key: that leader acknowledges commits on the strength of our acceptance.
   */
  failsafeLeader: FailsafeLeaderObservation | null;
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

/** A list of actions and the reason to report if this is the deepest plan executed. */
export interface Plan {
  actions: Action[];
  why: Why;
}

/** Gates: I/O whose outcome selects the rest of the cycle. Always last in their list. */
export type GateAction =
  /** Create-only `initialize` = "" (bootstrap race). */
  | { kind: 'claimInitialize'; then: Plan; else: Plan }
  /** Create-only leader key on our lease. */
  | { kind: 'acquireLeaderKey'; then: Plan; else: Plan }
  /**
   * Keepalive of our lease (recording the send time first) AND update of the leader key, which
   * succeeds only if the key still holds our name and lease (Patroni's update_lock).
   */
  | { kind: 'updateLeaderKey'; then: Plan; else: Plan }
  /**
   * failsafe_mode with the DCS unreachable: POST /failsafe to every member of the last known
   * `failsafe` key (recording the send time first); succeeds only when every one accepted.
   */
  | { kind: 'confirmFailsafe'; then: Plan; else: Plan }
  /**
   * Synchronous mode: put (value) or delete (null) the `sync` key, compare-and-swap on
   * `modRevision` (null: create-only). Fails when someone else changed it (rules/sync.ts).
   */
  | { kind: 'writeSyncKey'; value: SyncState | null; modRevision: number | null; then: Plan; else: Plan };

export type Action =
  | GateAction
  /** Keepalive of our lease (members that do not hold the leader key). */
  | { kind: 'refreshLease' }
  /** Put members/<self> with the current state (always the last non-gate action of a cycle). */
  | { kind: 'touchMember' }
  /** Background task: initdb + start + bootstrap users, as the primary of a new cluster. */
  | { kind: 'runBootstrap' }
  /**
   * `initialize` = our system identifier: overwrite (create=false) after our own bootstrap, create-only
   * (create=true) when adopting an existing data directory into a DCS that has no `initialize` yet.
   */
  | { kind: 'writeInitialize'; systemIdentifier: string; create: boolean }
  /** After a successful bootstrap: write `config` from bootstrap.dcs (create-only). */
  | { kind: 'writeBootstrapConfig' }
  /** Bootstrap failed: delete `initialize` so another node can try; data dir moved aside. */
  | { kind: 'cancelInitialization' }
  /** Background task: pg_basebackup from `source`, then start as a replica following `follow`. */
  | { kind: 'cloneFrom'; source: MemberAddress; follow: MemberAddress | null }
  /** Background task: start PostgreSQL in recovery (standby.signal) following `follow` (null = nobody). */
  | { kind: 'startAsReplica'; follow: MemberAddress | null }
  /** Point primary_conninfo at `member` (null = none) and reload. */
  | { kind: 'followLeader'; member: MemberAddress | null }
  /**
   * Stop acknowledging commits NOW: synchronous_standby_names = the black-hole standby, then reload.
   * Must complete (reload signalled) before the executor moves to the next action.
   */
  | { kind: 'fence' }
  /** Restore synchronous_standby_names to the configured value and reload. */
  | { kind: 'unfence' }
  /**
   * Synchronous mode's synchronous_standby_names (null: none, the configured parameter applies):
   * written to postgresql.conf and reloaded; under a fence it takes effect when the fence lifts.
   */
  | { kind: 'setSyncStandbyNames'; value: string | null; reason: string }
  /** Background task: stop PostgreSQL and leave it stopped (a diverged node that may not rejoin). */
  | { kind: 'stopPostgres' }
  /**
   * Background task: CHECKPOINT, so the control file names the timeline our promotion created
   * (pg_rewind reads it there; rejoining nodes wait for it). The promote task runs one; this is
   * the leader's duty until it happened (Patroni's checkpoint_after_promote).
   */
  | { kind: 'checkpoint' }
  /**
   * Background task of a switchover (Patroni's graceful demote): CHECKPOINT, so the shutdown
   * checkpoint is short, then a fast (clean) stop — every acknowledged commit is in the WAL the
   * replicas received before the postmaster exits. The key is handed over by the NEXT cycle,
   * once PostgreSQL is down (rules/switchover.ts). `failoverRevision`: the request it serves.
   */
  | { kind: 'stepDown'; failoverRevision: number }
  /** Background task: pg_ctl promote (after arming the watchdog when required). */
  | { kind: 'promote' }
  /**
   * Background task: stop PostgreSQL immediately and start it again in recovery following nobody
   * (the next cycles point it at the leader, or rewind it first). Never touches the DCS: a node
   * demotes because the key is not (or may no longer be) its own. Starts as soon as a running
   * task ends (PostgreSQL procedures cannot be interrupted halfway safely).
   */
  | { kind: 'demote' }
  /** Background task: stop if running, pg_rewind from `from`, then start as replica following `follow`. */
  | { kind: 'rewind'; from: MemberAddress; follow: MemberAddress | null }
  /** Background task: clone from `from` beside the data directory, swap them, start following `follow`. */
  | { kind: 'reclone'; from: MemberAddress; follow: MemberAddress | null }
  /** Background task: restart a crashed PostgreSQL in place, in recovery (the leader then promotes it). */
  | { kind: 'restartCrashed' }
  /**
   * Write the data directory's timeline-origin marker: `member` created `timeline`. A replica
   * streaming from the leader learns it from the `history` key, so a later collision on the same
   * timeline number is recognised (core/timeline.ts).
   */
  | { kind: 'recordTimelineOrigin'; timeline: number; member: string }
  /** Delete the leader key if it still holds our name. */
  | { kind: 'releaseLeaderKey' }
  /**
   * Put `history` = these lines: the previous ones plus the line for the timeline that ended at
   * our promotion, trimmed to max_timelines_history (Patroni's update_cluster_history).
   */
  | { kind: 'writeHistory'; entries: HistoryEntry[] }
  /** Leader: write `status` with optime = our current WAL position. */
  | { kind: 'writeStatus'; optimeBytes: number }
  /** Delete the `failover` key if it is still at this revision. */
  | { kind: 'deleteFailoverKey'; modRevision: number }
  /** failsafe_mode leader: put the `failsafe` key (member name -> api_url of every member), when it changed. */
  | { kind: 'writeFailsafe'; members: Record<string, string> }
  /**
   * Leader: physical replication slots for exactly these names (use_slots): create the missing
   * ones, drop inactive ones that are not listed unless `ignore` (ignore_slots) matches them.
   */
  | { kind: 'syncSlots'; slots: string[]; ignore?: SlotMatcher[] }
  /**
   * arm/keepalive: program the timeout given by watchdogPingTimeoutMs(now, lease.lastConfirmedSentMs,
   * ttl, safety_margin) (watchdog-logic.ts) and ping; skip the ping when it returns null.
   */
  | { kind: 'watchdog'; op: 'arm' | 'keepalive' | 'disable' }
  /** Fatal: stop acting and exit with this code (the why says why). */
  | { kind: 'exit'; code: number };

export type ActionKind = Action['kind'];

// ---------------------------------------------------------------------------------------------
// Decision
// ---------------------------------------------------------------------------------------------

export interface LeaseGuard {
  /**
   * Fence PostgreSQL as soon as nowMs >= (send time of the newest CONFIRMED keepalive) + this, with
   * no further decision; the executor moves the deadline forward on every confirmed keepalive.
   * Equals ttl - fenceMargin (see `fenceMarginMs` in decide.ts).
   */
  fenceAfterSentMs: number;
  /**
   * keel-fence, a process outside the agent, stops the postmaster at (the same send time) + this
   * unless fed a later instant: the fence that holds when the agent is frozen or dead. Between
   * fenceAfterSentMs and ttl (see `processFenceOffsetMs`).
   */
  stopAfterSentMs: number;
}

export interface Decision extends Plan {
  /** Arm (or keep armed) the lease guard; null disarms it. Applies from the start of the cycle. */
  leaseGuard: LeaseGuard | null;
  /**
   * A gate's success counts only if the executor sees it before (the gate request's send time +
   * gateValidForMs); a later success (the process was stopped or starved while the request was in
   * flight, so the lease may have expired since) must be handled as a failure: take `else`.
   * Found by the simulator: an agent paused between acquireLeaderKey and promote.
   */
  gateValidForMs: number;
  /**
   * Run the next cycle no later than this many ms from now (a switchover scheduled before the
   * next loop_wait tick); absent: the usual loop_wait.
   */
  wakeInMs?: number;
  /**
   * A member that does not lead may leave out this cycle's `refreshLease` (its last keepalive is
   * young enough, lease-renewal.ts); absent: every `refreshLease` runs.
   */
  keepaliveMayWait?: true;
}

// ---------------------------------------------------------------------------------------------
// Why: the typed reason of a decision. renderWhy (why.ts) turns it into Patroni's sentence.
// ---------------------------------------------------------------------------------------------

export type Why =
  // leader, steady state
  | { kind: 'leaderNoAction'; self: string }
  | { kind: 'promotedHadLock'; self: string }
  | { kind: 'leaderUpdateFailedDemoted' }
  | { kind: 'updateFailedNotPromoting' }
  | { kind: 'pausedLeaderUpdateFailed' }
  | { kind: 'removedLockNotPrimary' }
  | { kind: 'waitingToBecomePrimary' }
  | { kind: 'watchdogActivationFailed'; promoting: boolean }
  // replica, steady state
  | { kind: 'followingNoAction'; self: string; leader: string }
  | { kind: 'demotingNoLock' }
  | { kind: 'repointing'; self: string; member: string | null }
  // leader race
  | { kind: 'promotedByAcquiring' }
  | { kind: 'acquiredLockAsLeader' }
  | { kind: 'lostRace'; demoted: boolean }
  | { kind: 'notHealthiest'; reason: string; demoted: boolean }
  | { kind: 'nofailoverFollow'; demoted: boolean }
  // DCS trouble
  | { kind: 'dcsUnreachable' }
  | { kind: 'dcsUnreachableDemoted' }
  | { kind: 'failsafeContinue' }
  // bootstrap
  | { kind: 'bootstrapStarting' }
  | { kind: 'initializeLockLost' }
  | { kind: 'waitingForLeaderToBootstrap' }
  | { kind: 'cloning'; from: string; fromRole: 'leader' | 'replica' }
  | { kind: 'initializedNewCluster' }
  | { kind: 'waitingForBootstrapRecovery' }
  | { kind: 'bootstrapFailed'; message: string }
  | { kind: 'systemIdMismatch'; dataSysid: string; clusterSysid: string }
  | { kind: 'foreignRunningReplica' }
  | { kind: 'releasedKeyEmptyDataDir' }
  | { kind: 'dataDirEmptyPaused' }
  // tasks in progress
  | { kind: 'taskInProgress'; task: TaskKind }
  | { kind: 'leaderKeyKeptDuringTask'; task: TaskKind }
  | { kind: 'lostLockDuringTask'; task: TaskKind }
  // start / crash / rejoin
  | { kind: 'startingAsSecondary' }
  | { kind: 'startingAsReadonlyWithLock' }
  | { kind: 'crashRestartInPlace'; msLeft: number | null }
  | { kind: 'crashFailover' }
  | { kind: 'removedKeyFailedStart' }
  | { kind: 'rewinding'; from: string }
  | { kind: 'reinitializing'; from: string; cause: 'diverged' | 'rewindFailed' }
  | { kind: 'rewindImpossible'; leader: string; reason: 'notAllowed' | 'notCapable' }
  | { kind: 'rewindFailedStayDown'; leader: string; message: string }
  | { kind: 'waitingForLeaderCheckpoint'; leader: string }
  | { kind: 'divergenceUnknown'; self: string; leader: string; cause: string }
  | { kind: 'notStreaming'; self: string; leader: string; forMs: number; error: string | null }
  | { kind: 'failsafeFollowing'; self: string; leader: string }
  | { kind: 'memberAddressUnknown'; member: string; purpose: 'clone' | 'rewind' | 'follow' }
  | { kind: 'postgresStartingUp'; msLeft: number | null }
  // switchover / manual failover (the `failover` key)
  | { kind: 'switchoverSteppingDown'; self: string; candidate: string | null }
  | { kind: 'switchoverHandingOver'; self: string; candidate: string | null }
  | { kind: 'switchoverScheduled'; at: string; inMs: number }
  | { kind: 'switchoverCheckingMembers' }
  | { kind: 'switchoverCleared'; reason: string }
  | { kind: 'manualFailoverCandidate'; self: string }
  // synchronous mode
  | { kind: 'syncKeyChangedPostponing' }
  | { kind: 'notSyncStandbyReleasing'; self: string }
  // pause
  | { kind: 'pausedNoAction'; self: string }
  | { kind: 'pausedPrimaryWithoutLock' }
  | { kind: 'pausedPostgresNotRunning' }
  | { kind: 'pausedRemovedLockNotRunning' };

export type WhyKind = Why['kind'];
