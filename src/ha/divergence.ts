/**
 * Has this node's WAL gone past the point where the leader's timeline forked from ours?
 * (Patroni's _check_timeline_and_lsn.) If so, following the leader would fail — or worse, the
 * node would carry writes the cluster never saw — so it must pg_rewind or re-clone first.
 *
 * The rule (`divergedFrom`) is pure. The I/O beside it asks the leader the way Patroni does: over a
 * REPLICATION connection as the replication user (IDENTIFY_SYSTEM for its timeline,
 * TIMELINE_HISTORY for the fork points), which needs no grant beyond what streaming needs — the
 * rewind user may not read files (issue 6: pg_read_file was "permission denied" for it). A check
 * that cannot conclude says why, so the agent can report it and decide what to do.
 */
import pg from 'pg';
import { parseLsn } from '../postgres/lsn.js';

export interface TimelineSwitch {
  timeline: number;
  /** The LSN at which `timeline` ended (the next timeline starts there). */
  switchLsn: number;
}

/** Parses a PostgreSQL NNNNNNNN.history file: "timeline<TAB>lsn<TAB>reason" lines. */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || !/^\d+$/.test(fields[0] ?? '')) continue;
    switches.push({ timeline: Number(fields[0]), switchLsn: parseLsn(fields[1] ?? '') });
  }
  return switches;
}

export interface LocalWal {
  timeline: number;
  /** How far our WAL goes (bytes). */
  endLsn: number;
  /** The end is uncertain (crashed primary: WAL may continue past the last checkpoint). */
  endUncertain: boolean;
}

/**
 * true: diverged (rewind or re-clone needed); false: safe to follow.
 * `history` is the leader's history file for `leaderTimeline` (empty when it is timeline 1).
 */
export function divergedFrom(local: LocalWal, leaderTimeline: number, history: TimelineSwitch[]): boolean {
  if (local.timeline === leaderTimeline) return false;
  if (local.timeline > leaderTimeline) return true;
  const ours = history.find((entry) => entry.timeline === local.timeline);
  if (ours === undefined) return true; // our timeline is not an ancestor of the leader's
  // A crashed primary's WAL may run past its last checkpoint: assume the worst (pg_rewind
  // itself reports 'no rewind required' when that was too cautious).
  if (local.endUncertain) return true;
  return local.endLsn > ours.switchLsn;
}

export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

export interface LeaderEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
}

export type LeaderCheck =
  | { ok: true; diverged: boolean; leaderTimeline: number }
  | { ok: false; cause: string };

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim();
}

function client(target: LeaderEndpoint, timeoutMs: number, replication: boolean): pg.Client {
  const c = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'keel-divergence-check',
    ...(replication ? { replication: 'true' } : {}),
    ...(target.password === undefined ? {} : { password: target.password }),
  });
  c.on('error', () => undefined);
  return c;
}

/**
 * Compares our WAL with the leader's history over one replication connection. Our timeline being
 * the leader's while we are not a primary is "safe" without asking (the caller checks that first).
 */
export async function checkAgainstLeader(target: LeaderEndpoint, local: LocalWal, timeoutMs: number): Promise<LeaderCheck> {
  const c = client(target, timeoutMs, true);
  try {
    await c.connect();
    const identify = await c.query<{ timeline: number | string }>('IDENTIFY_SYSTEM');
    const leaderTimeline = Number(identify.rows[0]?.timeline ?? 0);
    if (!Number.isInteger(leaderTimeline) || leaderTimeline < 1) return { ok: false, cause: 'the leader did not report its timeline' };
    if (local.timeline >= leaderTimeline) return { ok: true, diverged: divergedFrom(local, leaderTimeline, []), leaderTimeline };
    const result = await c.query<{ content: string | Buffer }>(`TIMELINE_HISTORY ${leaderTimeline}`);
    const content = result.rows[0]?.content;
    const text = content === undefined ? '' : typeof content === 'string' ? content : content.toString('utf8');
    return { ok: true, diverged: divergedFrom(local, leaderTimeline, parseTimelineHistory(text)), leaderTimeline };
  } catch (error) {
    return { ok: false, cause: `cannot read the leader's timeline history: ${errorText(error)}` };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Whether the leader is a primary that has checkpointed on its current timeline (Patroni's
 * check_leader_has_run_checkpoint): pg_rewind reads the source's timeline from its control file,
 * so before that checkpoint it would see the old timeline and wrongly find nothing to rewind.
 * Needs only an ordinary login (pg_control_checkpoint is executable by any role). Null: the leader
 * could not be asked (the rewind itself will then fail and say why).
 */
export async function leaderHasCheckpointed(target: LeaderEndpoint, timeoutMs: number): Promise<boolean | null> {
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
