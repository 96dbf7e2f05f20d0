/**
 * Rules for a node that must not be the primary: demote if it is one, rewind or re-clone when its
 * WAL diverged from the leader's history, otherwise stream from the leader (or its replicatefrom
 * member) and say so truthfully — a replica whose WAL receiver gets nothing is reported as such,
 * never as "following". A former primary never keeps running as a second primary (issue 3).
 *
 * Rejoin (issue 6): a diverged node rewinds when use_pg_rewind is on and its data directory allows
 * it (checksums or wal_log_hints), after the leader has checkpointed since its promotion; it
 * re-clones when the remove_data_directory_* settings allow; otherwise it stops and STAYS down.
 * A divergence check that cannot conclude is retried and reported; past a bound it is treated as
 * diverged when rewinding or re-cloning is allowed (pg_rewind itself says when nothing was needed).
 */
import type { Action, Plan, Why } from '../types.js';
import { watchdogDisable } from '../watchdog-logic.js';
import { timelineCreators } from '../timeline.js';
import { type Ctx, addressOf, followAddress, nodeToFollow, plan } from './context.js';

/** Stop acknowledging now, then stop and come back as a replica; the key is not ours to touch. */
export function fenceAndDemote(ctx: Ctx, why: Why): Plan {
  return plan(why, { kind: 'fence' }, { kind: 'demote' }, ...watchdogDisable(ctx.obs.watchdog), { kind: 'touchMember' });
}

/** How long a divergence check may stay inconclusive before it counts as diverged (when that is acted on safely). */
export function divergenceUnknownBoundMs(ctx: Ctx): number {
  return 3 * ctx.obs.config.loopWaitMs;
}

/** How long a replica's WAL receiver may not stream before the why sentence says so. */
export function notStreamingReportAfterMs(ctx: Ctx): number {
  return 3 * ctx.obs.config.loopWaitMs;
}

/** The last task was a pg_rewind that worked (or found nothing to do): an inconclusive check must not start another. */
function justRewound(ctx: Ctx): boolean {
  const last = ctx.obs.asyncTask.lastRewind;
  return last !== null && last.ok;
}

/**
 * Why the last pg_rewind did not bring us onto the leader's history, or null. A rewind from the
 * current leader that "worked" while we are still diverged failed too: pg_rewind compares timeline
 * NUMBERS, so a leader that promoted to the same number on another branch gets "no rewind required"
 * (found by the simulator, seed 686: it rewound in a loop). Only a re-clone fixes that.
 */
function lastRewindFailure(ctx: Ctx): string | null {
  const last = ctx.obs.asyncTask.lastRewind;
  if (last === null) return null;
  if (!last.ok) return last.retryable === true ? null : last.message;
  const stillDiverged = ctx.obs.postgres.divergence.verdict === 'diverged' && last.target === ctx.leaderName;
  return stillDiverged ? 'it left the data directory diverged: the leader is on another branch of the same timeline number' : null;
}

/** Whether this node would act on a divergence (rewind or re-clone); false means it can only stay down. */
function mayRejoinDiverged(ctx: Ctx): boolean {
  const self = ctx.obs.self;
  const rewind = ctx.obs.config.usePgRewind && ctx.obs.postgres.rewindCapable && lastRewindFailure(ctx) === null;
  return rewind || self.removeDataDirectoryOnDivergedTimelines || self.removeDataDirectoryOnRewindFailure;
}

/** Stay down rather than serve a diverged history: stop PostgreSQL if it runs, never start it. */
function stayDown(ctx: Ctx, why: Why): Plan {
  const stop: Action[] = ctx.obs.postgres.running || ctx.obs.postgres.starting ? [{ kind: 'stopPostgres' }] : [];
  return plan(why, { kind: 'refreshLease' }, ...stop, { kind: 'touchMember' });
}

function rejoinDiverged(ctx: Ctx, leader: string, leaderCheckpointed: boolean | null): Plan {
  const { obs } = ctx;
  const self = obs.self;
  const follow = followAddress(ctx);
  const from = addressOf(ctx, leader);
  const rewindFailure = lastRewindFailure(ctx);
  const unknown = (purpose: 'clone' | 'rewind'): Plan =>
    plan({ kind: 'memberAddressUnknown', member: leader, purpose }, { kind: 'refreshLease' }, { kind: 'touchMember' });
  const reclone = (cause: 'diverged' | 'rewindFailed'): Plan =>
    from === null
      ? unknown('clone')
      : plan({ kind: 'reinitializing', from: leader, cause }, { kind: 'refreshLease' }, { kind: 'reclone', from, follow }, { kind: 'touchMember' });
  if (obs.config.usePgRewind && obs.postgres.rewindCapable && rewindFailure === null) {
    if (leaderCheckpointed === false) return plan({ kind: 'waitingForLeaderCheckpoint', leader }, { kind: 'refreshLease' }, { kind: 'touchMember' });
    if (from === null) return unknown('rewind');
    return plan({ kind: 'rewinding', from: leader }, { kind: 'refreshLease' }, { kind: 'rewind', from, follow }, { kind: 'touchMember' });
  }
  if (rewindFailure !== null && self.removeDataDirectoryOnRewindFailure) return reclone('rewindFailed');
  if (self.removeDataDirectoryOnDivergedTimelines) return reclone('diverged');
  if (rewindFailure !== null) return stayDown(ctx, { kind: 'rewindFailedStayDown', leader, message: rewindFailure });
  const reason = obs.config.usePgRewind ? 'notCapable' : 'notAllowed';
  return stayDown(ctx, { kind: 'rewindImpossible', leader, reason });
}

/**
 * The rewind / re-clone rule for a data directory that diverged from the leader's timeline, or
 * null when nothing is needed. Used both while running (a demoted primary) and while stopped.
 */
export function rewindOrReinitialize(ctx: Ctx): Plan | null {
  const leader = ctx.leaderName;
  const divergence = ctx.obs.postgres.divergence;
  if (leader === null || leader === ctx.self) return null;
  if (divergence.verdict === 'diverged') return rejoinDiverged(ctx, leader, divergence.leaderCheckpointed);
  if (divergence.verdict !== 'unknown') return null;
  const overdue = ctx.obs.nowMs - divergence.sinceMs >= divergenceUnknownBoundMs(ctx);
  // A running replica whose leader cannot be reached at all (it died, or the link is down) stays as
  // it is: a pg_rewind from that leader cannot run either, and the task trying would keep this node
  // out of the race once the key expires (seen on the status page: "running pg_rewind from" a
  // leader killed seconds before, just before this replica took over).
  if (divergence.leaderUnreachable === true && ctx.obs.postgres.running) return null;
  if (overdue && mayRejoinDiverged(ctx) && !justRewound(ctx)) return rejoinDiverged(ctx, leader, null);
  return null;
}

/** The why of a replica that is where it should be: following, or saying what is wrong. */
function followingWhy(ctx: Ctx, followWhy: Why, target: string | null): Why {
  const pg = ctx.obs.postgres;
  const divergence = pg.divergence;
  // Name what PostgreSQL is configured to follow now: that is what does (or does not) stream.
  const leader = pg.followTarget ?? target ?? ctx.leaderName ?? '';
  if (divergence.verdict === 'unknown') return { kind: 'divergenceUnknown', self: ctx.self, leader, cause: divergence.cause };
  const since = pg.notStreamingSinceMs;
  // With no leader, the reason we do not take over (followWhy) says more than "not streaming".
  if (since !== null && ctx.leaderName !== null && ctx.obs.nowMs - since >= notStreamingReportAfterMs(ctx)) {
    return { kind: 'notStreaming', self: ctx.self, leader, forMs: ctx.obs.nowMs - since, error: pg.receiverError };
  }
  return followWhy;
}

/**
 * Patroni's follow(): used when another node holds the key, when we lost a race, or when we are not
 * healthy enough to race. `demoteWhy` is reported when we were a primary, `followWhy` otherwise.
 */
export function follow(ctx: Ctx, demoteWhy: Why, followWhy: Why): Plan {
  if (ctx.isPrimary) return fenceAndDemote(ctx, demoteWhy);
  const rejoin = rewindOrReinitialize(ctx);
  if (rejoin !== null) return rejoin;
  const target = nodeToFollow(ctx);
  const base: Action[] = [{ kind: 'refreshLease' }, ...watchdogDisable(ctx.obs.watchdog)];
  // Repoint only to a member whose address is known: a conn_url missing for a moment (its key
  // is being re-created) must not point us at nobody.
  if (target !== null && ctx.obs.postgres.followTarget !== target.name) {
    if (target.address === null) return plan({ kind: 'memberAddressUnknown', member: target.name, purpose: 'follow' }, ...base, { kind: 'touchMember' });
    return plan(
      { kind: 'repointing', self: ctx.self, member: target.name },
      ...base,
      { kind: 'followLeader', member: target.address },
      { kind: 'touchMember' },
    );
  }
  return plan(followingWhy(ctx, followWhy, target?.name ?? null), ...base, ...learnTimelineOrigin(ctx), { kind: 'touchMember' });
}

/**
 * While we stream from the leader, our timeline's creator is the one the `history` key names:
 * remember it in the data directory, so that should another node later promote to the same
 * timeline number, we know we are on the other branch (simulator, seed 229).
 */
function learnTimelineOrigin(ctx: Ctx): Action[] {
  const pg = ctx.obs.postgres;
  if (!pg.streaming || pg.followTarget !== ctx.leaderName || pg.timeline === null || pg.timeline <= 1) return [];
  const creator = timelineCreators(ctx.view.history?.value ?? []).get(pg.timeline);
  if (creator === undefined) return [];
  const known = pg.timelineOrigin;
  if (known !== null && known.timeline === pg.timeline && known.member === creator) return [];
  return [{ kind: 'recordTimelineOrigin', timeline: pg.timeline, member: creator }];
}
