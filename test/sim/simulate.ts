/**
 * One simulated schedule from a seed: draws the parameters (swarm: the seed picks the fault rates),
 * builds the nodes, schedules faults in [faultStart, faultEnd), heals everything at faultEnd, then
 * checks liveness: exactly one leader within ttl + 2*loop_wait, still one at the end.
 * Safety invariants are checked continuously by the World.
 */
import type { Tags } from '../../src/config/types.js';
import { runAgent } from './agent.js';
import { describeParams, drawParams, type Mutant, type SimNode } from './model.js';
import { Violation, World } from './world.js';

export interface SimResult {
  seed: number;
  params: string;
  violation: Violation | null;
  promotions: number;
  writes: number;
  /** ms from heal to a single leader, or null when none was owed (no eligible node) . */
  healToLeaderMs: number | null;
  virtualMs: number;
  log: string[];
}

export interface SimOptions {
  mutant?: Mutant;
  verbose?: boolean;
}

function makeTags(raw: Record<string, unknown>): Tags {
  const tags: Tags = {
    nofailover: raw['nofailover'] === true,
    noloadbalance: false,
    clonefrom: raw['clonefrom'] === true,
    nosync: false,
    nostream: false,
    raw,
  };
  if (typeof raw['replicatefrom'] === 'string') tags.replicatefrom = raw['replicatefrom'];
  if (typeof raw['failover_priority'] === 'number') tags.failoverPriority = raw['failover_priority'];
  return tags;
}

function buildNodes(w: World): void {
  const names = Array.from({ length: w.params.nodeCount }, (_, i) => `node${i + 1}`);
  const nofailoverIndex = names.length >= 3 && w.rng.chance(0.2) ? w.rng.int(0, names.length - 1) : -1;
  names.forEach((name, i) => {
    const raw: Record<string, unknown> = {};
    if (i === nofailoverIndex) raw['nofailover'] = true;
    if (w.rng.chance(0.3)) raw['failover_priority'] = w.rng.int(1, 3);
    if (w.rng.chance(0.2)) raw['clonefrom'] = true;
    if (names.length >= 3 && w.rng.chance(0.1)) raw['replicatefrom'] = w.rng.pick(names.filter((x) => x !== name));
    const node: SimNode = {
      name,
      tags: makeTags(raw),
      canBootstrap: true,
      watchdogAvailable: w.params.watchdogMode === 'off' ? false : w.rng.chance(0.9) || i === 0,
      pg: {
        dataDir: 'empty',
        sysid: null,
        running: false,
        role: 'replica',
        lineage: [],
        lsn: 0,
        fenced: false,
        followTarget: null,
        crashedSinceMs: null,
        rewindCapable: w.rng.chance(0.8),
        replayPausedUntilMs: 0,
        catchUpChance: w.rng.pick([0.3, 0.8, 1]),
      },
      agent: null,
      incarnation: 0,
      paused: false,
      pending: [],
      watchdogDeadlineMs: null,
      dcsLink: 'ok',
      removeOnRewindFailure: w.rng.chance(0.7),
      removeOnDiverged: w.rng.chance(0.5),
    };
    w.nodes.push(node);
  });
}

function scheduleFaults(w: World): void {
  const p = w.params;
  const c = p.config;
  const spanMs = p.faultEndMs - p.faultStartMs;
  const minutes = spanMs / 60000;
  const names = w.nodes.map((n) => n.name);
  const count = (rate: number): number => Math.round(rate * minutes * (0.5 + w.rng.float()));
  const when = (): number => p.faultStartMs + w.rng.int(0, spanMs - 1);
  const endAt = (start: number, d: number): number => Math.min(start + d, p.faultEndMs) - start;
  const at = (t: number, fn: () => void): void => w.at(t - w.nowMs, fn);
  const each = (rate: number, fn: (t: number, n: SimNode) => void, among: string[] = names): void => {
    if (among.length === 0) return;
    for (let i = count(rate); i > 0; i--) fn(when(), w.node(w.rng.pick(among)));
  };
  // A frozen or dead agent cannot fence: only a kernel watchdog protects its still-running primary,
  // so those faults only hit nodes with a usable watchdog (as in production, and as in Patroni).
  const guarded = w.nodes.filter((n) => n.watchdogAvailable).map((n) => n.name);
  each(p.rates.pgCrash, (t, n) => at(t, () => {
    w.trace(`FAULT ${n.name}: kill -9 postmaster`);
    w.stopPg(n, true);
  }));
  each(p.rates.nodeKill, (t, n) => {
    const d = endAt(t, w.rng.int(500, 2 * c.ttlMs));
    at(t, () => {
      w.trace(`FAULT ${n.name}: kill -9 agent and postmaster for ${d} ms`);
      w.stopPg(n, true);
      w.killAgent(n);
      n.watchdogDeadlineMs = null;
      n.paused = false;
      w.at(d, () => w.bootAgent(n));
    });
  });
  each(p.rates.agentCrash, (t, n) => {
    const d = endAt(t, w.rng.int(200, 2 * c.ttlMs));
    at(t, () => {
      w.trace(`FAULT ${n.name}: kill -9 agent only for ${d} ms`);
      w.killAgent(n);
      n.paused = false;
      w.at(d, () => w.bootAgent(n));
    });
  }, guarded);
  const pause = (t: number, n: SimNode, d: number): void => at(t, () => {
    if (n.agent === null || n.paused) return;
    w.trace(`FAULT ${n.name}: SIGSTOP agent for ${d} ms`);
    n.paused = true;
    const inc = n.incarnation;
    w.at(d, () => {
      if (n.incarnation === inc) w.unpause(n);
    });
  });
  each(p.rates.longPause, (t, n) => pause(t, n, endAt(t, w.rng.int(Math.floor(c.ttlMs / 2), 3 * c.ttlMs))), guarded);
  each(p.rates.shortPause, (t, n) => pause(t, n, endAt(t, w.rng.int(10, Math.max(10, Math.floor(c.retryTimeoutMs / 2))))));
  const link = (rate: number, mode: 'cut' | 'responses-lost' | 'slow'): void =>
    each(rate, (t, n) => {
      const d = endAt(t, w.rng.int(500, 3 * c.ttlMs));
      at(t, () => {
        w.trace(`FAULT ${n.name}: DCS link ${mode} for ${d} ms`);
        n.dcsLink = mode;
        w.at(d, () => {
          n.dcsLink = 'ok';
        });
      });
    });
  link(p.rates.dcsCut, 'cut');
  link(p.rates.dcsOneWay, 'responses-lost');
  link(p.rates.dcsSlow, 'slow');
  each(p.rates.netCut, (t, n) => {
    const other = w.rng.pick(names.filter((x) => x !== n.name));
    const d = endAt(t, w.rng.int(500, 3 * c.ttlMs));
    at(t, () => {
      w.trace(`FAULT partition ${n.name} <-> ${other} for ${d} ms`);
      w.setNetCut(n.name, other, true);
      w.at(d, () => w.setNetCut(n.name, other, false));
    });
  });
  each(p.rates.replayPause, (t, n) => at(t, () => {
    const d = endAt(t, w.rng.int(1000, 60000));
    w.trace(`FAULT ${n.name}: replay paused for ${d} ms`);
    n.pg.replayPausedUntilMs = w.nowMs + d;
  }));
  for (let i = count(p.rates.dcsDown); i > 0; i--) {
    const t = when();
    const d = endAt(t, w.rng.int(500, 2 * c.ttlMs));
    at(t, () => {
      w.trace(`FAULT etcd unreachable for everyone for ${d} ms`);
      for (const n of w.nodes) n.dcsLink = 'cut';
      w.at(d, () => {
        for (const n of w.nodes) n.dcsLink = 'ok';
      });
    });
  }
}

export function simulate(seed: number, options: SimOptions = {}): SimResult {
  const params = drawParams(seed, options.mutant ?? 'none');
  const w = new World(params);
  w.verbose = options.verbose === true;
  w.startAgent = (n) => runAgent(w, n);
  buildNodes(w);
  for (const n of w.nodes) w.at(w.rng.int(0, 1000), () => w.bootAgent(n));
  w.startBackground();
  scheduleFaults(w);
  const c = params.config;
  const boundMs = c.ttlMs + 2 * c.loopWaitMs;
  let violation: Violation | null = null;
  let healToLeaderMs: number | null = null;
  try {
    w.run(params.faultEndMs);
    w.healAll();
    const healMs = w.nowMs;
    while (w.nowMs < healMs + boundMs && w.leaderNow() === null) w.run(w.nowMs + 50);
    if (w.leaderNow() !== null) healToLeaderMs = w.nowMs - healMs;
    else if (w.someoneEligible()) throw new Violation('c', `no single leader ${boundMs} ms after the last fault healed (t=${healMs})`);
    w.run(healMs + boundMs + 2 * c.ttlMs);
    if (healToLeaderMs !== null && w.leaderNow() === null) throw new Violation('c', `leadership lost after faults healed (t=${w.nowMs})`);
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    violation = e;
  }
  return {
    seed,
    params: describeParams(params),
    violation,
    promotions: w.promotions,
    writes: w.acknowledgedWrites,
    healToLeaderMs,
    virtualMs: w.nowMs,
    log: w.log,
  };
}
