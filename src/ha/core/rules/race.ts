/**
 * The leader race when the leader key is absent (Patroni's process_unhealthy_cluster and
 * _is_healthiest_node). A node races only when: it may promote (no nofailover, priority not 0), its
 * WAL is within maximum_lag_on_failover of status.optime, its timeline is not behind the cluster's
 * (check_timeline), no reachable peer reports a running primary, no eligible peer is further ahead,
 * and no equally advanced peer has a higher failover_priority. Unreachable peers are ignored: the
 * lease guard (fencing) is what protects against a primary we cannot see.
 */
import type { Action, PeerStatus, Plan } from '../types.js';
import { type Ctx, clusterTimeline, mayPromote, pastFencePoint, plan } from './context.js';
import { fenceAndDemote, follow } from './follow.js';
import { enforcePrimaryRole } from './leader.js';
import { manualFailoverVerdict } from './switchover.js';
import { syncExcludesPeer, syncPromotionVerdict } from './sync.js';

export type Health = { ok: true } | { ok: false; reason: string };

/** failsafe_mode: a member absent from a non-empty `failsafe` key was never asked to hold back, so it can never win (Patroni). */
function outsideFailsafeTopology(ctx: Ctx, name: string): boolean {
  const failsafe = ctx.view.failsafe;
  return ctx.obs.config.failsafeMode && failsafe !== null && Object.keys(failsafe).length > 0 && !(name in failsafe);
}

/**
 * Where `peer` stands against us in the race: it blocks us (with the reason), or it does not (with
 * the reason it cannot win or does not need to be waited for). One rule for the race and for the
 * failover record's "considered" list.
 */
function peerStanding(ctx: Ctx, peer: PeerStatus, myWal: number, myPriority: number): { blocks: boolean; reason: string } {
  const ignored = (reason: string) => ({ blocks: false, reason });
  if (peer.name === ctx.self) return ignored('this member');
  if (!peer.reachable) return ignored('did not answer (GET /patroni)');
  if (peer.running && peer.role === 'primary') return { blocks: true, reason: `primary (${peer.name}) is still alive` };
  // A peer that may not promote never blocks us on WAL position or priority (Patroni's failover_limitation).
  if (!mayPromote(peer.nofailover, peer.failoverPriority)) return ignored(peer.nofailover ? 'tagged nofailover' : 'failover_priority 0');
  if (peer.watchdogFailed) return ignored('watchdog required but not usable');
  // With check_timeline a peer behind the cluster timeline cannot win either: it must not block us
  // (Patroni 3.0.2 lets it block, which the simulator showed can leave a cluster leaderless).
  const clusterTl = clusterTimeline(ctx.view);
  if (ctx.obs.config.checkTimeline && (peer.timeline ?? 0) < clusterTl) return ignored(`timeline ${peer.timeline ?? 0} behind the cluster's ${clusterTl}`);
  // Nor can a peer outside a non-empty failsafe topology (simulator, seed 1649: two nodes each
  // waiting for the other, one excluded from the topology, the other deferring to its priority).
  if (outsideFailsafeTopology(ctx, peer.name)) return ignored('not in the failsafe topology');
  // Nor, in synchronous mode, a peer the sync key does not list.
  if (syncExcludesPeer(ctx, peer)) return ignored('not a synchronous standby the sync key lets promote');
  const wal = peer.walPositionBytes;
  if (wal === null) return ignored(peer.running ? 'WAL position unknown' : 'PostgreSQL not running');
  if (wal > myWal) return { blocks: true, reason: `wal position of ${peer.name} is ahead of mine` };
  if (wal === myWal && (peer.failoverPriority ?? 1) > myPriority)
    return { blocks: true, reason: `${peer.name} is as advanced and has a higher failover_priority` };
  if (wal < myWal) return ignored(`${myWal - wal} bytes of WAL behind`);
  if ((peer.failoverPriority ?? 1) < myPriority) return ignored('as advanced, lower failover_priority');
  return ignored('as advanced: the first to take the leader key wins');
}

/**
 * Why `peer` did not win the race this node won (the failover record's "considered" list). A
 * "blocking" reason here means the peer's own checks held it back while ours let us through.
 */
export function whyPeerLost(ctx: Ctx, peer: PeerStatus): string {
  return peerStanding(ctx, peer, ctx.obs.postgres.walPositionBytes ?? 0, ctx.obs.self.tags.failoverPriority ?? 1).reason;
}

/**
 * A primary without the key (its agent stalled, the key expired) may take it back only if the
 * cluster did not move on without it (Patroni: "node1 discarded promotion of node2"): its timeline
 * is not behind the cluster's, and it is not outside the failsafe topology.
 */
function primaryMayRetake(ctx: Ctx): Health {
  const clusterTl = clusterTimeline(ctx.view);
  const myTl = ctx.obs.postgres.timeline ?? 0;
  if (myTl < clusterTl) return { ok: false, reason: `my timeline ${myTl} is behind the cluster timeline ${clusterTl}` };
  if (outsideFailsafeTopology(ctx, ctx.self)) return { ok: false, reason: 'not a member of the failsafe topology' };
  return { ok: true };
}

export function isHealthiest(ctx: Ctx): Health {
  const { obs, view } = ctx;
  const pg = obs.postgres;
  // failsafe_mode: accepting a leader's POST /failsafe is a promise not to race for ttl, and a
  // restarted agent has forgotten any it made (simulator, seed 7648: split brain). After ttl of its
  // own, every promise of the previous process has expired.
  if (obs.config.failsafeMode && obs.nowMs - obs.agentStartedMs < obs.config.ttlMs) {
    return { ok: false, reason: 'started less than ttl ago in failsafe mode: a leader may still rely on a promise made before the restart' };
  }
  if (ctx.isPrimary) return primaryMayRetake(ctx);
  if (pg.starting || !pg.running) return { ok: false, reason: 'postgres is not running' };
  const tags = obs.self.tags;
  if (!mayPromote(tags.nofailover, tags.failoverPriority)) return { ok: false, reason: 'not allowed to promote' };
  if (obs.self.watchdogMode === 'required' && !obs.watchdog.available) return { ok: false, reason: 'watchdog device is not usable' };
  // A pending switchover or manual failover (the failover key) decides who may race, and how.
  const manual = manualFailoverVerdict(ctx);
  if (manual.kind === 'standAside') return { ok: false, reason: manual.reason };
  // Synchronous mode: only the sync key's leader, or a standby it lists (with its quorum votes),
  // holds every acknowledged commit — in a manual failover too.
  const sync = syncPromotionVerdict(ctx, obs.peers);
  if (!sync.ok) return sync;
  const myWal = pg.walPositionBytes ?? 0;
  const optime = view.status?.optime ?? 0;
  // keel, not Patroni: the lag limit holds in a manual failover too (Patroni drops it there); a
  // clean switchover leaves the candidate caught up with the final optime anyway (simulator,
  // seed 7211 with the switchover operator: a replica racing without the candidate promoted
  // 345 kB behind).
  if (optime - myWal > obs.config.maximumLagOnFailoverBytes) return { ok: false, reason: 'my wal position exceeds maximum replication lag' };
  if (obs.config.checkTimeline) {
    const clusterTl = clusterTimeline(view);
    if ((pg.timeline ?? 0) < clusterTl) return { ok: false, reason: `my timeline ${pg.timeline ?? 0} is behind the cluster timeline ${clusterTl}` };
  }
  // failsafe_mode: a member the last failsafe topology did not list was never asked to hold back,
  // and the leader may still be running on its answer from the others: it can never win (Patroni).
  if (outsideFailsafeTopology(ctx, ctx.self)) return { ok: false, reason: 'not a member of the failsafe topology' };
  if (obs.peers === null) return { ok: false, reason: 'status of the other members is unknown' };
  const myPriority = tags.failoverPriority ?? 1;
  for (const peer of obs.peers) {
    // The candidate of a manual failover defers to nobody, except a primary that is still alive.
    if (manual.kind === 'candidate' && !(peer.reachable && peer.running && peer.role === 'primary')) continue;
    if (manual.kind === 'raceWithout' && manual.excluded.includes(peer.name)) continue;
    const standing = peerStanding(ctx, peer, myWal, myPriority);
    if (standing.blocks) return { ok: false, reason: standing.reason };
  }
  return { ok: true };
}

/** No leader key and PostgreSQL runs. */
export function raceOrFollow(ctx: Ctx): Plan {
  const { obs } = ctx;
  if (obs.paused) {
    // A running primary takes the free key back, as Patroni's does in pause: without it, its own
    // lease's keepalives would keep its lease guard fed while a replica, once the pause ends and
    // the primary is out of its sight, wins the key and promotes (simulator, seed 2385: pause,
    // failsafe, an etcd outage, then a partition). Only when the key cannot be had does it go on
    // without the lock.
    if (ctx.isPrimary) {
      const withoutLock = plan({ kind: 'pausedPrimaryWithoutLock' }, { kind: 'touchMember' });
      const won = enforcePrimaryRole(ctx, { kind: 'acquiredLockAsLeader' }, { kind: 'promotedByAcquiring' }, true);
      return plan(won.why, { kind: 'refreshLease' }, { kind: 'acquireLeaderKey', then: won, else: withoutLock });
    }
    // In maintenance mode only a manual failover to a named candidate moves the key (Patroni).
    if (manualFailoverVerdict(ctx).kind !== 'candidate')
      return plan({ kind: 'pausedNoAction', self: ctx.self }, { kind: 'refreshLease' }, { kind: 'touchMember' });
  }
  const health = isHealthiest(ctx);
  if (health.ok) {
    const won = enforcePrimaryRole(ctx, { kind: 'acquiredLockAsLeader' }, { kind: 'promotedByAcquiring' }, true);
    const lost = ctx.isPrimary ? fenceAndDemote(ctx, { kind: 'lostRace', demoted: true }) : plan({ kind: 'lostRace', demoted: false }, { kind: 'touchMember' });
    // A primary resumed past its fence point fences before any DCS round trip, as keepLeadership does.
    const preFence: Action[] = ctx.isPrimary && pastFencePoint(obs) && !obs.postgres.fenced ? [{ kind: 'fence' }] : [];
    return plan(won.why, ...preFence, { kind: 'refreshLease' }, { kind: 'acquireLeaderKey', then: won, else: lost });
  }
  const tags = obs.self.tags;
  if (!mayPromote(tags.nofailover, tags.failoverPriority)) {
    return follow(ctx, { kind: 'nofailoverFollow', demoted: true }, { kind: 'nofailoverFollow', demoted: false });
  }
  if (ctx.isPrimary) return fenceAndDemote(ctx, { kind: 'notHealthiest', reason: health.reason, demoted: true });
  return follow(ctx, { kind: 'notHealthiest', reason: health.reason, demoted: true }, { kind: 'notHealthiest', reason: health.reason, demoted: false });
}
