/**
 * Synchronous replication's pure rules (core/sync-standby-names.ts, rules/sync.ts): reading and
 * writing synchronous_standby_names, the key-safety arithmetic, and a randomized model check of the
 * leader's steps — standbys connect, disconnect and flush at random, commits are acknowledged
 * under the setting in effect, the leader takes one step per tick — asserting after every event
 * that no standby the sync key lets promote (with its quorum of vouchers) can miss an
 * acknowledged commit. A variant that writes the key as soon as it changes the setting (no
 * bridge key, no subsumption wait) is shown to break it, so the check has teeth. The same histories
 * check progress: once a setting that names standbys is subsumed, no step takes every standby's
 * chance of promotion away unless commits are about to be acknowledged alone (or never).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyncState } from '../../../src/dcs/types.js';
import { makeCtx } from '../../../src/ha/core/rules/context.js';
import {
  SYNC_NEXT_STEP_WAKE_MS,
  bridgeKey,
  keySafeFor,
  leaderSyncStep,
  minQuorum,
  subsumed,
  syncPromotionVerdict,
  syncTarget,
} from '../../../src/ha/core/rules/sync.js';
import { SYNC_STALL_MS } from '../../../src/ha/core/sync-stall.js';
import { ackRuleOf, quoteStandbyName, renderStandbyNames, STRICT_PLACEHOLDER_NAME, FENCE_STANDBY_NAME } from '../../../src/ha/core/sync-standby-names.js';
import type { Action, PeerStatus, StandbyReplication } from '../../../src/ha/core/types.js';
import { Prng } from '../../sim/prng.js';
import { config, leaderObs, member, obs as replicaObs, view } from './fixtures.js';

test('synchronous_standby_names is written as Patroni writes it: sorted, quoted when needed', () => {
  assert.equal(renderStandbyNames(['n2'], null), 'n2');
  assert.equal(renderStandbyNames(['n3', 'n2'], null), '2 (n2,n3)');
  assert.equal(renderStandbyNames(['pg-1', 'n3', 'n2'], 2), 'ANY 2 (n2,n3,"pg-1")');
  assert.equal(quoteStandbyName('Node1'), '"Node1"');
  assert.equal(quoteStandbyName('any'), '"any"');
  assert.equal(quoteStandbyName('a"b'), '"a""b"');
});

test('what a setting acknowledges, read in every form PostgreSQL accepts', () => {
  assert.deepEqual(ackRuleOf(''), { kind: 'alone' });
  assert.deepEqual(ackRuleOf('  '), { kind: 'alone' });
  assert.deepEqual(ackRuleOf(FENCE_STANDBY_NAME), { kind: 'never' });
  assert.deepEqual(ackRuleOf(FENCE_STANDBY_NAME.slice(1, -1)), { kind: 'never' }, 'as SHOW prints it');
  assert.deepEqual(ackRuleOf(STRICT_PLACEHOLDER_NAME), { kind: 'never' });
  assert.deepEqual(ackRuleOf('n2'), { kind: 'standbys', count: 1, names: ['n2'] });
  assert.deepEqual(ackRuleOf('n2, n3'), { kind: 'standbys', count: 1, names: ['n2', 'n3'] });
  assert.deepEqual(ackRuleOf('2 (n2,n3)'), { kind: 'standbys', count: 2, names: ['n2', 'n3'] });
  assert.deepEqual(ackRuleOf('FIRST 1 (n2, "N3")'), { kind: 'standbys', count: 1, names: ['n2', 'N3'] });
  assert.deepEqual(ackRuleOf('ANY 2 ("pg-1",n2,n3)'), { kind: 'standbys', count: 2, names: ['pg-1', 'n2', 'n3'] });
  assert.deepEqual(ackRuleOf('any 5 (a,b)'), { kind: 'standbys', count: 2, names: ['a', 'b'] });
  assert.deepEqual(ackRuleOf('*'), { kind: 'standbys', count: 1, names: ['*'] });
});

test('key safety: q >= |K| - max(0, k - |S \\ K|)', () => {
  const on = ackRuleOf('2 (n2,n3)');
  assert.equal(minQuorum(['n2', 'n3'], on), 0, 'every listed standby confirms: any of them may be promoted');
  assert.equal(minQuorum(['n2'], on), 0);
  assert.equal(minQuorum(['n4'], on), 1, 'n4 confirms nothing: it may never be promoted alone');
  const any1 = ackRuleOf('ANY 1 (n2,n3,n4)');
  assert.equal(minQuorum(['n2', 'n3', 'n4'], any1), 2, 'one of three confirms: a candidate needs the two others');
  assert.equal(minQuorum(['n2', 'n3'], any1), 2, 'the confirming one may be n4: neither n2 nor n3 can be trusted');
  const any2 = ackRuleOf('ANY 2 (n2,n3,n4)');
  assert.equal(minQuorum(['n2', 'n3', 'n4'], any2), 1);
  assert.equal(minQuorum(['n2', 'n3'], ackRuleOf('')), 2, 'acknowledged alone: no standby');
  assert.equal(minQuorum([], ackRuleOf('')), 0);
  assert.equal(minQuorum(['n2'], ackRuleOf(STRICT_PLACEHOLDER_NAME)), 0, 'nothing acknowledged: nothing to miss');
  assert.ok(keySafeFor({ syncStandbys: ['n2', 'n3', 'n4'], quorum: 1 }, any2));
  assert.ok(!keySafeFor({ syncStandbys: ['n2', 'n3', 'n4'], quorum: 0 }, any2));
});

// ---- randomized model check of the leader's steps ---------------------------------------------

const STANDBYS = ['n2', 'n3', 'n4', 'n5'];

interface Model {
  lsn: number;
  setting: string;
  appliedAtLsn: number | null;
  /** The setting was changed since the last probe: the next probe records where it took effect. */
  settingChanged: boolean;
  key: SyncState | null;
  keyRevision: number;
  connected: Set<string>;
  /** Standbys the sync watch reports stalled (core/sync-stall.ts). */
  stalled: Set<string>;
  flush: Map<string, number>;
  pending: number[];
  acknowledgedUpTo: number;
}

function standbyRows(m: Model): StandbyReplication[] {
  return [...m.connected].map((name) => ({
    name,
    state: 'streaming',
    syncState: 'async',
    flushLsnBytes: m.flush.get(name) ?? 0,
    stalledMs: m.stalled.has(name) ? SYNC_STALL_MS : 0,
  }));
}

function acknowledge(m: Model): void {
  const rule = ackRuleOf(m.setting);
  m.pending = m.pending.filter((lsn) => {
    if (rule.kind === 'never') return true;
    if (rule.kind === 'standbys') {
      const confirmed = [...m.connected].filter((n) => rule.names.includes(n) && (m.flush.get(n) ?? 0) >= lsn).length;
      if (confirmed < rule.count) return true;
    }
    m.acknowledgedUpTo = Math.max(m.acknowledgedUpTo, lsn);
    return false;
  });
}

/** Some q+1 standbys of the key, none holding the newest acknowledged commit: a promotion could lose it. */
function losingPromotion(m: Model): string | null {
  if (m.key === null || m.acknowledgedUpTo === 0) return null;
  const missing = m.key.syncStandbys.filter((n) => (m.flush.get(n) ?? 0) < m.acknowledgedUpTo);
  if (missing.length >= m.key.quorum + 1)
    return `key ${JSON.stringify(m.key)} lets ${missing.slice(0, m.key.quorum + 1).join('+')} promote without lsn ${m.acknowledgedUpTo} (setting ${JSON.stringify(m.setting)})`;
  return null;
}

const leaderOnlyKey = (key: SyncState | null): boolean => key === null || key.syncStandbys.length === 0 || key.quorum >= key.syncStandbys.length;

/**
 * Progress: a step turned a key that let some standby be promoted into one that lets only the
 * leader be, while the setting in effect named standbys and was subsumed, and the setting wanted
 * next also names standbys. A leader dying then would leave survivors holding every acknowledged
 * commit unable to promote (the sync-modes deadlock).
 */
function promotionTakenAway(m: Model, before: SyncState | null, ctx: ReturnType<typeof makeCtx>): string | null {
  if (leaderOnlyKey(before) || !leaderOnlyKey(m.key)) return null;
  const current = ackRuleOf(ctx.obs.postgres.syncStandbyNames ?? '');
  const next = ackRuleOf(syncTarget(ctx, ctx.obs.postgres.syncStandbyNames ?? '').names);
  if (current.kind !== 'standbys' || next.kind !== 'standbys') return null;
  if (!subsumed(current, ctx.obs.postgres.syncAppliedAtLsn, ctx.obs.postgres.standbys)) return null;
  return `key ${JSON.stringify(before)} became ${JSON.stringify(m.key)} under a subsumed ${JSON.stringify(m.setting)}: only the leader may be promoted`;
}

function applyStep(m: Model, actions: Action[], rng: Prng, eager: boolean): void {
  for (const action of actions) {
    if (action.kind === 'setSyncStandbyNames') {
      m.setting = action.value ?? '';
      m.settingChanged = true;
      m.appliedAtLsn = null;
      if (eager) {
        // The broken variant: the key follows the setting at once.
        const rule = ackRuleOf(m.setting);
        const names = rule.kind === 'standbys' ? rule.names : [];
        m.key = { leader: 'n1', syncStandbys: names, quorum: rule.kind === 'standbys' ? names.length - rule.count : 0 };
      }
      acknowledge(m);
    } else if (action.kind === 'writeSyncKey') {
      if (rng.chance(0.1)) continue; // a lost compare-and-swap: nothing written
      m.key = action.value;
      m.keyRevision++;
    }
  }
}

function runModel(seed: number, eager: boolean): string | null {
  const rng = new Prng(seed);
  const mode = rng.pick(['on', 'quorum'] as const);
  const cfg = config({ synchronousMode: mode, synchronousModeStrict: rng.chance(0.4), synchronousNodeCount: rng.int(1, 3) });
  const m: Model = {
    lsn: 100,
    setting: cfg.synchronousModeStrict ? STRICT_PLACEHOLDER_NAME : '',
    appliedAtLsn: null,
    settingChanged: true,
    key: { leader: 'n1', syncStandbys: [], quorum: 0 },
    keyRevision: 1,
    connected: new Set(STANDBYS.filter(() => rng.chance(0.6))),
    stalled: new Set(),
    flush: new Map(STANDBYS.map((n) => [n, 100])),
    pending: [],
    acknowledgedUpTo: 0,
  };
  const members = [member('n1', { role: 'primary' }), ...STANDBYS.map((n) => member(n))];
  for (let event = 0; event < 300; event++) {
    const roll = rng.float();
    if (roll < 0.3) {
      m.lsn += rng.int(1, 50);
      m.pending.push(m.lsn);
    } else if (roll < 0.55) {
      const name = rng.pick(STANDBYS);
      if (m.connected.has(name)) m.flush.set(name, Math.max(m.flush.get(name) ?? 0, rng.int(m.flush.get(name) ?? 0, m.lsn)));
    } else if (roll < 0.65) {
      const name = rng.pick(STANDBYS);
      if (m.connected.has(name)) m.connected.delete(name);
      else m.connected.add(name);
    } else if (roll < 0.7) {
      // The sync watch finds a standby stalled, or moving again (it still streams either way).
      const name = rng.pick(STANDBYS);
      if (m.stalled.has(name)) m.stalled.delete(name);
      else m.stalled.add(name);
    } else {
      // A probe (the setting seen in effect records the WAL position), then the leader's step.
      if (m.settingChanged) {
        m.appliedAtLsn = m.lsn;
        m.settingChanged = false;
      }
      const obs = leaderObs({
        config: cfg,
        postgres: { walPositionBytes: m.lsn, syncStandbyNames: m.setting, syncAppliedAtLsn: m.appliedAtLsn, standbys: standbyRows(m) },
      });
      const v = view({ members, sync: m.key === null ? null : { value: m.key, modRevision: m.keyRevision } });
      const ctx = makeCtx(obs, v);
      const before = m.key;
      applyStep(m, leaderSyncStep(ctx).actions, rng, eager);
      const taken = eager ? null : promotionTakenAway(m, before, ctx);
      if (taken !== null) return `seed ${seed} (${mode}, strict ${cfg.synchronousModeStrict}, node count ${cfg.synchronousNodeCount}) event ${event}: ${taken}`;
    }
    acknowledge(m);
    const loss = losingPromotion(m);
    if (loss !== null) return `seed ${seed} (${mode}, strict ${cfg.synchronousModeStrict}, node count ${cfg.synchronousNodeCount}) event ${event}: ${loss}`;
  }
  return null;
}

test('3000 random histories: no standby the sync key lets promote can miss an acknowledged commit, and no settled step leaves only the leader promotable', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const loss = runModel(seed, false);
    assert.equal(loss, null, loss ?? '');
  }
});

test('the check bites: a key that follows the setting at once lets a standby promote without acknowledged commits', () => {
  let caught: string | null = null;
  for (let seed = 1; seed <= 3000 && caught === null; seed++) caught = runModel(seed, true);
  assert.ok(caught !== null, 'the eager variant never lost a commit in 3000 histories');
});

test('with every standby connected and caught up, the key comes to list standbys (progress)', () => {
  for (const mode of ['on', 'quorum'] as const) {
    const cfg = config({ synchronousMode: mode, synchronousNodeCount: 2 });
    const m = { setting: '', appliedAtLsn: null as number | null, key: { leader: 'n1', syncStandbys: [], quorum: 0 } as SyncState, revision: 1 };
    const members = [member('n1', { role: 'primary' }), member('n2'), member('n3')];
    for (let cycle = 0; cycle < 10; cycle++) {
      const obs = leaderObs({
        config: cfg,
        postgres: {
          walPositionBytes: 500,
          syncStandbyNames: m.setting,
          syncAppliedAtLsn: m.appliedAtLsn,
          standbys: ['n2', 'n3'].map((name) => ({ name, state: 'streaming', syncState: 'sync', flushLsnBytes: 500 })),
        },
      });
      for (const action of leaderSyncStep(makeCtx(obs, view({ members, sync: { value: m.key, modRevision: m.revision } }))).actions) {
        if (action.kind === 'setSyncStandbyNames') {
          m.setting = action.value ?? '';
          m.appliedAtLsn = 500;
        }
        if (action.kind === 'writeSyncKey' && action.value !== null) m.key = action.value;
      }
    }
    assert.deepEqual(m.key.syncStandbys, ['n2', 'n3'], mode);
    assert.equal(m.setting, mode === 'on' ? '2 (n2,n3)' : 'ANY 2 (n2,n3)');
  }
});

test("a standby joining a quorum: the bridge key lets either standby be promoted with the other's vote, never only the leader", () => {
  // The sync-modes failure: after a failover the old leader rejoined as n3; the new leader n1 had
  // settled on ANY 1 (n2). Bridging with the standbys both settings share ({[n2], 1}) let only the
  // dead leader be promoted when n1 was killed next.
  const m = { setting: 'ANY 1 (n2)', key: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 } as SyncState, revision: 1 };
  const rows: StandbyReplication[] = [
    { name: 'n2', state: 'streaming', syncState: 'quorum', flushLsnBytes: 900 },
    { name: 'n3', state: 'streaming', syncState: 'potential', flushLsnBytes: 900 },
  ];
  const cfg = config({ synchronousMode: 'quorum' });
  const members = [member('n1', { role: 'primary' }), member('n2'), member('n3')];
  const keys: SyncState[] = [];
  for (const action of settle('quorum', m, rows).flat()) if (action.kind === 'writeSyncKey' && action.value !== null) keys.push(action.value);
  assert.deepEqual(keys[0], { leader: 'n1', syncStandbys: ['n2', 'n3'], quorum: 1 }, 'the bridge lists both standbys');
  assert.ok(keySafeFor(keys[0] as SyncState, ackRuleOf('ANY 1 (n2)')) && keySafeFor(keys[0] as SyncState, ackRuleOf('ANY 1 (n2,n3)')));
  assert.equal(m.setting, 'ANY 1 (n2,n3)');
  for (const key of keys) {
    assert.ok(!leaderOnlyKey(key), `key ${JSON.stringify(key)} lets only the leader be promoted`);
    // n1 is gone: the more advanced survivor is promoted with the other's vote.
    for (const [self, other, selfWal, otherWal] of [
      ['n2', 'n3', 900, 880],
      ['n3', 'n2', 900, 880],
    ] as const) {
      const peer: PeerStatus = {
        name: other,
        reachable: true,
        running: true,
        role: 'replica',
        walPositionBytes: otherWal,
        timeline: 1,
        nofailover: false,
        failoverPriority: undefined,
        watchdogFailed: false,
        streaming: null,
      };
      const replica = replicaObs({ config: cfg, self: { name: self }, postgres: { walPositionBytes: selfWal } });
      const ctx = makeCtx(replica, view({ members, sync: { value: key, modRevision: 9 } }));
      assert.deepEqual(syncPromotionVerdict(ctx, [peer]), { ok: true }, `${self} under ${JSON.stringify(key)}`);
    }
  }
});

test('bridge keys: the list that needs the fewest votes, never a standby neither setting names', () => {
  // Synchronous mode on, 2 (n2,n3), n3 tagged nosync: the bridge to n2 alone is {[n2], 0} (n2 holds
  // every commit either setting acknowledged), not {[n2,n3], 1}, which would need n3's vote.
  const cfg = config({ synchronousMode: 'on', synchronousNodeCount: 2 });
  const members = [member('n1', { role: 'primary' }), member('n2'), member('n3', { tags: { nosync: true } })];
  const rows: StandbyReplication[] = ['n2', 'n3'].map((name) => ({ name, state: 'streaming', syncState: 'sync', flushLsnBytes: 900 }));
  const key: SyncState = { leader: 'n1', syncStandbys: ['n2', 'n3'], quorum: 0 };
  const step = leaderSyncStep(
    makeCtx(
      leaderObs({ config: cfg, postgres: { walPositionBytes: 900, syncStandbyNames: '2 (n2,n3)', syncAppliedAtLsn: 900, standbys: rows } }),
      view({ members, sync: { value: key, modRevision: 1 } }),
    ),
  );
  const written = step.actions.find((a) => a.kind === 'writeSyncKey');
  assert.deepEqual(written?.kind === 'writeSyncKey' ? written.value : null, { leader: 'n1', syncStandbys: ['n2'], quorum: 0 });
  // Replacing n3 by n4 in quorum mode: n2, which only the old key lists, is left out of the bridge.
  assert.deepEqual(bridgeKey('n1', ackRuleOf('ANY 1 (n3)'), ackRuleOf('ANY 1 (n4)'), true), { leader: 'n1', syncStandbys: ['n3', 'n4'], quorum: 1 });
  // Not subsumed: only the leader.
  assert.deepEqual(bridgeKey('n1', ackRuleOf('ANY 1 (n3)'), ackRuleOf('ANY 1 (n4)'), false), { leader: 'n1', syncStandbys: [], quorum: 0 });
  // A wildcard setting: any standby may hold a commit, so only the leader.
  assert.deepEqual(bridgeKey('n1', ackRuleOf('*'), ackRuleOf('n4'), true), { leader: 'n1', syncStandbys: [], quorum: 0 });
});

test('a bridge key listing both standbys does not move synchronous mode on to the one that flushed further', () => {
  // The bridge lists the standbys of both settings; preferring those the key lists made the
  // target follow whichever had flushed further, and the setting flipped between them.
  const m = { setting: 'n2', key: { leader: 'n1', syncStandbys: ['n2', 'n3'], quorum: 1 } as SyncState, revision: 1 };
  const rows: StandbyReplication[] = [
    { name: 'n2', state: 'streaming', syncState: 'sync', flushLsnBytes: 900 },
    { name: 'n3', state: 'streaming', syncState: 'async', flushLsnBytes: 950 },
  ];
  const cycles = settle('on', m, rows);
  assert.equal(m.setting, 'n2', JSON.stringify(cycles));
  assert.deepEqual(m.key, { leader: 'n1', syncStandbys: ['n2'], quorum: 0 });
});

/** Drives the leader's sync steps over a fixed set of standbys until nothing changes; returns each cycle's actions. */
function settle(mode: 'on' | 'quorum', m: { setting: string; key: SyncState; revision: number }, rows: StandbyReplication[], strict = false): Action[][] {
  const cfg = config({ synchronousMode: mode, synchronousModeStrict: strict });
  const members = [member('n1', { role: 'primary' }), member('n2'), member('n3')];
  const cycles: Action[][] = [];
  for (let cycle = 0; cycle < 10; cycle++) {
    const obs = leaderObs({ config: cfg, postgres: { walPositionBytes: 900, syncStandbyNames: m.setting, syncAppliedAtLsn: 900, standbys: rows } });
    const step = leaderSyncStep(makeCtx(obs, view({ members, sync: { value: m.key, modRevision: m.revision } })));
    if (step.actions.length === 0) break;
    cycles.push(step.actions);
    for (const action of step.actions) {
      if (action.kind === 'setSyncStandbyNames') m.setting = action.value ?? '';
      if (action.kind === 'writeSyncKey' && action.value !== null) {
        m.key = action.value;
        m.revision++;
      }
    }
  }
  return cycles;
}

test('a stalled synchronous standby is replaced by one that confirms: key narrowed, then the setting at once, then the key', () => {
  const m = { setting: 'n2', key: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 } as SyncState, revision: 1 };
  const rows: StandbyReplication[] = [
    { name: 'n2', state: 'streaming', syncState: 'sync', flushLsnBytes: 800, stalledMs: SYNC_STALL_MS + 200 },
    { name: 'n3', state: 'streaming', syncState: 'async', flushLsnBytes: 900, stalledMs: 0 },
  ];
  const cfg = config({ synchronousMode: 'on' });
  const first = leaderSyncStep(
    makeCtx(
      leaderObs({ config: cfg, postgres: { walPositionBytes: 900, syncStandbyNames: m.setting, syncAppliedAtLsn: 900, standbys: rows } }),
      view({ members: [member('n1', { role: 'primary' }), member('n2'), member('n3')], sync: { value: m.key, modRevision: m.revision } }),
    ),
  );
  assert.equal(first.wakeInMs, SYNC_NEXT_STEP_WAKE_MS, 'the setting follows the narrowed key without waiting a step');
  const cycles = settle('on', m, rows);
  assert.deepEqual(
    cycles.map((actions) => actions.map((a) => a.kind)),
    [['writeSyncKey'], ['setSyncStandbyNames'], ['writeSyncKey']],
  );
  assert.deepEqual(cycles[0]?.[0]?.kind === 'writeSyncKey' ? cycles[0][0].value?.syncStandbys : null, [], 'first: only the leader may be promoted');
  assert.equal(m.setting, 'n3');
  assert.deepEqual(m.key.syncStandbys, ['n3']);
});

test('a stall is a reason to prefer another standby, never to acknowledge with fewer copies', () => {
  const stalledOnly: StandbyReplication[] = [{ name: 'n2', state: 'streaming', syncState: 'sync', flushLsnBytes: 800, stalledMs: 5000 }];
  for (const mode of ['on', 'quorum'] as const) {
    const setting = mode === 'on' ? 'n2' : 'ANY 1 (n2)';
    const m = { setting, key: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 } as SyncState, revision: 1 };
    assert.deepEqual(settle(mode, m, stalledOnly), [], `${mode}: nothing changes while the stalled standby is the only one`);
    assert.equal(m.setting, setting);
  }
  // Both stalled: the usual order holds (the one in the key stays).
  const both: StandbyReplication[] = [
    { name: 'n2', state: 'streaming', syncState: 'sync', flushLsnBytes: 800, stalledMs: 5000 },
    { name: 'n3', state: 'streaming', syncState: 'async', flushLsnBytes: 850, stalledMs: 5000 },
  ];
  const m = { setting: 'n2', key: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 } as SyncState, revision: 1 };
  assert.deepEqual(settle('on', m, both), []);
  // Below the threshold nothing moves either.
  const brief: StandbyReplication[] = [
    { name: 'n2', state: 'streaming', syncState: 'sync', flushLsnBytes: 800, stalledMs: SYNC_STALL_MS - 1 },
    { name: 'n3', state: 'streaming', syncState: 'async', flushLsnBytes: 900, stalledMs: 0 },
  ];
  const m2 = { setting: 'n2', key: { leader: 'n1', syncStandbys: ['n2'], quorum: 0 } as SyncState, revision: 1 };
  assert.deepEqual(settle('on', m2, brief), []);
});
