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
import type { LeaderHistory, PostgresEndpoint, RemotePostgres } from './ports.js';

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim();
}

function client(target: PostgresEndpoint, timeoutMs: number, replication: boolean): pg.Client {
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

/** Connects, or throws a ConnectFailure when no connection could be opened (the server was not reached). */
class ConnectFailure extends Error {}
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN']);

async function connect(c: pg.Client): Promise<void> {
  try {
    await c.connect();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // node-postgres says "timeout expired" / "Connection terminated due to connection timeout" for its own deadline
    if ((typeof code === 'string' && NETWORK_CODES.has(code)) || /timeout/i.test(errorText(error))) throw new ConnectFailure(errorText(error));
    throw error;
  }
}

function historyText(content: string | Buffer | undefined): string {
  return content === undefined ? '' : typeof content === 'string' ? content : content.toString('utf8');
}

/** Over a replication connection, as the replication user: IDENTIFY_SYSTEM, then TIMELINE_HISTORY. */
async function historyOverReplication(target: PostgresEndpoint, timeoutMs: number): Promise<LeaderHistory> {
  const c = client(target, timeoutMs, true);
  try {
    await connect(c);
    const identify = await c.query<{ timeline: number | string }>('IDENTIFY_SYSTEM');
    const timeline = Number(identify.rows[0]?.timeline ?? 0);
    if (!Number.isInteger(timeline) || timeline < 1) return { ok: false, cause: 'the leader did not report its timeline', unreachable: false };
    if (timeline === 1) return { ok: true, timeline, history: [] };
    const result = await c.query<{ content: string | Buffer }>(`TIMELINE_HISTORY ${timeline}`);
    return { ok: true, timeline, history: parseTimelineHistory(historyText(result.rows[0]?.content)) };
  } catch (error) {
    return { ok: false, cause: `as ${target.user} over replication: ${errorText(error)}`, unreachable: error instanceof ConnectFailure };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Over an ordinary connection, as the rewind user: the current timeline from the WAL file name,
 * the history file with pg_read_binary_file (one of the functions Patroni grants that user).
 */
async function historyOverSql(target: PostgresEndpoint, timeoutMs: number): Promise<LeaderHistory> {
  const c = client(target, timeoutMs, false);
  try {
    await connect(c);
    const current = await c.query<{ timeline: number | null }>(
      `SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
                   ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline`,
    );
    const timeline = current.rows[0]?.timeline ?? null;
    if (timeline === null) return { ok: false, cause: 'the leader is still in recovery', unreachable: false };
    if (timeline === 1) return { ok: true, timeline, history: [] };
    const file = await c.query<{ content: Buffer }>('SELECT pg_catalog.pg_read_binary_file($1) AS content', [`pg_wal/${historyFileName(timeline)}`]);
    return { ok: true, timeline, history: parseTimelineHistory(historyText(file.rows[0]?.content)) };
  } catch (error) {
    return { ok: false, cause: `as ${target.user}: ${errorText(error)}`, unreachable: error instanceof ConnectFailure };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The leader's timeline and history: over replication first (what Patroni does), else over SQL as
 * the rewind user — so a wrong replication password does not make the check inconclusive.
 */
export async function leaderHistory(replication: PostgresEndpoint, rewind: PostgresEndpoint, timeoutMs: number): Promise<LeaderHistory> {
  const first = await historyOverReplication(replication, timeoutMs);
  if (first.ok) return first;
  const second = await historyOverSql(rewind, timeoutMs);
  if (second.ok) return second;
  return {
    ok: false,
    cause: `cannot read the leader's timeline history (${first.cause}; ${second.cause})`,
    unreachable: !first.ok && first.unreachable && second.unreachable,
  };
}

/**
 * Whether the leader is a primary that has checkpointed on its current timeline (Patroni's
 * check_leader_has_run_checkpoint): pg_rewind reads the source's timeline from its control file,
 * so before that checkpoint it would see the old timeline and wrongly find nothing to rewind.
 * Needs only an ordinary login (pg_control_checkpoint is executable by any role). Null: the leader
 * could not be asked (the rewind itself will then fail and say why).
 */
export async function leaderHasCheckpointed(target: PostgresEndpoint, timeoutMs: number): Promise<boolean | null> {
  const c = client(target, timeoutMs, false);
  try {
    await c.connect();
    const result = await c.query<{ done: boolean }>(
      // CASE, not AND: pg_walfile_name() raises an error during recovery, and AND need not short-circuit.
      `SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN false
                   ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int = timeline_id
              END AS done
         FROM pg_catalog.pg_control_checkpoint()`,
    );
    return result.rows[0]?.done === true;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** pg_is_in_recovery() is false on the member at `target`; throws when it cannot be asked. */
export async function isPrimary(target: PostgresEndpoint, timeoutMs: number): Promise<boolean> {
  const c = client(target, timeoutMs, false);
  try {
    await c.connect();
    const result = await c.query<{ in_recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
    return result.rows[0]?.in_recovery === false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export const remotePostgresClient: RemotePostgres = { leaderHistory, leaderHasCheckpointed, isPrimary };
