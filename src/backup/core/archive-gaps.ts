/**
 * Gaps in a WAL archive: segments missing between two archived ones of the same timeline, from
 * the point the archive must be continuous (the oldest kept backup's start, or where expire's
 * archive retention let it begin) on. A gap there makes point-in-time recovery past it, and
 * every backup after it that needs it, impossible. Pure.
 */
import { isSegmentName, segmentAt, segmentPosition } from './wal.js';

export interface ArchiveGap {
  /** First missing segment. */
  start: string;
  /** Last missing segment. */
  stop: string;
  /** Missing segments in the gap. */
  count: number;
}

/** `names` are archived WAL names (other names are ignored); `continuousFrom` a segment name or null (all). */
export function archiveGaps(names: readonly string[], continuousFrom: string | null): ArchiveGap[] {
  const byTimeline = new Map<string, bigint[]>();
  for (const name of names) {
    if (!isSegmentName(name)) continue;
    const positions = byTimeline.get(name.slice(0, 8)) ?? [];
    positions.push(segmentPosition(name));
    byTimeline.set(name.slice(0, 8), positions);
  }
  const from = continuousFrom === null ? null : segmentPosition(continuousFrom);
  const gaps: ArchiveGap[] = [];
  for (const [timeline, positions] of [...byTimeline.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...new Set(positions)].filter((p) => from === null || p >= from).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    // on the timeline it starts on, the archive must hold the continuity start itself
    if (from !== null && continuousFrom?.slice(0, 8) === timeline && sorted.length > 0 && (sorted[0] as bigint) > from) sorted.unshift(from - 1n);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1] as bigint;
      const current = sorted[i] as bigint;
      if (current - previous > 1n) {
        gaps.push({ start: segmentAt(timeline, previous + 1n), stop: segmentAt(timeline, current - 1n), count: Number(current - previous - 1n) });
      }
    }
  }
  return gaps;
}
