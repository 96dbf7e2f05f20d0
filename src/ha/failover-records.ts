/**
 * Writes the failover records (core/failover-record.ts): the new leader drafts one in the cycle
 * that took the leader key to promote (who it saw, who it weighed, why), completes it when the
 * promotion is done (the new timeline and where it starts, when writes were accepted) and stores
 * it; the old leader adds how and when it rejoined once it streams from the new one. Nothing here
 * delays or changes a decision: a record that cannot be written is logged and dropped.
 */
import type { AgentContext } from './context.js';
import {
  appendRecord,
  awaitingRejoin,
  completeRecord,
  consideredMembers,
  failoverKind,
  type FailoverDraft,
  type RejoinRecord,
  withRejoin,
} from './core/failover-record.js';
import type { Ctx } from './core/rules/context.js';
import { parseTimelineHistory } from './core/timeline.js';
import type { Observation } from './core/types.js';

/** Compare-and-swap attempts before a record is given up (another member writing at the same time). */
const WRITE_ATTEMPTS = 3;

interface PromotionFacts {
  /** When it was noted (monotonic): a promotion older than the cycle that took the key is another's. */
  notedMs: number;
  promotedAt: string | null;
  acceptingWritesAt: string | null;
  timeline: number | null;
  timelineStartLsn: number | null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class FailoverRecorder {
  private draft: FailoverDraft | null = null;
  private promotion: PromotionFacts | null = null;
  /** Whether this node may be the old leader of a record still waiting for its rejoin. */
  private mayOweRejoin = true;

  constructor(private readonly a: AgentContext) {}

  /** The cycle took the leader key and started the promotion (why: promotedByAcquiring). */
  noteKeyTaken(ctx: Ctx, obs: Observation): void {
    if (this.a.ports.failoverRecords === undefined) return;
    const wall = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    const cluster = this.a.cluster;
    const view = obs.dcs.ok ? obs.dcs.view : null;
    this.draft = {
      kind: failoverKind(view?.failover?.value ?? null),
      newLeader: ctx.self,
      oldLeader: cluster.lastLeader?.name ?? null,
      oldLeaderLastSeenAt: wall(cluster.lastLeader?.seenWallMs ?? null),
      leaderKeyGoneSeenAt: wall(cluster.leaderGoneSinceWallMs),
      keyTakenAt: new Date(this.a.ports.clock.wallMs()).toISOString(),
      oldLeaderLastLsn: view?.status?.optime ?? null,
      considered: consideredMembers(ctx),
    };
    // The promotion this cycle started may have finished already; one noted earlier (a restart
    // that promoted with the key still ours) belongs to no failover.
    if (this.promotion !== null && this.promotion.notedMs < obs.nowMs) this.promotion = null;
    this.maybeStore();
  }

  /** The promote task finished: PostgreSQL is out of recovery (it runs on the new timeline). */
  async notePromoted(): Promise<void> {
    const a = this.a;
    if (a.ports.failoverRecords === undefined) return;
    const promotedAt = new Date(a.ports.clock.wallMs()).toISOString();
    let timeline: number | null = null;
    let timelineStartLsn: number | null = null;
    try {
      timeline = (await a.pg.node.probe()).timeline;
      const history = await a.pg.node.timelineHistoryText(timeline);
      timelineStartLsn = history === null ? null : (parseTimelineHistory(history).at(-1)?.switchLsn ?? null);
    } catch (error) {
      a.log.debug(`failover record: could not read the new timeline: ${message(error)}`);
    }
    this.promotion = { notedMs: a.ports.clock.now(), promotedAt, acceptingWritesAt: a.pg.fenced ? null : promotedAt, timeline, timelineStartLsn };
    this.mayOweRejoin = true; // we lead now: a later failover may name us its old leader
    this.maybeStore();
  }

  /**
   * After each observation: a replica that streams again, and may have been the old leader of
   * the newest record, completes that record with its rejoin (one read of the records per return
   * to streaming).
   */
  noteObservation(obs: Observation): void {
    const a = this.a;
    if (a.ports.failoverRecords === undefined) return;
    const pg = obs.postgres;
    if (pg.role === 'primary') this.mayOweRejoin = true;
    if (!this.mayOweRejoin || pg.role !== 'replica' || !pg.streaming) return;
    // A rewind or re-clone starts the server itself and may stream before the task ends: its
    // success, which says how the node came back, is known only then (a full run recorded a
    // rejoin by pg_rewind as 'restart', the task still running).
    if (a.tasks.current() !== null) return;
    this.mayOweRejoin = false;
    void this.storeRejoin().catch((error: unknown) => a.log.warning(`failover record: could not record the rejoin: ${message(error)}`));
  }

  private async storeRejoin(): Promise<void> {
    const a = this.a;
    const store = a.ports.failoverRecords;
    if (store === undefined) return;
    const self = a.local().name;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const { records, version } = await store.load();
      const index = awaitingRejoin(records, self);
      if (index < 0) return;
      const nowMs = a.ports.clock.wallMs();
      const promotedAt = records[index]?.promotedAt ?? null;
      const rejoin: RejoinRecord = {
        method: this.rejoinMethod(),
        at: new Date(nowMs).toISOString(),
        afterPromotionMs: promotedAt === null ? null : Math.max(0, nowMs - Date.parse(promotedAt)),
      };
      if (await store.write(withRejoin(records, index, rejoin), version)) {
        a.log.info(`failover record: rejoined the cluster by ${rejoin.method}`);
        return;
      }
    }
  }

  /** The task that brought this node back: the latest successful rewind, re-clone or start. */
  private rejoinMethod(): RejoinRecord['method'] {
    const last = this.a.tasks.snapshot().lastByKind;
    const candidates: Array<[RejoinRecord['method'], number]> = [];
    if (last.rewind?.ok === true) candidates.push(['rewind', last.rewind.finishedMs]);
    if (last.reinit?.ok === true) candidates.push(['reclone', last.reinit.finishedMs]);
    if (last.start?.ok === true) candidates.push(['restart', last.start.finishedMs]);
    return candidates.sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'restart';
  }

  private maybeStore(): void {
    const draft = this.draft;
    const promotion = this.promotion;
    if (draft === null || promotion === null) return;
    this.draft = null;
    this.promotion = null;
    const { notedMs: _noted, ...facts } = promotion;
    void this.store(completeRecord(draft, facts)).catch((error: unknown) => this.a.log.warning(`failover record: could not be stored: ${message(error)}`));
  }

  private async store(record: ReturnType<typeof completeRecord>): Promise<void> {
    const store = this.a.ports.failoverRecords;
    if (store === undefined) return;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const { records, version } = await store.load();
      if (await store.write(appendRecord(records, record), version)) {
        const lost = record.bytesPossiblyLost === null ? 'unknown' : `${record.bytesPossiblyLost} bytes`;
        this.a.log.info(
          `failover record: ${record.kind} from ${record.oldLeader ?? '?'} to ${record.newLeader}, timeline ${record.timeline ?? '?'}; possibly lost: ${lost}`,
        );
        return;
      }
    }
    this.a.log.warning('failover record: given up after repeated concurrent writes');
  }
}
