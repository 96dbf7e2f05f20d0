/**
 * The simulated agent: gathers an Observation from the fakes, calls the REAL decide(), and applies
 * the Decision the way the real executor must (in order; gates choose then/else in the same cycle;
 * the lease guard fences on its own timer, even while the cycle waits on I/O). It is a generator
 * that yields virtual delays, so a paused agent (SIGSTOP) simply stops being resumed while its
 * PostgreSQL keeps running.
 */
import type { Member } from '../../src/dcs/types.js';
import { decide } from '../../src/ha/decide.js';
import type { Action, Decision, Observation, PeerStatus, Plan, TaskKind } from '../../src/ha/types.js';
import { renderWhy } from '../../src/ha/why.js';
import { watchdogPingTimeoutMs } from '../../src/ha/watchdog-logic.js';
import type { AgentState, SimNode } from './model.js';
import type { World } from './world.js';

const FAIL = Symbol('fail');
type Io<T> = Generator<number, T, void>;

export function runAgent(w: World, n: SimNode): void {
  const a = n.agent;
  if (a === null) return;
  const gen = agentLoop(w, n, a);
  const step = (): void => {
    const r = gen.next();
    if (r.done === true) return;
    w.at(r.value, () => w.resume(n, a.incarnation, step));
  };
  w.at(w.rng.int(0, 200), () => w.resume(n, a.incarnation, step));
}

function alive(n: SimNode, a: AgentState): boolean {
  return n.agent === a && n.incarnation === a.incarnation;
}

function* agentLoop(w: World, n: SimNode, a: AgentState): Io<void> {
  const loopWaitMs = w.params.config.loopWaitMs;
  for (;;) {
    const startMs = w.nowMs;
    const obs = yield* observe(w, n, a);
    let decision = decide(obs);
    if (w.params.mutant === 'no-fence') decision = stripFence(decision);
    a.guard = decision.leaseGuard;
    scheduleGuard(w, n, a);
    const why = yield* execute(w, n, a, decision, decision.gateValidForMs);
    a.lastWhy = renderWhy(why);
    w.trace(`${n.name}: ${a.lastWhy}`);
    if (!alive(n, a)) return;
    yield Math.max(1, loopWaitMs - (w.nowMs - startMs));
  }
}

function stripFence(d: Decision): Decision {
  const strip = (p: Plan): Plan => ({
    why: p.why,
    actions: p.actions
      .filter((x) => x.kind !== 'fence')
      .map((x): Action => (x.kind === 'claimInitialize' || x.kind === 'acquireLeaderKey' || x.kind === 'updateLeaderKey' ? { ...x, then: strip(x.then), else: strip(x.else) } : x)),
  });
  return { ...strip(d), leaseGuard: null, gateValidForMs: d.gateValidForMs };
}

// ---- I/O helpers ----------------------------------------------------------------------------

function* dcsCall<T>(w: World, n: SimNode, op: () => T): Io<T | typeof FAIL> {
  const deadlineMs = w.params.config.retryTimeoutMs;
  const there = w.dcsLatency(n);
  yield there;
  if (!w.requestReachesDcs(n)) {
    yield Math.max(0, deadlineMs - there);
    return FAIL;
  }
  const result = op();
  const back = w.dcsLatency(n);
  if (there + back > deadlineMs) {
    yield Math.max(0, deadlineMs - there);
    return FAIL;
  }
  yield back;
  if (!w.responseReachesNode(n)) {
    yield Math.max(0, deadlineMs - there - back);
    return FAIL;
  }
  return result;
}

function confirmKeepalive(w: World, n: SimNode, a: AgentState, sentMs: number): void {
  a.lastConfirmedSentMs = sentMs;
  a.lastAttemptFailed = false;
  scheduleGuard(w, n, a);
}

/** The executor's lease guard timer: fence as soon as (last confirmed send + offset) passes. */
function scheduleGuard(w: World, n: SimNode, a: AgentState): void {
  if (a.guard === null || w.params.mutant === 'no-guard') return;
  const fireAt = (a.lastConfirmedSentMs ?? w.nowMs) + a.guard.fenceAfterSentMs;
  w.at(fireAt - w.nowMs, () =>
    w.resume(n, a.incarnation, () => {
      if (a.guard === null || !n.pg.running || n.pg.fenced) return;
      if (a.lastConfirmedSentMs !== null && w.nowMs < a.lastConfirmedSentMs + a.guard.fenceAfterSentMs) return;
      w.trace(`${n.name}: lease guard fires: fencing`);
      w.at(w.rng.int(1, 20), () => {
        if (n.pg.running) n.pg.fenced = true;
      });
    }),
  );
}

function* refreshLease(w: World, n: SimNode, a: AgentState): Io<void> {
  const sentMs = w.nowMs;
  if (a.leaseId !== null) {
    const r = yield* dcsCall(w, n, () => w.dcs.keepalive(a.leaseId, w.nowMs));
    if (r === FAIL) {
      a.lastAttemptFailed = true;
      return;
    }
    if (r) {
      confirmKeepalive(w, n, a, sentMs);
      return;
    }
  }
  const grantSentMs = w.nowMs;
  const id = yield* dcsCall(w, n, () => w.dcs.grant(n.name, w.nowMs));
  if (id === FAIL) {
    a.lastAttemptFailed = true;
    return;
  }
  a.leaseId = id;
  confirmKeepalive(w, n, a, grantSentMs);
}

function memberOf(w: World, n: SimNode, a: AgentState): Member {
  const pg = n.pg;
  return {
    name: n.name,
    modRevision: 0,
    leaseId: a.leaseId,
    connUrl: `postgres://${n.name}:5432/postgres`,
    apiUrl: `http://${n.name}:8008/patroni`,
    state: pg.running ? 'running' : 'stopped',
    role: pg.dataDir !== 'initialized' ? 'uninitialized' : pg.running && pg.role === 'primary' ? 'primary' : 'replica',
    xlogLocation: pg.dataDir === 'initialized' ? pg.lsn : null,
    receiveLsn: null,
    replayLsn: null,
    replicationState: w.streaming(n) ? 'streaming' : null,
    timeline: pg.dataDir === 'initialized' ? w.tl(pg) : null,
    tags: n.tags.raw,
    data: {},
  };
}

// ---- observation ----------------------------------------------------------------------------

function* observe(w: World, n: SimNode, a: AgentState): Io<Observation> {
  const readStartMs = w.nowMs;
  const view = yield* dcsCall(w, n, () => w.dcs.load(w.nowMs));
  if (view === FAIL) a.dcsFailSinceMs ??= readStartMs;
  else a.dcsFailSinceMs = null;
  let peers: PeerStatus[] | null = null;
  if (view !== FAIL && view.leader === null) {
    const others = view.members.filter((m) => m.name !== n.name);
    let waitMs = 0;
    const reachable = new Map<string, boolean>();
    for (const m of others) {
      const peer = w.nodes.find((x) => x.name === m.name);
      const ok = peer !== undefined && peer.agent !== null && !peer.paused && w.linked(n.name, peer.name);
      reachable.set(m.name, ok);
      waitMs = Math.max(waitMs, ok ? w.rng.int(2, 20) : 2000);
    }
    if (waitMs > 0) yield waitMs;
    peers = others.map((m): PeerStatus => {
      const peer = w.node(m.name);
      const ok = reachable.get(m.name) === true && peer.agent !== null && !peer.paused;
      const init = peer.pg.dataDir === 'initialized';
      return {
        name: m.name,
        reachable: ok,
        running: peer.pg.running,
        role: peer.pg.running ? peer.pg.role : null,
        walPositionBytes: init ? peer.pg.lsn : null,
        timeline: init ? w.tl(peer.pg) : null,
        nofailover: peer.tags.nofailover,
        failoverPriority: peer.tags.failoverPriority,
        watchdogFailed: w.params.watchdogMode === 'required' && !peer.watchdogAvailable,
      };
    });
  }
  const pg = n.pg;
  const init = pg.dataDir === 'initialized';
  let diverged: boolean | null = null;
  const leaderName = view === FAIL ? null : view.leader?.name ?? null;
  if (init && leaderName !== null && leaderName !== n.name) {
    const leader = w.nodes.find((x) => x.name === leaderName);
    if (leader !== undefined && leader.pg.dataDir === 'initialized' && w.linked(n.name, leader.name)) {
      diverged = w.streaming(n) ? false : !w.compatible(pg, leader.pg);
    }
  }
  const config = w.params.mutant === 'ignore-lag' ? { ...w.params.config, maximumLagOnFailoverBytes: Number.MAX_SAFE_INTEGER } : w.params.config;
  return {
    nowMs: w.nowMs,
    self: {
      name: n.name,
      tags: n.tags,
      watchdogMode: w.params.watchdogMode,
      watchdogSafetyMarginMs: w.params.safetyMarginMs,
      removeDataDirectoryOnRewindFailure: n.removeOnRewindFailure,
      removeDataDirectoryOnDivergedTimelines: n.removeOnDiverged,
      canBootstrap: n.canBootstrap,
    },
    config,
    paused: false,
    dcs: view === FAIL ? { ok: false, sinceMs: a.dcsFailSinceMs ?? readStartMs } : { ok: true, view },
    lease: { leaseId: a.leaseId, lastConfirmedSentMs: a.lastConfirmedSentMs, lastAttemptFailed: a.lastAttemptFailed, failsafeConfirmedSentMs: null },
    postgres: {
      dataDir: pg.dataDir,
      systemIdentifier: init ? pg.sysid : null,
      running: pg.running,
      starting: false,
      role: pg.running ? pg.role : null,
      timeline: init ? w.tl(pg) : null,
      walPositionBytes: init ? pg.lsn : null,
      followTarget: pg.running ? pg.followTarget : null,
      streaming: w.streaming(n),
      fenced: pg.running && pg.fenced,
      crashedSinceMs: pg.crashedSinceMs,
      controlState: pg.running ? (pg.role === 'primary' ? 'in production' : 'in archive recovery') : 'shut down',
      rewindCapable: pg.rewindCapable,
      divergence: diverged === null ? { verdict: 'notChecked' } : diverged ? { verdict: 'diverged', leaderCheckpointed: true } : { verdict: 'safe' },
      notStreamingSinceMs: null,
      receiverError: null,
    },
    asyncTask: { running: a.task, lastResult: a.lastResult },
    peers,
    watchdog: { available: n.watchdogAvailable, armed: a.watchdogArmed },
    failsafeLeader: null,
  };
}

// ---- execution ------------------------------------------------------------------------------

function startTask(w: World, n: SimNode, a: AgentState, kind: TaskKind, durationMs: number, target: string | undefined, effect: () => string | null, survivesAgent = false): void {
  if (a.task !== null) return;
  a.task = target === undefined ? { kind, startedMs: w.nowMs } : { kind, startedMs: w.nowMs, target };
  w.at(durationMs, () => {
    const mine = alive(n, a);
    if (!mine && !survivesAgent) return;
    const failure = effect();
    if (!mine) return;
    a.task = null;
    a.lastResult = { kind, ok: failure === null, message: failure ?? 'ok', finishedMs: w.nowMs, ...(target === undefined ? {} : { target }) };
  });
}

function sourceUsable(w: World, n: SimNode, from: string): SimNode | null {
  const src = w.nodes.find((x) => x.name === from);
  if (src === undefined || !src.pg.running || src.pg.dataDir !== 'initialized' || !w.linked(n.name, from)) return null;
  return src;
}

function copyFrom(n: SimNode, src: SimNode): void {
  n.pg.dataDir = 'initialized';
  n.pg.sysid = src.pg.sysid;
  n.pg.lineage = src.pg.lineage.map((s) => ({ ...s }));
  n.pg.lsn = src.pg.lsn;
}

function* execute(w: World, n: SimNode, a: AgentState, plan: Plan, gateValidForMs: number): Io<Plan['why']> {
  for (const action of plan.actions) {
    if (!alive(n, a)) return plan.why;
    if (action.kind === 'confirmFailsafe') throw new Error('the simulator does not model failsafe_mode yet');
    if (action.kind === 'claimInitialize' || action.kind === 'acquireLeaderKey' || action.kind === 'updateLeaderKey') {
      const sentMs = w.nowMs;
      let ok = yield* gate(w, n, a, action.kind);
      if (ok && w.params.mutant !== 'stale-gate' && w.nowMs >= sentMs + gateValidForMs) {
        w.trace(`${n.name}: ${action.kind} succeeded too late (${w.nowMs - sentMs} ms): counted as failed`);
        ok = false;
      }
      return yield* execute(w, n, a, ok ? action.then : action.else, gateValidForMs);
    }
    yield* apply(w, n, a, action);
  }
  return plan.why;
}

function* gate(w: World, n: SimNode, a: AgentState, kind: 'claimInitialize' | 'acquireLeaderKey' | 'updateLeaderKey'): Io<boolean> {
  if (kind === 'claimInitialize') return (yield* dcsCall(w, n, () => w.dcs.claimInitialize(w.nowMs))) === true;
  if (kind === 'acquireLeaderKey') {
    const r = yield* dcsCall(w, n, () => w.dcs.acquireLeader(n.name, a.leaseId, w.nowMs));
    if (r === true) w.trace(`${n.name}: acquired the leader key`);
    return r === true;
  }
  const sentMs = w.nowMs;
  const r = yield* dcsCall(w, n, () => w.dcs.updateLeader(n.name, a.leaseId, w.nowMs));
  if (r === true) confirmKeepalive(w, n, a, sentMs);
  else a.lastAttemptFailed = true;
  return r === true;
}

function* apply(w: World, n: SimNode, a: AgentState, action: Action): Io<void> {
  const pg = n.pg;
  switch (action.kind) {
    case 'refreshLease':
      return yield* refreshLease(w, n, a);
    case 'touchMember':
      yield* dcsCall(w, n, () => w.dcs.putMember(memberOf(w, n, a), w.nowMs));
      return;
    case 'fence':
    case 'unfence':
      yield w.rng.int(1, 20);
      if (pg.running) pg.fenced = action.kind === 'fence';
      return;
    case 'followLeader':
      yield w.rng.int(5, 50);
      if (pg.running) pg.followTarget = action.member;
      return;
    case 'demote': {
      yield w.rng.int(10, 100);
      w.stopPg(n, false);
      if (action.mode === 'immediate') yield* dcsCall(w, n, () => w.dcs.deleteLeader(n.name, w.nowMs));
      startTask(w, n, a, 'start', w.rng.int(200, 1000), undefined, () => (pg.running ? null : (w.startPgAsReplica(n, null), null)), true);
      return;
    }
    case 'stopPostgres':
      startTask(w, n, a, 'stop', w.rng.int(50, 500), undefined, () => {
        w.stopPg(n, false);
        return null;
      });
      return;
    case 'promote':
      w.checkPromotion(n);
      startTask(w, n, a, 'promote', w.rng.int(50, 500), undefined, () => {
        if (!pg.running || pg.role !== 'replica') return 'not running as a replica';
        w.promotePg(n);
        return null;
      }, true);
      return;
    case 'runBootstrap':
      startTask(w, n, a, 'bootstrap', w.rng.int(500, 2000), undefined, () => {
        if (w.rng.chance(0.02)) return 'initdb failed';
        pg.dataDir = 'initialized';
        pg.sysid = `73${String(w.params.seed).padStart(17, '0')}`;
        pg.lineage = w.newLineage();
        pg.lsn = 16 << 20;
        pg.running = true;
        pg.role = 'primary';
        pg.fenced = false;
        pg.crashedSinceMs = null;
        return null;
      });
      return;
    case 'cloneFrom':
    case 'reclone': {
      if (a.task !== null) return;
      if (action.kind === 'reclone') {
        w.stopPg(n, false);
        pg.dataDir = 'empty';
      }
      const from = action.kind === 'cloneFrom' ? action.member : action.from;
      const follow = action.follow;
      startTask(w, n, a, action.kind === 'cloneFrom' ? 'clone' : 'reinit', w.rng.int(500, 3000), from, () => {
        const src = sourceUsable(w, n, from);
        if (src === null) return `${from} is not reachable`;
        copyFrom(n, src);
        w.startPgAsReplica(n, follow);
        return null;
      });
      return;
    }
    case 'rewind': {
      if (a.task !== null) return;
      w.stopPg(n, false);
      const { from, follow } = action;
      startTask(w, n, a, 'rewind', w.rng.int(300, 2000), from, () => {
        const src = sourceUsable(w, n, from);
        if (src === null || !pg.rewindCapable || w.rng.chance(0.05)) return 'pg_rewind failed';
        let k = 0;
        while (k < pg.lineage.length && src.pg.lineage[k]?.uid === pg.lineage[k]?.uid) k++;
        pg.lineage = src.pg.lineage.slice(0, Math.max(1, k)).map((s) => ({ ...s }));
        const next = src.pg.lineage[pg.lineage.length];
        pg.lsn = Math.min(pg.lsn, next === undefined ? src.pg.lsn : next.fromLsn);
        w.startPgAsReplica(n, follow);
        return null;
      });
      return;
    }
    case 'startAsReplica':
    case 'restartCrashed': {
      const follow = action.kind === 'startAsReplica' ? action.follow : null;
      startTask(w, n, a, 'start', w.rng.int(200, 1000), undefined, () => {
        if (pg.running) return null;
        w.startPgAsReplica(n, follow);
        return null;
      }, true);
      return;
    }
    case 'releaseLeaderKey':
      yield* dcsCall(w, n, () => w.dcs.deleteLeader(n.name, w.nowMs));
      return;
    case 'writeInitialize':
      yield* dcsCall(w, n, () => w.dcs.setInitialize(action.systemIdentifier, action.create));
      return;
    case 'cancelInitialization':
      yield* dcsCall(w, n, () => w.dcs.cancelInitialization());
      return;
    case 'writeHistory': {
      const seg = pg.lineage.find((s) => s.tl === action.endedTimeline + 1);
      const lsn = seg?.fromLsn ?? pg.lsn;
      yield* dcsCall(w, n, () => w.dcs.appendHistory({ timeline: action.endedTimeline, lsn, reason: action.reason, newLeader: action.newLeader }));
      return;
    }
    case 'writeStatus':
      yield* dcsCall(w, n, () => {
        w.dcs.statusOptime = action.optimeBytes;
      });
      return;
    case 'watchdog':
      if (w.params.mutant === 'no-watchdog' || !n.watchdogAvailable) return;
      if (action.op === 'disable') {
        n.watchdogDeadlineMs = null;
        a.watchdogArmed = false;
        return;
      }
      if (a.lastConfirmedSentMs !== null) {
        const timeoutMs = watchdogPingTimeoutMs(w.nowMs, a.lastConfirmedSentMs, w.params.config.ttlMs, w.params.safetyMarginMs);
        if (timeoutMs !== null) {
          w.pingWatchdog(n, timeoutMs);
          a.watchdogArmed = true;
        }
      }
      return;
    case 'exit':
      w.trace(`${n.name}: agent exits (code ${action.code})`);
      w.killAgent(n);
      w.at(w.rng.int(1000, 3000), () => w.bootAgent(n));
      return;
    case 'writeBootstrapConfig':
    case 'deleteFailoverKey':
    case 'writeFailsafe':
      yield* dcsCall(w, n, () => true);
      return;
    case 'claimInitialize':
    case 'acquireLeaderKey':
    case 'updateLeaderKey':
    case 'confirmFailsafe':
      throw new Error('gates are handled by execute()');
  }
}
