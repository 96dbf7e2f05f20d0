/**
 * What the REST API knows about this node: the `NodeStatus` snapshot the agent hands the server
 * (rebuilt every HA cycle and whenever a request asks), and the JSON Patroni 3.0.2 answers on
 * GET /patroni and on the GET health endpoints, built from it.
 *
 * Invariants:
 *  - everything here is pure: no clock, no I/O. Time-dependent facts (whether we still hold the
 *    leader lock, whether the DCS snapshot is younger than ttl) are decided by the agent when it
 *    builds the snapshot;
 *  - the JSON has Patroni 3.0.2's keys, in Patroni's order, omitted exactly when Patroni omits
 *    them (see reported.ts for the PostgreSQL part), so `pyJsonDumps` of it is byte-identical to
 *    Patroni's body. keel's own additions live under the single key `keel`, which Patroni's
 *    readers (patronictl, Patroni's is_healthiest_node) ignore.
 */
import type { SynchronousMode } from '../config/types.js';
import { pythonIsoformat } from '../patroni/iso-datetime.js';
import { reportedPostgres, type Reported } from './reported.js';
import { effectiveTags } from './tags.js';

export { healthResponse, HEALTH_PATHS, type HealthCode } from './health.js';
export { publishedTags, effectiveTags } from './tags.js';
export { patroniRoleName } from './reported.js';

/**
 * Patroni's postgresql.state strings (3.0.2). 'unknown' is what the API reports when PostgreSQL
 * should be running but did not answer the status query; the agent may also set it itself.
 */
export type PostgresState =
  | 'running'
  | 'starting'
  | 'stopping'
  | 'stopped'
  | 'restarting'
  | 'crashed'
  | 'start failed'
  | 'stop failed'
  | 'initializing new cluster'
  | 'initdb failed'
  | 'running custom bootstrap script'
  | 'custom bootstrap failed'
  | 'creating replica'
  | 'unknown';

/**
 * The role keel manages PostgreSQL as (Patroni's postgresql.role). 'primary' is published as
 * 'master', Patroni 3.0.2's spelling; 'promoted' is the short window between pg_ctl promote and
 * the first cycle that sees the promotion finished; 'demoted' a former primary being stopped.
 */
export type NodeRole = 'primary' | 'replica' | 'standby_leader' | 'uninitialized' | 'demoted' | 'promoted';

/** One row of pg_stat_replication as Patroni's status query returns it (on the primary). */
export interface ReplicationRow {
  usename: string | null;
  application_name: string;
  /** Client address as text, null for a Unix-socket connection. */
  client_addr: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
}

/** WAL positions of a primary (not in recovery). */
export interface PrimaryXlog {
  kind: 'primary';
  /** pg_current_wal_lsn() in bytes. */
  location: number;
}

/** WAL positions of a server in recovery (replica or standby leader). */
export interface ReplicaXlog {
  kind: 'replica';
  /** pg_last_wal_receive_lsn() in bytes; null (or 0) when no WAL was streamed — Patroni then shows the replayed position. */
  receivedLocation: number | null;
  /** pg_last_wal_replay_lsn() in bytes. */
  replayedLocation: number;
  /** pg_last_xact_replay_timestamp() as PostgreSQL printed it (ISO-8601 or to_char 'YYYY-MM-DD HH24:MI:SS.US TZH:TZM'); null before any replay. */
  replayedTimestamp: string | null;
  /** pg_is_wal_replay_paused(). */
  paused: boolean;
}

/** What PostgreSQL answered to the status query (Patroni's get_postgresql_status row). */
export interface PostgresFacts {
  /** pg_postmaster_start_time() as PostgreSQL printed it (ISO-8601 or the probe's to_char form). */
  postmasterStartTime: string;
  /** server_version_num, e.g. 150018. */
  serverVersion: number;
  /**
   * Timeline: on a primary the one in the current WAL file name; in recovery the cached replica
   * timeline (Patroni's replica_cached_timeline), null when unknown.
   */
  timeline: number | null;
  xlog: PrimaryXlog | ReplicaXlog;
  /** pg_stat_replication rows; empty on replicas and on a primary without standbys. */
  replication: ReplicationRow[];
}

/**
 * The DCS as last read, when that read is fresh: Patroni's `dcs.cluster`, which is None when
 * the last successful read is older than ttl (or the last read failed).
 */
export interface ClusterFacts {
  /** Holder of the leader key, null when the cluster is unlocked. */
  leaderName: string | null;
  /** The leader's last published WAL position (status key `optime`) in bytes; 0 when none. Used by `?lag=`. */
  lastLsn: number;
  /** `synchronous_mode` of the dynamic configuration, parsed as Patroni does. */
  synchronousMode: SynchronousMode;
  /** Names in the sync key's `sync_standby` list. */
  syncStandbys: string[];
}

/**
 * A restart scheduled with POST /restart {"schedule": ...}: the request's fields in the order
 * they were received, plus `postmaster_start_time` (dropped from the JSON, as Patroni does).
 */
export type ScheduledRestart = { schedule: string } & Record<string, unknown>;

/** Everything the REST API needs to answer any GET, captured at one instant. */
export interface NodeStatus {
  /** Member name, Patroni scope and the version string published as `patroni.version`. */
  patroni: { version: string; scope: string; name: string };
  state: PostgresState;
  role: NodeRole;
  /**
   * The status query's answer, or null when it was not run (state not running / starting /
   * restarting) or failed. Ignored unless `state` is one of those three, as in Patroni.
   */
  postgres: PostgresFacts | null;
  /** Database system identifier (pg_controldata), null before initdb/basebackup. */
  systemIdentifier: string | null;
  /** Tags exactly as configured (LocalConfig.tags.raw); the false-valued nofailover,
   *  noloadbalance, clonefrom and nosync are dropped when published, as Patroni does. */
  tags: Record<string, unknown>;
  /** Patroni's _disable_sync: nosync forced on for a while (published as tags.nosync = true). */
  syncDisabled: boolean;
  pendingRestart: boolean;
  scheduledRestart: ScheduledRestart | null;
  /** The watchdog is configured but unhealthy (Patroni's not watchdog.is_healthy). */
  watchdogFailed: boolean;
  /**
   * This node holds the leader lock right now (Patroni's ha.is_leader(): the last successful
   * leader-key update is younger than ttl). Decided by the agent from its lease bookkeeping.
   */
  holdsLeaderLock: boolean;
  /** Fresh DCS facts, or null when the DCS could not be read within ttl. */
  cluster: ClusterFacts | null;
  /** Maintenance mode (dynamic config `pause`). */
  paused: boolean;
  /** The dynamic config has a standby_cluster section. */
  standbyCluster: boolean;
  /** Failsafe mode is active: the leader keeps running without the DCS because every member answered. */
  failsafeActive: boolean;
  /** Wall-clock epoch seconds (integer) of the last successful DCS read, 0 before the first. */
  dcsLastSeenS: number;
  /** The last HA decision sentence (keel's addition, under `keel.last_why`); '' before the first cycle. */
  lastWhy: string;
  /**
   * A replica whose WAL receiver streams (Patroni >= 3.1's replication_state 'streaming'); false
   * for a primary, a stopped server or a replica that receives nothing. Read by `/replica?lag=`
   * and `?replication_state=streaming`: a replica that does not stream is stale, whatever its lag
   * looks like.
   */
  /**
   * Commits made visible on this server without the synchronous replication they waited for (a
   * client cancelled the wait), counted from the server log since the agent started; under
   * `keel.local_only_commits` in GET /patroni. Absent: 0.
   */
  localOnlyCommits?: number;
  replicaStreaming: boolean;
  /**
   * HA loop timing for /liveness: when the next cycle is due, on the monotonic clock the server
   * is given (performance.now() of this process), and the DCS ttl.
   */
  haLoop: { nextRunAtMs: number; ttlMs: number };
}

/** Python's str() of a timezone-aware datetime, as Patroni's json.dumps(default=str) prints it. */
export function pythonDatetimeStr(text: string): string {
  return pythonIsoformat(text).replace('T', ' ');
}

function postgresJson(reported: Reported): Record<string, unknown> {
  const json: Record<string, unknown> = { state: reported.state };
  const query = reported.query;
  if (query !== null) {
    json['postmaster_start_time'] = pythonDatetimeStr(query.postmasterStartTime);
    json['role'] = reported.role;
    json['server_version'] = query.serverVersion;
    const xlog = query.xlog;
    json['xlog'] =
      xlog.kind === 'primary'
        ? { location: xlog.location }
        : {
            received_location: xlog.receivedLocation === null || xlog.receivedLocation === 0 ? xlog.replayedLocation : xlog.receivedLocation,
            replayed_location: xlog.replayedLocation,
            replayed_timestamp: xlog.replayedTimestamp === null ? null : pythonDatetimeStr(xlog.replayedTimestamp),
            paused: xlog.paused,
          };
    if (reported.syncStandby) json['sync_standby'] = true;
    if (reported.quorumStandby) json['quorum_standby'] = true;
    json['timeline'] = query.timeline;
    if (query.replication.length > 0) json['replication'] = query.replication.map(replicationJson);
  } else {
    json['role'] = reported.role;
  }
  if (reported.clusterUnlocked) json['cluster_unlocked'] = true;
  if (reported.failsafeActive) json['failsafe_mode_is_active'] = true;
  json['dcs_last_seen'] = reported.dcsLastSeenS;
  return json;
}

function replicationJson(row: ReplicationRow): Record<string, unknown> {
  return {
    usename: row.usename,
    application_name: row.application_name,
    client_addr: row.client_addr,
    state: row.state,
    sync_state: row.sync_state,
    sync_priority: row.sync_priority,
  };
}

function scheduledRestartJson(restart: ScheduledRestart): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(restart)) {
    if (key === 'postmaster_start_time') continue;
    json[key] = key === 'schedule' && typeof value === 'string' ? pythonIsoformat(value) : value;
  }
  return json;
}

/**
 * The body of GET /patroni (and of GET on every health endpoint), shaped as Patroni 3.0.2's
 * get_postgresql_status() + _write_status_response(), plus `keel: {name, last_why}`.
 */
export function patroniStatusJson(status: NodeStatus): Record<string, unknown> {
  const reported = reportedPostgres(status);
  const json = postgresJson(reported);
  const tags = effectiveTags(status);
  if (Object.keys(tags).length > 0) json['tags'] = tags;
  if (status.systemIdentifier !== null && status.systemIdentifier !== '') json['database_system_identifier'] = status.systemIdentifier;
  if (status.pendingRestart) json['pending_restart'] = true;
  // `name` is what Patroni >= 3.1 adds here (3.0.2 has only version and scope); readers ignore extras.
  json['patroni'] = { version: status.patroni.version, scope: status.patroni.scope, name: status.patroni.name };
  if (status.scheduledRestart !== null) json['scheduled_restart'] = scheduledRestartJson(status.scheduledRestart);
  if (status.watchdogFailed) json['watchdog_failed'] = true;
  if (status.paused) json['pause'] = true;
  // Patroni >= 3.1's replication_state, kept under `keel` so the body stays byte-identical to
  // 3.0.2's: a leader checks its switchover candidate streams (src/ha/peers.ts reads both).
  const keel: Record<string, unknown> = { name: status.patroni.name, last_why: status.lastWhy };
  if (reported.query !== null && reported.role === 'replica') keel['replication_state'] = status.replicaStreaming ? 'streaming' : 'in archive recovery';
  keel['local_only_commits'] = status.localOnlyCommits ?? 0;
  json['keel'] = keel;
  return json;
}
