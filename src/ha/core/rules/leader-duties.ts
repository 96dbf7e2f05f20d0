/**
 * What a confirmed primary keeps up to date every cycle besides its key (Patroni's
 * update_lock, update_cluster_history and _sync_replication_slots): the `status` optime, the
 * `history` line of the timeline its promotion ended, the `failsafe` topology, the replication
 * slots of the other members, and the clean-up of a finished `failover` request. Each action
 * carries the data it writes, computed here from the observation, so the executor never rebuilds
 * it from state that may have moved on.
 */
import type { HistoryEntry } from '../../../dcs/types.js';
import type { SlotMatcher } from '../../../config/types.js';
import type { Action, PhysicalSlot } from '../types.js';
import { slotNameFromMemberName, slotsToDrop } from '../slot-names.js';
import type { Ctx } from './context.js';

/** The history key with the line for the timeline our promotion ended, or null when it is there already. */
export function historyWithOurPromotion(ctx: Ctx): HistoryEntry[] | null {
  const { obs, view } = ctx;
  const pg = obs.postgres;
  if (pg.timeline === null || pg.timeline <= 1) return null;
  const ended = pg.timeline - 1;
  const lines = view.history?.value ?? [];
  const recorded = lines.find((line) => line.timeline === ended);
  // A line naming another creator while our marker says WE promoted into this timeline records
  // a collision (two promotions to the same number); we are the branch the cluster kept, so the
  // line is ours to rewrite — the loser reads it to know it must rejoin (core/timeline.ts).
  const weCreatedIt = pg.timelineOrigin !== null && pg.timelineOrigin.timeline === pg.timeline && pg.timelineOrigin.member === ctx.self;
  if (recorded !== undefined && (!weCreatedIt || recorded.newLeader === ctx.self)) return null;
  const start = pg.timelineStart !== null && pg.timelineStart.endedTimeline === ended ? pg.timelineStart : null;
  // Without our .history file (unreadable), the current position is the best bound we have.
  const entry: HistoryEntry = {
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

/**
 * The failsafe topology every member must confirm while the DCS is down: name -> api_url. The
 * leader is in it even while its own member key is missing (expired during an outage it led
 * through in failsafe mode), as Patroni's _failsafe_config adds itself: a member absent from a
 * non-empty topology can never win a race, and a leader left out of its own topology could not
 * lead again after a restart (simulator, seeds 271 and 6211: no leader after the heal).
 */
export function failsafeTopology(ctx: Ctx): Record<string, string> {
  const members: Record<string, string> = {};
  for (const member of ctx.view.members) {
    if (member.apiUrl !== null) members[member.name] = member.apiUrl;
  }
  if (!(ctx.self in members) && ctx.obs.self.apiUrl !== '') members[ctx.self] = ctx.obs.self.apiUrl;
  return Object.fromEntries(Object.entries(members).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Whether the `failsafe` key's value `a` lists exactly the members of `b`, at the same addresses. */
export function sameTopology(a: Record<string, string> | null, b: Record<string, string>): boolean {
  if (a === null) return false;
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((key) => a[key] === b[key]);
}

/**
 * Slots for every other member that streams from us (nostream members do not), and the permanent
 * physical slots of the configuration (`slots`), as Patroni keeps them on the primary.
 */
export function wantedSlots(ctx: Ctx): string[] {
  const members = ctx.view.members.filter((m) => m.name !== ctx.self && m.tags['nostream'] !== true).map((m) => slotNameFromMemberName(m.name));
  const permanent = ctx.obs.config.permanentSlots.filter((s) => s.type === 'physical' && s.name !== slotNameFromMemberName(ctx.self)).map((s) => s.name);
  return [...new Set([...members, ...permanent])].sort();
}

/**
 * Whether the syncSlots action has anything to do: a wanted slot is missing, or a slot nobody
 * wants is idle and not kept by ignore_slots (the action drops it; a slot in use is kept).
 * Unknown slots (null) may differ. The probe reads the slots every cycle, so an idle leader
 * spends no query on them.
 */
export function slotsDiffer(present: readonly PhysicalSlot[] | null, wanted: readonly string[], ignore: readonly SlotMatcher[]): boolean {
  if (present === null) return true;
  return wanted.some((name) => !present.some((s) => s.name === name)) || slotsToDrop(present, wanted, ignore).length > 0;
}

/** The bookkeeping actions of a primary holding the key (after the gate confirmed it). */
export function leaderDuties(ctx: Ctx): Action[] {
  const { obs, view } = ctx;
  const pg = obs.postgres;
  const actions: Action[] = [];
  if (pg.walPositionBytes !== null) actions.push({ kind: 'writeStatus', optimeBytes: pg.walPositionBytes });
  const history = historyWithOurPromotion(ctx);
  if (history !== null) actions.push({ kind: 'writeHistory', entries: history });
  if (obs.config.failsafeMode) {
    const topology = failsafeTopology(ctx);
    if (!sameTopology(view.failsafe, topology)) actions.push({ kind: 'writeFailsafe', members: topology });
  }
  if (obs.config.useSlots && !obs.paused) {
    const slots = wantedSlots(ctx);
    const ignore = obs.config.ignoreSlots;
    if (slotsDiffer(pg.physicalSlots, slots, ignore)) actions.push({ kind: 'syncSlots', slots, ...(ignore.length === 0 ? {} : { ignore }) });
  }
  // Until the control file names our timeline, rejoining nodes cannot rewind from us (the promote
  // task's own CHECKPOINT may have failed: simulator, seed 5812).
  if (pg.timeline !== null && pg.checkpointTimeline !== null && pg.checkpointTimeline < pg.timeline) actions.push({ kind: 'checkpoint' });
  // The failover key (switchover, manual failover) is handled by rules/switchover.ts.
  return actions;
}
