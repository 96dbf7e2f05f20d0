/**
 * Synchronous replication (synchronous_mode on / quorum, synchronous_mode_strict): what the leader
 * writes to synchronous_standby_names (the "setting") and to the `sync` key (the "key"), and who
 * may be promoted. Pure.
 *
 * The promise: an acknowledged commit is never lost by an automatic failover. A commit is
 * acknowledged under the setting in effect when it committed: by `count` of the setting's standbys
 * (core/sync-standby-names.ts). The key says who may be promoted: its leader, or a listed standby
 * that `quorum` other listed standbys vouch for (reachable, not ahead of it). A key is SAFE for a
 * setting when every standby it lets promote holds every commit the setting acknowledged:
 *
 *   with S the setting's standbys, k its count, K the key's standbys and q its quorum, a commit
 *   is on some k of S; the candidate and its q vouchers are q+1 members of K, all at or behind the
 *   candidate's WAL; they miss the commit only if q+1 members of K avoid those k, so the key is
 *   safe iff q >= |K| - max(0, k - |S \ K|)   (minQuorum below; "alone" needs K empty).
 *
 * In synchronous_mode on the setting lists N standbys that must all confirm (k = |S|), so any
 * K ⊆ S is safe with q = 0 — Patroni's rule "a listed sync standby may be promoted".
 *
 * Changing the setting is where commits get lost, so the leader moves in steps, one per cycle,
 * each a compare-and-swap on the key or a reload of the setting:
 *  1. the setting changes only while the key is safe for both the old and the new setting (else
 *     a bridge key is written first — Patroni's "when removing, the key first": once the old
 *     setting is subsumed, the shared, the new or all named standbys, whichever needs the fewest
 *     votes with a quorum safe for both; else only the leader; bridgeKey), and only once the old
 *     setting is SUBSUMED (below) or the key lets nobody but the leader promote;
 *  2. the key grows (a standby added — "the configuration first, then the key") only once the
 *     setting in effect is subsumed: enough of its standbys have flushed past the WAL position seen
 *     when it took effect, so every commit acknowledged under any earlier setting is on them too.
 * A key that lets only the leader promote is safe for every setting and may be written at any time.
 *
 * Strict mode with no eligible standby keeps the setting (commits wait: never acknowledged
 * unreplicated). Non-strict empties the key, then acknowledges alone, and says so.
 */
import type { SyncState, Versioned } from '../../../dcs/types.js';
import type { Action, PeerStatus, StandbyReplication } from '../types.js';
import { type AckRule, STRICT_PLACEHOLDER_NAME, ackRuleOf, isUnreachableStandby, renderStandbyNames, sameStandbyNames } from '../sync-standby-names.js';
import { SYNC_STALL_MS } from '../sync-stall.js';
import { type Ctx, member } from './context.js';

/** While a change is under way the leader looks again this soon (a step per cycle). */
export const SYNC_STEP_WAKE_MS = 500;
/**
 * After a bridge key (bridgeKey) the next step (the new setting, which releases commits waiting on a
 * standby that is being replaced) can follow at once: only the key write's round trip stands
 * between them.
 */
export const SYNC_NEXT_STEP_WAKE_MS = 50;

/** The smallest key quorum that is safe for `rule` with `keyStandbys` listed (Infinity: none is). */
export function minQuorum(keyStandbys: readonly string[], rule: AckRule): number {
  if (rule.kind === 'never' || keyStandbys.length === 0) return 0;
  // Acknowledged alone: no standby may be promoted; a quorum larger than the others listed makes it so.
  if (rule.kind === 'alone') return keyStandbys.length;
  const outside = rule.names.includes('*') ? rule.count : rule.names.filter((n) => !keyStandbys.includes(n)).length;
  return Math.max(0, keyStandbys.length - Math.max(0, rule.count - outside));
}

export function keySafeFor(key: Pick<SyncState, 'syncStandbys' | 'quorum'>, rule: AckRule): boolean {
  return key.quorum >= minQuorum(key.syncStandbys, rule);
}

/** Only the leader may be promoted: safe whatever was acknowledged. */
function leaderOnly(key: Pick<SyncState, 'syncStandbys' | 'quorum'>): boolean {
  return key.syncStandbys.length === 0 || key.quorum >= key.syncStandbys.length;
}

/**
 * The setting in effect no longer matters for commits acknowledged before it: it acknowledges
 * (never: it does not, so earlier settings still matter) and enough of its standbys flushed past
 * the WAL position seen when it took effect.
 */
export function subsumed(rule: AckRule, appliedAtLsn: number | null, standbys: readonly StandbyReplication[]): boolean {
  if (appliedAtLsn === null || rule.kind === 'never') return false;
  if (rule.kind === 'alone') return true;
  const past = standbys.filter((s) => rule.names.includes(s.name) && s.flushLsnBytes !== null && s.flushLsnBytes >= appliedAtLsn).length;
  return past >= rule.count;
}

function numberTag(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value);
  return undefined;
}

interface Candidate {
  name: string;
  priority: number;
  /** Named by the setting in effect: kept over an equal standby (no needless change). */
  named: boolean;
  flush: number;
  nofailover: boolean;
  /** Behind and not confirming (core/sync-stall.ts): passed over while another standby can confirm. */
  stalled: boolean;
}

/**
 * Standbys that may confirm commits, best first (Patroni's SyncHandler.current_state): members
 * streaming from us, without nosync, sync_priority <= 0, nostream or replicatefrom (a cascading
 * replica confirms nothing to us), within maximum_lag_on_syncnode, not stalled while another is
 * not (keel's addition, core/sync-stall.ts); sorted by sync_priority, then
 * those the setting in effect names (no needless change; not the key, which during a change lists
 * the standbys of both settings), then flushed WAL, nofailover members last.
 */
export function syncCandidates(ctx: Ctx, currentNames: string): Candidate[] {
  const { obs } = ctx;
  const current = ackRuleOf(currentNames);
  const named = current.kind === 'standbys' ? current.names : [];
  const limit = obs.config.maximumLagOnSyncnodeBytes;
  const primaryWal = obs.postgres.walPositionBytes ?? 0;
  const candidates: Candidate[] = [];
  for (const standby of obs.postgres.standbys) {
    const m = member(ctx.view, standby.name);
    if (m === undefined || standby.name === ctx.self || standby.state !== 'streaming' || standby.flushLsnBytes === null) continue;
    const tags = m.tags;
    const priority = numberTag(tags['sync_priority']) ?? 1;
    if (tags['nosync'] === true || priority <= 0 || tags['nostream'] === true || typeof tags['replicatefrom'] === 'string') continue;
    if (limit > 0 && primaryWal - standby.flushLsnBytes > limit) continue;
    candidates.push({
      name: standby.name,
      priority,
      // PostgreSQL compares standby names case-insensitively, quoted or not.
      named: named.some((n) => n.toLowerCase() === standby.name.toLowerCase()),
      flush: standby.flushLsnBytes,
      nofailover: tags['nofailover'] === true,
      stalled: (standby.stalledMs ?? 0) >= SYNC_STALL_MS,
    });
  }
  // A stalled standby blocks every commit it must confirm: prefer any that confirms. With none
  // left, keep them all (acknowledging with fewer copies is not the cure for a stall).
  const confirming = candidates.filter((c) => !c.stalled);
  return (confirming.length > 0 ? confirming : candidates).sort(
    (a, b) =>
      Number(a.nofailover) - Number(b.nofailover) ||
      b.priority - a.priority ||
      Number(b.named) - Number(a.named) ||
      b.flush - a.flush ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/** Where synchronous mode wants to be: the setting, and the key once the setting is subsumed (null: leave the key). */
export interface SyncTarget {
  names: string;
  key: Pick<SyncState, 'syncStandbys' | 'quorum'> | null;
  /** Said in the log when the setting changes to this. */
  reason: string;
}

export function syncTarget(ctx: Ctx, currentNames: string): SyncTarget {
  const { obs } = ctx;
  const candidates = syncCandidates(ctx, currentNames);
  const wanted = obs.config.synchronousNodeCount;
  if (candidates.length === 0) {
    if (obs.config.synchronousModeStrict) {
      // Strict: keep waiting on the standbys named (they may come back), or on nobody.
      const keep = ackRuleOf(currentNames).kind === 'standbys';
      return {
        names: keep ? currentNames : STRICT_PLACEHOLDER_NAME,
        key: null,
        reason: 'no eligible synchronous standby: commits wait (synchronous_mode_strict)',
      };
    }
    return { names: '', key: { syncStandbys: [], quorum: 0 }, reason: 'no eligible synchronous standby: the leader acknowledges commits alone' };
  }
  if (obs.config.synchronousMode === 'quorum') {
    const names = candidates.map((c) => c.name);
    const count = Math.min(wanted, names.length);
    return {
      names: renderStandbyNames(names, count),
      key: { syncStandbys: [...names].sort(), quorum: names.length - count },
      reason: `quorum commit: any ${count} of ${names.join(', ')}`,
    };
  }
  const picked = candidates.slice(0, wanted).map((c) => c.name);
  return { names: renderStandbyNames(picked, null), key: { syncStandbys: [...picked].sort(), quorum: 0 }, reason: `synchronous standby: ${picked.join(', ')}` };
}

function sameKey(a: Pick<SyncState, 'syncStandbys' | 'quorum'>, b: Pick<SyncState, 'syncStandbys' | 'quorum'>): boolean {
  const x = [...a.syncStandbys].sort();
  const y = [...b.syncStandbys].sort();
  return a.quorum === b.quorum && x.length === y.length && x.every((n, i) => n === y[i]);
}

/** The standbys a setting names, wildcard and placeholders aside (they are no member). */
function namedStandbys(rule: AckRule): string[] {
  return rule.kind === 'standbys' ? rule.names.filter((n) => n !== '*' && !isUnreachableStandby(n)) : [];
}

/**
 * The key that lets the setting move from `current` to `next` (step 1), written when the key is
 * not safe for `next` or `current` is not yet subsumed.
 *
 * Subsumed: every commit acknowledged so far is on `count` of `current`'s standbys, so a key safe
 * for both settings (minQuorum) is safe whatever it lists. Of the lists that can matter — the
 * standbys both settings share, those `next` names, those either names — it takes the one that
 * lets a standby be promoted with the fewest votes (the longer list on a tie). Only the shared
 * ones made the quorum as large as the list whenever a standby was added: had the leader died
 * before the key caught up, no survivor could be promoted although together they held every
 * acknowledged commit (sync-modes test, quorum, after a rejoin). Standbys only the old key lists
 * are left out: they would raise the quorum and are needed by neither setting.
 *
 * Not subsumed: only the leader ({[], 0}). Commits acknowledged under earlier settings may then
 * be on no standby `current` names, and this key lets the setting change at once (a stalled
 * standby is replaced without waiting for it to catch up).
 */
export function bridgeKey(leader: string, current: AckRule, next: AckRule, settled: boolean): SyncState {
  const leaderOnlyKey: SyncState = { leader, syncStandbys: [], quorum: 0 };
  if (!settled) return leaderOnlyKey;
  const before = namedStandbys(current);
  const after = namedStandbys(next);
  const lists = [before.filter((n) => after.includes(n)), after, [...new Set([...before, ...after])]];
  let best: SyncState = leaderOnlyKey;
  for (const list of lists) {
    const standbys = [...list].sort();
    const quorum = Math.max(minQuorum(standbys, current), minQuorum(standbys, next));
    if (quorum >= standbys.length) continue;
    const better = leaderOnly(best) || quorum < best.quorum || (quorum === best.quorum && standbys.length > best.syncStandbys.length);
    if (better) best = { leader, syncStandbys: standbys, quorum };
  }
  return best;
}

/** One step of the leader's synchronous replication management (see the module comment). */
export interface SyncStep {
  actions: Action[];
  /** A change is under way: look again soon. */
  wakeInMs?: number;
}

function writeKey(ctx: Ctx, sync: Versioned<SyncState> | null, value: SyncState | null): Action {
  const why = { kind: 'leaderNoAction', self: ctx.self } as const;
  return { kind: 'writeSyncKey', value, modRevision: sync?.modRevision ?? null, then: { actions: [], why }, else: { actions: [], why } };
}

/**
 * The step a primary holding the leader key takes this cycle. The key write, when there is one,
 * is a gate and must be the plan's last action.
 */
export function leaderSyncStep(ctx: Ctx): SyncStep {
  const { obs, view } = ctx;
  const pg = obs.postgres;
  const sync = view.sync;
  if (obs.config.synchronousMode === 'off') {
    // Mode off: the configured setting again, and no key (Patroni deletes it).
    const actions: Action[] = pg.syncStandbyNames !== null ? [{ kind: 'setSyncStandbyNames', value: null, reason: 'synchronous_mode is off' }] : [];
    if (sync !== null) actions.push(writeKey(ctx, sync, null));
    return { actions };
  }
  const mine = sync !== null && sync.value.leader === ctx.self ? sync.value : null;
  if (mine === null) {
    // Not ours yet (mode just turned on, or an old leader's): only we may be promoted, from now on.
    return { actions: [writeKey(ctx, sync, { leader: ctx.self, syncStandbys: [], quorum: 0 })], wakeInMs: SYNC_STEP_WAKE_MS };
  }
  const currentNames = pg.syncStandbyNames ?? '';
  const current = ackRuleOf(currentNames);
  const target = syncTarget(ctx, currentNames);
  const settled = subsumed(current, pg.syncAppliedAtLsn, pg.standbys);
  if (!sameStandbyNames(currentNames, target.names)) {
    const next = ackRuleOf(target.names);
    if (keySafeFor(mine, next) && (settled || leaderOnly(mine))) {
      return { actions: [{ kind: 'setSyncStandbyNames', value: target.names, reason: target.reason }], wakeInMs: SYNC_STEP_WAKE_MS };
    }
    // Never the key we hold: that one is not safe for `next`, or (not subsumed) not leader-only.
    return { actions: [writeKey(ctx, sync, bridgeKey(ctx.self, current, next, settled))], wakeInMs: SYNC_NEXT_STEP_WAKE_MS };
  }
  if (target.key === null || sameKey(target.key, mine)) return { actions: [] };
  if (!settled && !leaderOnly(target.key)) return { actions: [], wakeInMs: SYNC_STEP_WAKE_MS };
  return { actions: [writeKey(ctx, sync, { leader: ctx.self, ...target.key })] };
}

/** The key in force: synchronous mode on or quorum, and a key naming a leader (else the usual race rules apply). */
export function activeSyncKey(ctx: Ctx): SyncState | null {
  if (ctx.obs.config.synchronousMode === 'off') return null;
  const sync = ctx.view.sync?.value ?? null;
  return sync !== null && sync.leader !== null ? sync : null;
}

/**
 * Whether we may be promoted automatically under the sync key (Patroni's sync.matches plus the
 * quorum votes): we are its leader, or a listed standby vouched for by `quorum` other listed
 * standbys that are reachable and not ahead of us. `peers` null: the votes cannot be counted (only
 * a key needing none lets us through). Timelines are not compared: the listed standbys all
 * streamed from the key's leader (a promotion rewrites the key first), and a replica whose WAL
 * receiver stopped reports the timeline of its last restartpoint, which may be older — a
 * comparison deadlocked a quorum failover (bench/failover, quorum, rep 2).
 */
export function syncPromotionVerdict(ctx: Ctx, peers: readonly PeerStatus[] | null): { ok: true } | { ok: false; reason: string } {
  const key = activeSyncKey(ctx);
  if (key === null || key.leader === ctx.self) return { ok: true };
  const mode = ctx.obs.config.synchronousMode;
  if (!key.syncStandbys.includes(ctx.self)) return { ok: false, reason: `not a ${mode === 'quorum' ? 'quorum' : 'synchronous'} standby` };
  if (key.quorum === 0) return { ok: true };
  if (key.quorum >= key.syncStandbys.length) return { ok: false, reason: 'the sync key lets only its leader be promoted' };
  if (peers === null) return { ok: false, reason: 'quorum votes cannot be counted' };
  const pg = ctx.obs.postgres;
  const myWal = pg.walPositionBytes ?? 0;
  const votes = peers.filter(
    (p) => p.reachable && p.name !== ctx.self && key.syncStandbys.includes(p.name) && p.running && p.walPositionBytes !== null && p.walPositionBytes <= myWal,
  ).length;
  return votes >= key.quorum ? { ok: true } : { ok: false, reason: `${votes} of the ${key.quorum} quorum votes needed` };
}

/**
 * A peer that cannot be promoted under the sync key does not block our race on WAL position or
 * priority: one the key does not list, or (quorum) a listed one that lacks the votes — counted
 * among the other listed members we can see, ourselves included (Patroni: "in quorum mode only
 * voters count"). Without this a former leader deferred to a standby as advanced and of higher
 * priority that could not win either, and nobody led (simulator, sync family, seed 1171).
 */
export function syncExcludesPeer(ctx: Ctx, peer: PeerStatus): boolean {
  const key = activeSyncKey(ctx);
  if (key === null || key.leader === peer.name) return false;
  if (!key.syncStandbys.includes(peer.name)) return true;
  if (key.quorum === 0) return false;
  if (key.quorum >= key.syncStandbys.length || peer.walPositionBytes === null) return true;
  const wal = peer.walPositionBytes;
  const pg = ctx.obs.postgres;
  const self: PeerStatus[] =
    key.syncStandbys.includes(ctx.self) && pg.walPositionBytes !== null
      ? [
          {
            name: ctx.self,
            reachable: true,
            running: pg.running,
            role: pg.role,
            walPositionBytes: pg.walPositionBytes,
            timeline: pg.timeline,
            nofailover: false,
            failoverPriority: undefined,
            watchdogFailed: false,
            streaming: null,
          },
        ]
      : [];
  const voters = [...(ctx.obs.peers ?? []), ...self].filter(
    (v) => v.reachable && v.name !== peer.name && key.syncStandbys.includes(v.name) && v.running && v.walPositionBytes !== null && v.walPositionBytes <= wal,
  ).length;
  return voters < key.quorum;
}

/** The synchronous_standby_names a node that is not (yet) the leader keeps in synchronous mode. */
export function nonLeaderStandbyNames(strict: boolean): string {
  return strict ? STRICT_PLACEHOLDER_NAME : '';
}
