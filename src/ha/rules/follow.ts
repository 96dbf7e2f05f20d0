/**
 * Rules for a node that must not be the primary: demote if it is one, rewind or re-clone when its
 * WAL diverged from the leader's history, otherwise stream from the leader (or its replicatefrom
 * member). A former primary never keeps running as a second primary (issue 3, "Rejoin").
 */
import type { Action, Plan, Why } from '../types.js';
import { watchdogDisable } from '../watchdog-logic.js';
import { type Ctx, nodeToFollow, plan } from './context.js';

/** Stop acknowledging now, then stop and come back as a replica; the key is not ours to touch. */
export function fenceAndDemote(ctx: Ctx, why: Why): Plan {
  return plan(why, { kind: 'fence' }, { kind: 'demote', mode: 'immediate-nolock' }, ...watchdogDisable(ctx.obs.watchdog), { kind: 'touchMember' });
}

/**
 * The rewind / re-clone rule for a data directory that diverged from the leader's timeline, or
 * null when nothing is needed. Used both while running (a demoted primary) and while stopped.
 */
export function rewindOrReinitialize(ctx: Ctx): Plan | null {
  const pg = ctx.obs.postgres;
  const leader = ctx.leaderName;
  if (leader === null || leader === ctx.self || pg.divergedFromLeader !== true) return null;
  const follow = nodeToFollow(ctx);
  const last = ctx.obs.asyncTask.lastResult;
  const rewindFailed = last !== null && last.kind === 'rewind' && !last.ok;
  const self = ctx.obs.self;
  if (ctx.obs.config.usePgRewind && pg.rewindCapable && !rewindFailed) {
    return plan({ kind: 'rewinding', from: leader }, { kind: 'refreshLease' }, { kind: 'rewind', from: leader, follow }, { kind: 'touchMember' });
  }
  if (rewindFailed && self.removeDataDirectoryOnRewindFailure) {
    return plan({ kind: 'reinitializing', from: leader, cause: 'rewindFailed' }, { kind: 'refreshLease' }, { kind: 'reclone', from: leader, follow }, { kind: 'touchMember' });
  }
  if (!rewindFailed && self.removeDataDirectoryOnDivergedTimelines) {
    return plan({ kind: 'reinitializing', from: leader, cause: 'diverged' }, { kind: 'refreshLease' }, { kind: 'reclone', from: leader, follow }, { kind: 'touchMember' });
  }
  // Nothing allowed: stay down rather than serve a diverged history. Stop it if it runs.
  const stop: Action[] = pg.running ? [{ kind: 'demote', mode: 'immediate-nolock' }] : [];
  return plan({ kind: 'rewindImpossible', leader }, { kind: 'refreshLease' }, ...stop, { kind: 'touchMember' });
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
  if (target !== null && ctx.obs.postgres.followTarget !== target) {
    return plan({ kind: 'repointing', self: ctx.self, member: target }, ...base, { kind: 'followLeader', member: target }, { kind: 'touchMember' });
  }
  return plan(followWhy, ...base, { kind: 'touchMember' });
}
