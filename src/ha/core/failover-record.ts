/**
 * The record of a failover or switchover (issue 12, "evidence"): what an operator wants to know
 * afterwards without reading three logs. Written by the new leader once its promotion is done,
 * completed by the old leader when it rejoins; kept in etcd under the cluster prefix (the last
 * FAILOVER_RECORDS_KEPT), shown by `keel history --details` and `GET /history?details`. Pure.
 *
 * Times are wall-clock ISO strings of the host that saw them (each says whose): they are for
 * people, never for decisions.
 */
import type { FailoverRequest } from '../../dcs/types.js';
import { whyPeerLost } from './rules/race.js';
import type { Ctx } from './rules/context.js';

export const FAILOVER_RECORDS_KEPT = 20;

export type FailoverKind = 'failover' | 'manual failover' | 'switchover';

export interface ConsideredMember {
  name: string;
  chosen: boolean;
  /** Why it was chosen, or why not (the new leader's view of it when it took the key). */
  reason: string;
  walPositionBytes: number | null;
  timeline: number | null;
  failoverPriority: number | null;
}

export interface RejoinRecord {
  /** How the old leader came back: pg_rewind, a new clone, or a plain restart as a replica. */
  method: 'rewind' | 'reclone' | 'restart';
  /** When it streamed from the new leader again (its own clock). */
  at: string;
  /** From the new leader's promotion to that moment, ms (two hosts' wall clocks). */
  afterPromotionMs: number | null;
}

export interface FailoverRecord {
  kind: FailoverKind;
  newLeader: string;
  /** The leader before, as the new leader last saw it; null when it never saw one. */
  oldLeader: string | null;
  /** When the new leader last saw the old leader key held (its clock). */
  oldLeaderLastSeenAt: string | null;
  /** When the new leader first saw the leader key gone: its lease expired or it was released. */
  leaderKeyGoneSeenAt: string | null;
  /** When the new leader took the key. */
  keyTakenAt: string;
  /** When its PostgreSQL left recovery, and when it accepted writes (the fence lifted, ready). */
  promotedAt: string | null;
  acceptingWritesAt: string | null;
  /** The new timeline and the WAL position it starts at. */
  timeline: number | null;
  timelineStartLsn: number | null;
  /** The old leader's last published WAL position (the `status` key's optime). */
  oldLeaderLastLsn: number | null;
  /**
   * Bytes the old leader had written past the new timeline's start: what an asynchronous failover
   * may have lost (0 in synchronous mode, where the sync key allows no such promotion).
   */
  bytesPossiblyLost: number | null;
  considered: ConsideredMember[];
  rejoin: RejoinRecord | null;
}

/** What the cycle that took the key knew, before the promotion ran. */
export type FailoverDraft = Omit<FailoverRecord, 'promotedAt' | 'acceptingWritesAt' | 'timeline' | 'timelineStartLsn' | 'bytesPossiblyLost' | 'rejoin'>;

export function failoverKind(request: FailoverRequest | null): FailoverKind {
  if (request === null) return 'failover';
  return request.leader !== undefined && request.leader !== '' ? 'switchover' : 'manual failover';
}

/** Every member the new leader weighed, itself first (chosen), from the observation it decided on. */
export function consideredMembers(ctx: Ctx): ConsideredMember[] {
  const { obs } = ctx;
  const self: ConsideredMember = {
    name: ctx.self,
    chosen: true,
    reason: 'took the leader key: the most advanced member allowed to promote',
    walPositionBytes: obs.postgres.walPositionBytes,
    timeline: obs.postgres.timeline,
    failoverPriority: obs.self.tags.failoverPriority ?? null,
  };
  const others = (obs.peers ?? []).map((peer) => ({
    name: peer.name,
    chosen: false,
    reason: whyPeerLost(ctx, peer),
    walPositionBytes: peer.walPositionBytes,
    timeline: peer.timeline,
    failoverPriority: peer.failoverPriority ?? null,
  }));
  return [self, ...others.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))];
}

/** The record once the promotion is done. */
export function completeRecord(
  draft: FailoverDraft,
  promotion: { promotedAt: string | null; acceptingWritesAt: string | null; timeline: number | null; timelineStartLsn: number | null },
): FailoverRecord {
  const lost = draft.oldLeaderLastLsn === null || promotion.timelineStartLsn === null ? null : Math.max(0, draft.oldLeaderLastLsn - promotion.timelineStartLsn);
  return { ...draft, ...promotion, bytesPossiblyLost: draft.kind === 'switchover' ? 0 : lost, rejoin: null };
}

/** Appended, the oldest dropped past FAILOVER_RECORDS_KEPT. */
export function appendRecord(records: readonly FailoverRecord[], record: FailoverRecord): FailoverRecord[] {
  return [...records, record].slice(-FAILOVER_RECORDS_KEPT);
}

/** The newest record whose old leader is `self` and that has no rejoin yet, or -1. */
export function awaitingRejoin(records: readonly FailoverRecord[], self: string): number {
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i];
    if (record === undefined) continue;
    if (record.oldLeader === self) return record.rejoin === null ? i : -1;
    if (record.newLeader === self) return -1; // we led again since: an older record is history
  }
  return -1;
}

export function withRejoin(records: readonly FailoverRecord[], index: number, rejoin: RejoinRecord): FailoverRecord[] {
  return records.map((record, i) => (i === index ? { ...record, rejoin } : record));
}

/** Tolerant reader of the stored JSON: anything that is not a list of records reads as none. */
export function parseRecords(text: string | null): FailoverRecord[] {
  if (text === null) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value)
      ? value.filter((r): r is FailoverRecord => typeof r === 'object' && r !== null && typeof (r as FailoverRecord).newLeader === 'string')
      : [];
  } catch {
    return [];
  }
}
