/**
 * What a running PostgreSQL says about itself, in one round trip: role, WAL positions,
 * timeline, replication state. One long-lived connection per agent, reopened on failure;
 * every query has a deadline.
 */
import pg from 'pg';
import { withTimeout } from '../engine/timeout.js';
import { parseLsn } from '../ha/core/lsn.js';
import type { ReplicationSample } from '../ha/core/sync-stall.js';

export interface ReplicationRow {
  usename: string;
  applicationName: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  syncPriority: number;
  /** WAL the standby has flushed (bytes), null when it has not reported. */
  flushLsn: number | null;
}

/** Where the server's WAL is now: a primary's write position, a replica's received and replayed. Bytes. */
export interface WalPositions {
  inRecovery: boolean;
  currentLsn: number | null;
  receiveLsn: number | null;
  replayLsn: number | null;
}

export interface PostgresProbe {
  inRecovery: boolean;
  serverVersion: number;
  postmasterStartTime: string;
  timeline: number;
  /** Primary: current WAL write position. Replica: null. */
  currentLsn: number | null;
  receiveLsn: number | null;
  replayLsn: number | null;
  replayTimestamp: string | null;
  replayPaused: boolean;
  /** WAL receiver status ('streaming', 'catchup', ...) or null when none runs. */
  walReceiverStatus: string | null;
  /** Host and port the WAL receiver is connected to (replicas). */
  walReceiverSender: { host: string; port: number } | null;
  /** The WAL receiver's process and how long ago it last heard from its sender (ms, by the server's clock); null when none runs. */
  walReceiverPid: number | null;
  walReceiverSilentMs: number | null;
  synchronousStandbyNames: string;
  replication: ReplicationRow[];
  /** Physical replication slots (pg_replication_slots), so the leader syncs its slots only when they differ. */
  physicalSlots: Array<{ name: string; active: boolean }>;
  /** The timeline of the last checkpoint (pg_control_checkpoint): behind `timeline` right after a promotion. */
  checkpointTimeline: number;
  /**
   * pg_rewind can work on this data directory: data checksums are on, or wal_log_hints is on (the
   * running server's value is the one its control file records). pg_rewind checks the same.
   */
  rewindCapable: boolean;
  /**
   * Parameters whose new value (in postgresql.conf) waits for a restart: pg_settings.pending_restart,
   * with the value the server runs with (current_setting, units as PostgreSQL shows them).
   * Recovery settings are left out, as Patroni leaves them out.
   */
  pendingRestart: PendingParameter[];
}

export interface PendingParameter {
  name: string;
  runningValue: string;
}

export interface ConnectTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

// One statement so a probe is one round trip. Timeline: on a primary the current WAL file name
// carries it (right after promotion, before any checkpoint); on a replica the WAL receiver's
// received_tli, else the newer of the last checkpoint's and the minimum recovery point's (after
// pg_rewind the latter is already on the source's timeline while the checkpoint is not).
const PROBE_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num')::int AS server_version,
       to_char(pg_postmaster_start_time(), 'YYYY-MM-DD HH24:MI:SS.US TZH:TZM') AS postmaster_start_time,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_timeline,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       to_char(pg_last_xact_replay_timestamp(), 'YYYY-MM-DD HH24:MI:SS.US TZH:TZM') AS replay_timestamp,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_timeline,
       (SELECT min_recovery_end_timeline FROM pg_control_recovery()) AS min_recovery_timeline,
       wr.status AS receiver_status, wr.received_tli, wr.sender_host, wr.sender_port, wr.pid AS receiver_pid,
       (extract(epoch FROM clock_timestamp() - wr.last_msg_receipt_time) * 1000)::float8 AS receiver_silent_ms,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       (SELECT data_page_checksum_version FROM pg_control_init()) <> 0
         OR current_setting('wal_log_hints')::boolean AS rewind_capable,
       (SELECT coalesce(json_agg(json_build_object('name', name, 'value', current_setting(name)) ORDER BY name), '[]'::json)
          FROM pg_settings
         WHERE pending_restart
           AND name NOT IN ('primary_conninfo', 'primary_slot_name', 'restore_command', 'recovery_target_timeline',
                            'promote_trigger_file', 'archive_cleanup_command', 'recovery_end_command', 'recovery_min_apply_delay')) AS pending_restart,
       (SELECT coalesce(json_agg(json_build_object('usename', usename, 'application_name', application_name,
                 'client_addr', host(client_addr), 'state', state, 'sync_state', sync_state,
                 'sync_priority', sync_priority, 'flush_lsn', flush_lsn::text)), '[]'::json)
          FROM pg_stat_replication) AS replication,
       (SELECT coalesce(json_agg(json_build_object('name', slot_name, 'active', active)), '[]'::json)
          FROM pg_replication_slots WHERE slot_type = 'physical') AS physical_slots
  FROM (SELECT 1) AS one LEFT JOIN pg_stat_get_wal_receiver() AS wr ON true`;

/** How often releaseSyncWaiters looks whether the walsenders took the new setting. */
const SYNC_TAKEN_POLL_MS = 20;

/** The sync watch's sample, taken every few hundred ms on a synchronous primary: kept minimal. */
const REPLICATION_SAMPLE_SQL = `
SELECT pg_current_wal_flush_lsn()::text AS flush,
       (SELECT coalesce(json_agg(json_build_object('name', application_name, 'flush_lsn', flush_lsn::text)), '[]'::json)
          FROM pg_stat_replication) AS standbys`;

interface ProbeRow {
  in_recovery: boolean;
  server_version: number;
  postmaster_start_time: string;
  current_lsn: string | null;
  primary_timeline: number | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_timestamp: string | null;
  replay_paused: boolean;
  checkpoint_timeline: number;
  min_recovery_timeline: number;
  receiver_status: string | null;
  received_tli: number | null;
  sender_host: string | null;
  sender_port: number | null;
  receiver_pid: number | null;
  receiver_silent_ms: number | null;
  synchronous_standby_names: string;
  rewind_capable: boolean;
  pending_restart: Array<{ name: string; value: string }>;
  physical_slots: Array<{ name: string; active: boolean }>;
  replication: Array<{
    usename: string;
    application_name: string;
    client_addr: string | null;
    state: string;
    sync_state: string;
    sync_priority: number;
    flush_lsn: string | null;
  }>;
}

export class PostgresConnection {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  /** Settles once the statement sent or waiting last has (either way): the next one waits for it. */
  private last: Promise<void> = Promise.resolve();
  /** Statements called and not yet settled: none means the next one need not wait. */
  private inFlight = 0;

  constructor(
    private readonly target: ConnectTarget,
    private readonly timeoutMs: number,
  ) {}

  private async connect(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    if (this.connecting !== null) return this.connecting;
    this.connecting = (async () => {
      const client = new pg.Client({
        host: this.target.host,
        port: this.target.port,
        user: this.target.user,
        database: this.target.database,
        connectionTimeoutMillis: this.timeoutMs,
        query_timeout: this.timeoutMs,
        application_name: 'keel',
        ...(this.target.password === undefined ? {} : { password: this.target.password }),
      });
      client.on('error', () => this.drop(client));
      try {
        await client.connect();
      } catch (error) {
        void client.end().catch(() => undefined);
        throw error;
      }
      this.client = client;
      return client;
    })();
    try {
      return await this.connecting;
    } finally {
      this.connecting = null;
    }
  }

  private drop(client: pg.Client): void {
    if (this.client === client) this.client = null;
    void client.end().catch(() => undefined);
  }

  /**
   * Runs one statement; on any error the connection is dropped so the next call reconnects. A
   * `prepareAs` name makes it a prepared statement of this connection: the text is sent and parsed
   * once, later runs send only its name (issue 12: a profile of an idle leader put a sixth of
   * its samples under sending the probe's 2 KB of SQL each cycle). A new connection prepares it again.
   */
  async query<Row extends pg.QueryResultRow>(sql: string, params: unknown[] = [], prepareAs?: string): Promise<Row[]> {
    // One statement at a time, in call order: the HA cycle's probe, GET /patroni's WAL positions
    // and the sync watch's samples overlap. pg 8 queues overlapping calls itself but prints a
    // DeprecationWarning into the agent's log, and pg 9 refuses them. As in pg's queue, the wait
    // for the statements ahead counts against this one's deadline.
    // The usual case, the cycle's probe alone, waits for nothing and arms no timer.
    const calledMs = performance.now();
    const ahead = this.inFlight === 0 ? null : this.last;
    this.inFlight++;
    const run = this.runAfter<Row>(ahead, calledMs, sql, params, prepareAs);
    const settled = (): void => {
      this.inFlight--;
    };
    this.last = run.then(settled, settled);
    return run;
  }

  private async runAfter<Row extends pg.QueryResultRow>(
    ahead: Promise<void> | null,
    calledMs: number,
    sql: string,
    params: unknown[],
    prepareAs?: string,
  ): Promise<Row[]> {
    const remainingMs = (): number => this.timeoutMs - (performance.now() - calledMs);
    const late = (): Error => new Error(`Query read timeout: ${this.timeoutMs} ms passed before its turn on keel's connection`);
    if (
      ahead !== null &&
      !(await withTimeout(
        ahead.then(() => true),
        Math.max(0, remainingMs()),
        () => false,
      ))
    )
      throw late();
    const client = await this.connect();
    // A statement whose deadline passed while it waited (its turn or a new connection) fails here
    // rather than being sent with a token timeout: it would race its own timer (CI saw a 1 ms
    // query_timeout lose to a local answer).
    const query_timeout = Math.round(remainingMs());
    if (query_timeout < 1) throw late();
    // pg reads a per-statement query_timeout from the config (client.js), which its types omit.
    const config = { ...(prepareAs === undefined ? {} : { name: prepareAs }), text: sql, values: params, query_timeout } as pg.QueryConfig;
    try {
      const result = await client.query<Row>(config);
      return result.rows;
    } catch (error) {
      this.drop(client);
      throw error;
    }
  }

  async probe(): Promise<PostgresProbe> {
    const rows = await this.query<ProbeRow>(PROBE_SQL, [], 'keel_probe');
    const row = rows[0];
    if (row === undefined) throw new Error('probe returned no row');
    return {
      inRecovery: row.in_recovery,
      serverVersion: row.server_version,
      postmasterStartTime: row.postmaster_start_time,
      timeline: row.in_recovery
        ? (row.received_tli ?? Math.max(row.checkpoint_timeline, row.min_recovery_timeline))
        : (row.primary_timeline ?? row.checkpoint_timeline),
      currentLsn: row.current_lsn === null ? null : parseLsn(row.current_lsn),
      receiveLsn: row.receive_lsn === null ? null : parseLsn(row.receive_lsn),
      replayLsn: row.replay_lsn === null ? null : parseLsn(row.replay_lsn),
      replayTimestamp: row.replay_timestamp,
      replayPaused: row.replay_paused,
      walReceiverStatus: row.receiver_status,
      walReceiverSender: row.sender_host === null ? null : { host: row.sender_host, port: row.sender_port ?? 5432 },
      walReceiverPid: row.receiver_pid,
      walReceiverSilentMs: row.receiver_silent_ms,
      synchronousStandbyNames: row.synchronous_standby_names,
      rewindCapable: row.rewind_capable,
      checkpointTimeline: row.checkpoint_timeline,
      pendingRestart: row.pending_restart.map((p) => ({ name: p.name, runningValue: p.value })),
      replication: row.replication.map((r) => ({
        usename: r.usename,
        applicationName: r.application_name,
        clientAddr: r.client_addr,
        state: r.state,
        syncState: r.sync_state,
        syncPriority: r.sync_priority,
        flushLsn: r.flush_lsn === null ? null : parseLsn(r.flush_lsn),
      })),
      physicalSlots: row.physical_slots,
    };
  }

  async walPositions(): Promise<WalPositions> {
    const [row] = await this.query<{ in_recovery: boolean; current_lsn: string | null; receive_lsn: string | null; replay_lsn: string | null }>(
      `SELECT pg_is_in_recovery() AS in_recovery,
              CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
              pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn`,
    );
    if (row === undefined) throw new Error('WAL positions query returned no row');
    const lsn = (text: string | null): number | null => (text === null ? null : parseLsn(text));
    return { inRecovery: row.in_recovery, currentLsn: lsn(row.current_lsn), receiveLsn: lsn(row.receive_lsn), replayLsn: lsn(row.replay_lsn) };
  }

  /** Fails on a server in recovery (pg_current_wal_flush_lsn): callers sample primaries only. */
  async replicationSample(): Promise<ReplicationSample> {
    const [row] = await this.query<{ flush: string; standbys: Array<{ name: string; flush_lsn: string | null }> }>(
      REPLICATION_SAMPLE_SQL,
      [],
      'keel_replication_sample',
    );
    if (row === undefined) throw new Error('replication sample returned no row');
    return {
      primaryFlushBytes: parseLsn(row.flush),
      standbys: row.standbys.map((s) => ({ name: s.name, flushLsnBytes: s.flush_lsn === null ? null : parseLsn(s.flush_lsn) })),
    };
  }

  /** See PostgresNode.releaseSyncWaiters (src/postgres/ports.ts). */
  async releaseSyncWaiters(standbys: readonly string[], timeoutMs: number): Promise<void> {
    const names = standbys.map((n) => n.toLowerCase());
    const anyName = names.includes('*');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // sync_state comes from each walsender's priority, which it sets when it takes the reload
      const [row] = await this.query<{ taken: boolean }>(
        `SELECT count(*) > 0 AS taken FROM pg_stat_replication
          WHERE sync_state IN ('sync', 'quorum') AND ($2 OR lower(application_name) = ANY($1::text[]))`,
        [names, anyName],
      );
      if (row?.taken === true || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, SYNC_TAKEN_POLL_MS));
    }
    // one simple-protocol string: the transaction cannot interleave with the probe's queries
    await this.query('BEGIN; SET LOCAL synchronous_commit TO local; SELECT pg_catalog.txid_current(); COMMIT');
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null) await client.end().catch(() => undefined);
  }
}
