/**
 * Other members' PostgreSQL for real (the RemotePostgres port), each question on a short-lived
 * connection with a deadline. The leader's history is read the way Patroni reads it: over a
 * REPLICATION connection as the replication user (IDENTIFY_SYSTEM for its timeline,
 * TIMELINE_HISTORY for the fork points), which needs no grant beyond what streaming needs; when
 * that fails, as the rewind user with pg_read_binary_file (granted to it, unlike pg_read_file —
 * issue 6). A question that cannot be answered says why. The rule applied to the answer
 * (divergedFrom) is pure, in src/ha/core/timeline.ts.
 */
import pg from 'pg';
import { historyFileName, parseTimelineHistory } from '../ha/core/timeline.js';
function errorText(error) {
    const text = error instanceof Error ? error.message : String(error);
    return text.replace(/\s+/g, ' ').trim();
}
function client(target, timeoutMs, replication) {
    const c = new pg.Client({
        host: target.host,
        port: target.port,
        user: target.user,
        database: 'postgres',
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        application_name: 'keel',
        ...(replication ? { replication: 'true' } : {}),
        ...(target.password === undefined ? {} : { password: target.password }),
    });
    c.on('error', () => undefined);
    return c;
}
function historyText(content) {
    return content === undefined ? '' : typeof content === 'string' ? content : content.toString('utf8');
}
/** Over a replication connection, as the replication user: IDENTIFY_SYSTEM, then TIMELINE_HISTORY. */
async function historyOverReplication(target, timeoutMs) {
    const c = client(target, timeoutMs, true);
    try {
        await c.connect();
        const identify = await c.query('IDENTIFY_SYSTEM');
        const timeline = Number(identify.rows[0]?.timeline ?? 0);
        if (!Number.isInteger(timeline) || timeline < 1)
            return { ok: false, cause: 'the leader did not report its timeline' };
        if (timeline === 1)
            return { ok: true, timeline, history: [] };
        const result = await c.query(`TIMELINE_HISTORY ${timeline}`);
        return { ok: true, timeline, history: parseTimelineHistory(historyText(result.rows[0]?.content)) };
    }
    catch (error) {
        return { ok: false, cause: `as ${target.user} over replication: ${errorText(error)}` };
    }
    finally {
        await c.end().catch(() => undefined);
    }
}
/**
 * Over an ordinary connection, as the rewind user: the current timeline from the WAL file name,
 * the history file with pg_read_binary_file (one of the functions Patroni grants that user).
 */
async function historyOverSql(target, timeoutMs) {
    const c = client(target, timeoutMs, false);
    try {
        await c.connect();
        const current = await c.query(`SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
                   ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline`);
        const timeline = current.rows[0]?.timeline ?? null;
        if (timeline === null)
            return { ok: false, cause: 'the leader is still in recovery' };
        if (timeline === 1)
            return { ok: true, timeline, history: [] };
        const file = await c.query('SELECT pg_catalog.pg_read_binary_file($1) AS content', [`pg_wal/${historyFileName(timeline)}`]);
        return { ok: true, timeline, history: parseTimelineHistory(historyText(file.rows[0]?.content)) };
    }
    catch (error) {
        return { ok: false, cause: `as ${target.user}: ${errorText(error)}` };
    }
    finally {
        await c.end().catch(() => undefined);
    }
}
/**
 * The leader's timeline and history: over replication first (what Patroni does), else over SQL as
 * the rewind user — so a wrong replication password does not make the check inconclusive.
 */
export async function leaderHistory(replication, rewind, timeoutMs) {
    const first = await historyOverReplication(replication, timeoutMs);
    if (first.ok)
        return first;
    const second = await historyOverSql(rewind, timeoutMs);
    return second.ok ? second : { ok: false, cause: `cannot read the leader's timeline history (${first.cause}; ${second.cause})` };
}
/**
 * Whether the leader is a primary that has checkpointed on its current timeline (Patroni's
 * check_leader_has_run_checkpoint): pg_rewind reads the source's timeline from its control file,
 * so before that checkpoint it would see the old timeline and wrongly find nothing to rewind.
 * Needs only an ordinary login (pg_control_checkpoint is executable by any role). Null: the leader
 * could not be asked (the rewind itself will then fail and say why).
 */
export async function leaderHasCheckpointed(target, timeoutMs) {
    const c = client(target, timeoutMs, false);
    try {
        await c.connect();
        const result = await c.query(
        // CASE, not AND: pg_walfile_name() raises an error during recovery, and AND need not short-circuit.
        `SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN false
                   ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int = timeline_id
              END AS done
         FROM pg_catalog.pg_control_checkpoint()`);
        return result.rows[0]?.done === true;
    }
    catch {
        return null;
    }
    finally {
        await c.end().catch(() => undefined);
    }
}
/** pg_is_in_recovery() is false on the member at `target`; throws when it cannot be asked. */
export async function isPrimary(target, timeoutMs) {
    const c = client(target, timeoutMs, false);
    try {
        await c.connect();
        const result = await c.query('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
        return result.rows[0]?.in_recovery === false;
    }
    finally {
        await c.end().catch(() => undefined);
    }
}
export const remotePostgresClient = { leaderHistory, leaderHasCheckpointed, isPrimary };
//# sourceMappingURL=remote.js.map