import { slotNameFromMemberName } from '../slot-names.js';
/** The history key with the line for the timeline our promotion ended, or null when it is there already. */
export function historyWithOurPromotion(ctx) {
    const { obs, view } = ctx;
    const pg = obs.postgres;
    if (pg.timeline === null || pg.timeline <= 1)
        return null;
    const ended = pg.timeline - 1;
    const lines = view.history?.value ?? [];
    const recorded = lines.find((line) => line.timeline === ended);
    // A line naming another creator while our marker says WE promoted into this timeline records
    // a collision (two promotions to the same number); we are the branch the cluster kept, so the
    // line is ours to rewrite — the loser reads it to know it must rejoin (core/timeline.ts).
    const weCreatedIt = pg.timelineOrigin !== null && pg.timelineOrigin.timeline === pg.timeline && pg.timelineOrigin.member === ctx.self;
    if (recorded !== undefined && (!weCreatedIt || recorded.newLeader === ctx.self))
        return null;
    const start = pg.timelineStart !== null && pg.timelineStart.endedTimeline === ended ? pg.timelineStart : null;
    // Without our .history file (unreadable), the current position is the best bound we have.
    const entry = {
        timeline: ended,
        lsn: start?.switchLsn ?? pg.walPositionBytes ?? 0,
        reason: start?.reason ?? 'no recovery target specified',
        timestamp: obs.wallTimeIso,
        newLeader: ctx.self,
    };
    const entries = [...lines.filter((line) => line.timeline !== ended), entry];
    const keep = obs.config.maxTimelinesHistory;
    return keep > 0 && entries.length > keep ? entries.slice(entries.length - keep) : entries;
}
/** The failsafe topology every member must confirm while the DCS is down: name -> api_url. */
export function failsafeTopology(ctx) {
    const members = {};
    for (const member of [...ctx.view.members].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (member.apiUrl !== null)
            members[member.name] = member.apiUrl;
    }
    return members;
}
function sameTopology(a, b) {
    if (a === null)
        return false;
    const keys = Object.keys(b);
    return keys.length === Object.keys(a).length && keys.every((key) => a[key] === b[key]);
}
/** Slots for every other member that streams from us (nostream members do not). */
export function wantedSlots(ctx) {
    return ctx.view.members
        .filter((m) => m.name !== ctx.self && m.tags['nostream'] !== true)
        .map((m) => slotNameFromMemberName(m.name))
        .sort();
}
/** The bookkeeping actions of a primary holding the key (after the gate confirmed it). */
export function leaderDuties(ctx) {
    const { obs, view } = ctx;
    const pg = obs.postgres;
    const actions = [];
    if (pg.walPositionBytes !== null)
        actions.push({ kind: 'writeStatus', optimeBytes: pg.walPositionBytes });
    const history = historyWithOurPromotion(ctx);
    if (history !== null)
        actions.push({ kind: 'writeHistory', entries: history });
    if (obs.config.failsafeMode) {
        const topology = failsafeTopology(ctx);
        if (!sameTopology(view.failsafe, topology))
            actions.push({ kind: 'writeFailsafe', members: topology });
    }
    if (obs.config.useSlots && !obs.paused)
        actions.push({ kind: 'syncSlots', slots: wantedSlots(ctx) });
    // Until the control file names our timeline, rejoining nodes cannot rewind from us (the promote
    // task's own CHECKPOINT may have failed: simulator, seed 5812).
    if (pg.timeline !== null && pg.checkpointTimeline !== null && pg.checkpointTimeline < pg.timeline)
        actions.push({ kind: 'checkpoint' });
    // The failover key (switchover, manual failover) is handled by rules/switchover.ts.
    return actions;
}
//# sourceMappingURL=leader-duties.js.map