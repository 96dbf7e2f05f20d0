/**
 * Timelines: parsing a PostgreSQL NNNNNNNN.history file, and the divergence rule — has this
 * node's WAL gone past the point where the leader's timeline forked from ours (Patroni's
 * _check_timeline_and_lsn)? If so, following the leader would fail, or worse, carry writes the
 * cluster never saw, so it must pg_rewind or re-clone first. Pure.
 */
import { parseLsn } from './lsn.js';
/** Parses a PostgreSQL NNNNNNNN.history file: "timeline<TAB>lsn<TAB>reason" lines. */
export function parseTimelineHistory(text) {
    const switches = [];
    for (const line of text.split('\n')) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 2 || !/^\d+$/.test(fields[0] ?? ''))
            continue;
        switches.push({ timeline: Number(fields[0]), switchLsn: parseLsn(fields[1] ?? '') });
    }
    return switches;
}
/** Who created each timeline, from the DCS `history` key: line [t, lsn, reason, ts, newLeader] means newLeader created t + 1. */
export function timelineCreators(lines) {
    const creators = new Map();
    for (const line of lines)
        if (line.newLeader !== undefined)
            creators.set(line.timeline + 1, line.newLeader);
    return creators;
}
/**
 * true: diverged (rewind or re-clone needed); false: safe to follow.
 * `history` is the leader's history file for `leaderTimeline` (empty when it is timeline 1).
 *
 * Timelines are compared by history, not only by number: two nodes can each promote to the same
 * timeline number (the second never heard of the first's timeline). Every switch in our history
 * must be in the leader's, at the same LSN; and when both promoted at the same LSN, the member
 * that created our timeline (our marker) must be the one the cluster's `history` key names.
 */
export function divergedFrom(local, leaderTimeline, history, creators = new Map()) {
    const sameBranch = local.history.every((ours) => history.some((theirs) => theirs.timeline === ours.timeline && theirs.switchLsn === ours.switchLsn));
    if (!sameBranch)
        return true;
    // Same number and same switch point, but promoted by someone else: two branches no LSN tells
    // apart (found by the simulator, seed 172: a primary promoted, died at once, and a replica just
    // as far along promoted to the same timeline).
    const creator = creators.get(local.timeline);
    if (local.origin !== null && creator !== undefined && creator !== local.origin)
        return true;
    if (local.timeline === leaderTimeline)
        return false;
    if (local.timeline > leaderTimeline)
        return true;
    const ours = history.find((entry) => entry.timeline === local.timeline);
    if (ours === undefined)
        return true; // our timeline is not an ancestor of the leader's
    // A crashed primary's WAL may run past its last checkpoint: assume the worst (pg_rewind
    // itself reports 'no rewind required' when that was too cautious).
    if (local.endUncertain)
        return true;
    return local.endLsn > ours.switchLsn;
}
export function historyFileName(timeline) {
    return `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}
//# sourceMappingURL=timeline.js.map