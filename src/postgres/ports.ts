/**
 * PostgreSQL as the HA shell sees it, as interfaces: this node's server (data directory,
 * postmaster, files, keel's own SQL connection) and other members' servers. The real
 * implementations are LocalPostgres (local-node.ts) and RemotePostgresClient (remote.ts); the
 * simulator has its own (test/sim).
 */
import type { Credentials, SlotMatcher } from '../config/types.js';
import type { TimelineSwitch } from '../ha/core/timeline.js';
import type { ControlData } from './controldata.js';
import type { RecoverySettings } from './conf-files.js';
import type { ReplicationSample } from '../ha/core/sync-stall.js';
import type { ConnectTarget, PostgresProbe, WalPositions } from './probe.js';

export type DataDirState = 'missing' | 'empty' | 'initialized';
export type StopMode = 'smart' | 'fast' | 'immediate';

/** Where and as whom to reach a member's PostgreSQL. */
export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/** Where pg_basebackup clones from. */
export interface ReplicationSource {
  host: string;
  port: number;
  username: string;
  password?: string;
}

/** One pgpass line's match fields: a value, or '*' for any. */
export interface PgpassEntry {
  host: string;
  port: string;
  database: string;
  user: Credentials;
}

export interface BootstrapUsers {
  superuser: Credentials;
  replication: Credentials;
  rewind?: Credentials;
}

/** This node's PostgreSQL: its data directory, its postmaster, its files and keel's SQL connection. */
export interface PostgresNode {
  dataDirState(): Promise<DataDirState>;
  controlData(): Promise<ControlData>;
  hasStandbySignal(): Promise<boolean>;
  /** The postgresql.conf keel wrote last ('' when none). */
  managedConfigText(): Promise<string>;
  /** Our pg_wal/NNNNNNNN.history for `timeline`, or null when absent. */
  timelineHistoryText(timeline: number): Promise<string | null>;
  /** The last `maxBytes` of the server log ('' when unreadable). */
  serverLogText(maxBytes: number): Promise<string>;
  /**
   * The server log from byte `offset` on, at most `maxBytes`, cut after its last complete line;
   * `end` is where the next read starts. A log shorter than `offset` (rotated, recreated) is read
   * from its start. `offset` null: nothing is read, `end` is the log's current size.
   */
  serverLogSince(offset: number | null, maxBytes: number): Promise<{ text: string; end: number }>;
  /**
   * The timeline-origin marker in the data directory: which member promoted it into which
   * timeline (null when absent). pg_basebackup and pg_rewind copy it from their source, so it
   * always describes where this data came from.
   */
  readTimelineOrigin(): Promise<TimelineOrigin | null>;
  writeTimelineOrigin(origin: TimelineOrigin): Promise<void>;

  postmasterPid(): Promise<number | null>;
  start(timeoutMs: number): Promise<void>;
  /** False when it was not running. */
  stop(mode: StopMode, timeoutMs: number): Promise<boolean>;
  kill(): Promise<void>;
  /** SIGHUP; false when it was not running. */
  reload(): Promise<boolean>;
  requestPromote(timeoutMs: number): Promise<void>;

  writeConfig(parameters: Record<string, string>, recovery: RecoverySettings | null): Promise<void>;
  writePgpass(path: string, entries: PgpassEntry[]): Promise<void>;
  /** Writes the node's pgBackRest file (backup: section), 0600 and owned by the PostgreSQL OS user who runs archive_command. */
  writeBackupConfig(path: string, text: string): Promise<void>;
  initdb(args: string[], superuser: Credentials): Promise<void>;
  appendHba(lines: string[]): Promise<void>;
  replaceHba(lines: string[]): Promise<void>;
  /** pg_basebackup into a sibling directory, swapped in when complete (see PostgresInstance.cloneFrom). */
  cloneFrom(
    source: ReplicationSource,
    extraArgs: string[],
    timeoutMs: number,
    onProgress?: (line: string) => void,
    beforeReplace?: () => Promise<void>,
  ): Promise<void>;
  rewind(sourceConninfo: string, password: string | undefined, timeoutMs: number): Promise<void>;
  /** Moves the data directory aside as `<data_dir>.<suffix>`; null when there was none. */
  setAside(suffix: string): Promise<string | null>;

  /** keel's own connection (reconnected when `connectTo` changes it). */
  connectTo(target: ConnectTarget): void;
  probe(): Promise<PostgresProbe>;
  isInRecovery(): Promise<boolean>;
  /** Ends the WAL receiver `pid` (SIGTERM, once its process title says walreceiver); the startup process starts a new one, which connects afresh. */
  restartWalReceiver(pid: number): Promise<void>;
  /** The WAL positions now (GET /patroni answers with these, not the last cycle's probe). */
  walPositions(): Promise<WalPositions>;
  /** A primary's flushed WAL and what each standby confirmed (the sync watch's cheap sample). */
  replicationSample(): Promise<ReplicationSample>;
  /**
   * After synchronous_standby_names changed to name `standbys` (a reload sent): waits up to
   * `timeoutMs` for a walsender of one of them to take the new setting, then commits an empty
   * transaction with synchronous_commit local. PostgreSQL releases commits waiting on the old
   * setting only when a reply from a standby of the new one arrives, and a standby with nothing
   * to receive replies every wal_receiver_status_interval (10 s): measured on PostgreSQL 15, a
   * commit stuck on an isolated standby stayed blocked 8.5 s after the reload; the WAL of this
   * commit makes the new standbys reply within milliseconds.
   */
  releaseSyncWaiters(standbys: readonly string[], timeoutMs: number): Promise<void>;
  /** CHECKPOINT on a connection of its own (the probe's must not wait behind it). */
  checkpoint(timeoutMs: number): Promise<void>;
  createBootstrapUsers(users: BootstrapUsers): Promise<void>;
  /** Physical slots: creates the wanted ones, drops the idle others except those `ignore` matches. */
  syncSlots(wanted: string[], ignore: readonly SlotMatcher[]): Promise<{ created: string[]; dropped: string[] }>;
  closeConnection(): Promise<void>;
}

/**
 * Runs postgresql.callbacks commands without waiting for them (Patroni's CallbackExecutor):
 * on_reload callbacks in one slot, every other callback in another; a new command in a slot
 * kills the one still running there. Never throws: a command that cannot start, fails or
 * overruns its deadline is logged by the implementation.
 */
export interface CallbackPort {
  run(argv: string[], slot: 'reload' | 'other'): void;
}

export interface TimelineOrigin {
  timeline: number;
  member: string;
}

/** The leader's current timeline and its history file, or why they could not be read. */
/** `unreachable`: no connection could be opened at all (refused, timed out), as opposed to a refusal by the server. */
export type LeaderHistory = { ok: true; timeline: number; history: TimelineSwitch[] } | { ok: false; cause: string; unreachable: boolean };

/** Other members' PostgreSQL. */
export interface RemotePostgres {
  /** The leader's timeline and history: over replication as `replication`, else over SQL as `rewind`. */
  leaderHistory(replication: PostgresEndpoint, rewind: PostgresEndpoint, timeoutMs: number): Promise<LeaderHistory>;
  /** The leader checkpointed on its current timeline; null when it could not be asked. */
  leaderHasCheckpointed(endpoint: PostgresEndpoint, timeoutMs: number): Promise<boolean | null>;
  /** pg_is_in_recovery() is false there; throws (with the cause) when it cannot be reached. */
  isPrimary(endpoint: PostgresEndpoint, timeoutMs: number): Promise<boolean>;
}
