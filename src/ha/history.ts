/**
 * The switch point of a timeline that ended at our promotion, read from the .history file
 * PostgreSQL wrote for the new timeline (what Patroni records in the DCS `history` key).
 */
import type { NodeRuntime } from './runtime.js';
import { historyFileName, parseTimelineHistory } from './divergence.js';

export async function readSwitchLsn(rt: NodeRuntime, endedTimeline: number): Promise<number> {
  try {
    const rows = await rt.conn.query<{ content: string }>('SELECT pg_catalog.pg_read_file($1) AS content', [`pg_wal/${historyFileName(endedTimeline + 1)}`]);
    const entry = parseTimelineHistory(rows[0]?.content ?? '').find((h) => h.timeline === endedTimeline);
    if (entry !== undefined) return entry.switchLsn;
  } catch (error) {
    rt.log.warning(`cannot read the timeline history: ${error instanceof Error ? error.message : String(error)}`);
  }
  return rt.probe?.currentLsn ?? 0;
}
