/**
 * What a running PostgreSQL says about itself, in one round trip: role, WAL positions,
 * timeline, replication state. One long-lived connection per agent, reopened on failure;
 * every query has a deadline.
 */
import pg from 'pg';
import { parseLsn } from '../ha/core/lsn.js';
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
       wr.status AS receiver_status, wr.received_tli, wr.sender_host, wr.sender_port,
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
                 'sync_priority', sync_priority)), '[]'::json)
          FROM pg_stat_replication) AS replication
  FROM (SELECT 1) AS one LEFT JOIN pg_stat_get_wal_receiver() AS wr ON true`;
export class PostgresConnection {
    target;
    timeoutMs;
    client = null;
    connecting = null;
    constructor(target, timeoutMs) {
        this.target = target;
        this.timeoutMs = timeoutMs;
    }
    async connect() {
        if (this.client !== null)
            return this.client;
        if (this.connecting !== null)
            return this.connecting;
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
            }
            catch (error) {
                void client.end().catch(() => undefined);
                throw error;
            }
            this.client = client;
            return client;
        })();
        try {
            return await this.connecting;
        }
        finally {
            this.connecting = null;
        }
    }
    drop(client) {
        if (this.client === client)
            this.client = null;
        void client.end().catch(() => undefined);
    }
    /** Runs one statement; on any error the connection is dropped so the next call reconnects. */
    async query(sql, params = []) {
        const client = await this.connect();
        try {
            const result = await client.query(sql, params);
            return result.rows;
        }
        catch (error) {
            this.drop(client);
            throw error;
        }
    }
    async probe() {
        const rows = await this.query(PROBE_SQL);
        const row = rows[0];
        if (row === undefined)
            throw new Error('probe returned no row');
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
            })),
        };
    }
    async close() {
        const client = this.client;
        this.client = null;
        if (client !== null)
            await client.end().catch(() => undefined);
    }
}
//# sourceMappingURL=probe.js.map