/**
 * Has this node's WAL gone past the point where the leader's timeline forked from ours?
 * (Patroni's _check_timeline_and_lsn.) If so, following the leader would fail — or worse, the
 * node would carry writes the cluster never saw — so it must pg_rewind or re-clone first.
 *
 * The rule is pure; fetching the leader's timeline history is a small I/O helper beside it.
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
 * true: diverged (rewind or re-clone needed); false: safe to follow; null: cannot tell.
 * `history` is the leader's history file for `leaderTimeline` (empty when it is timeline 1).
 */
export function divergedFrom(local: LocalWal, leaderTimeline: number, history: TimelineSwitch[] | null): boolean | null {
  if (local.timeline === leaderTimeline) return false;
  if (local.timeline > leaderTimeline) return true;
  if (history === null) return null;
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

/** Reads the leader's history file for its timeline over SQL (superuser), with a deadline. */
export async function fetchLeaderHistory(
  target: { host: string; port: number; user: string; password?: string },
  leaderTimeline: number,
  timeoutMs: number,
): Promise<TimelineSwitch[] | null> {
  if (leaderTimeline <= 1) return [];
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'keel-history',
    ...(target.password === undefined ? {} : { password: target.password }),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ content: string }>('SELECT pg_catalog.pg_read_file($1) AS content', [`pg_wal/${historyFileName(leaderTimeline)}`]);
    return parseTimelineHistory(result.rows[0]?.content ?? '');
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
