/**
 * One simulated schedule from a seed: draws the parameters (swarm: the seed picks the fault
 * rates), builds the nodes — each running the production Agent on simulated ports — schedules
 * faults in [faultStart, faultEnd), heals everything at faultEnd, then checks liveness:
 *  (c) one leader within ttl + 2 * loop_wait (+ the time PostgreSQL takes) once faults healed, and
 *      still one at the end, unless no node may lead;
 *  (e) no node keeps starting and stopping PostgreSQL once things are calm;
 *  (f) no node stays unable to tell whether it diverged;
 *  (g) every node that may rejoin streams from the leader at the end.
 * Safety invariants (a), (b), (d) are checked continuously by the World.
 */
import { describeParams, drawParams, type Family, type Mutant, type SimNode, type SimParams } from './model.js';
import { runAgentProcess } from './sim-ports.js';
import { KNOWN_LIMITATIONS, Violation, World } from './world.js';

export interface SimResult {
  seed: number;
  params: string;
  violation: Violation | null;
  promotions: number;
  writes: number;
  /** ms from heal to a single leader, or null when none was owed (no eligible node). */
  healToLeaderMs: number | null;
  virtualMs: number;
  log: string[];
}

export interface SimOptions {
  mutant?: Mutant;
  family?: Family;
  verbose?: boolean;
  /** Schedules operator requests (POST /restart, /reinitialize) on the world before it runs. */
  operator?: (w: World) => void;
  /** Adjusts the drawn parameters before the world is built (a schedule aimed at one case sets its own fault rates). */
  tune?: (params: SimParams) => void;
}

/** Time PostgreSQL itself may need on top of the HA timings (start, promote, a rewind and restart). */
const POSTGRES_SLACK_MS = 6000;

function buildNodes(w: World): void {
  const names = Array.from({ length: w.params.nodeCount }, (_, i) => `node${i + 1}`);
  const nofailoverIndex = names.length >= 3 && w.rng.chance(0.2) ? w.rng.int(0, names.length - 1) : -1;
  const wrongPasswordIndex = names.length >= 3 && w.rng.chance(0.1) ? w.rng.int(0, names.length - 1) : -1;
  names.forEach((name, i) => {
    const tags: Record<string, unknown> = {};
    if (i === nofailoverIndex) tags['nofailover'] = true;
    if (w.rng.chance(0.3)) tags['failover_priority'] = w.rng.int(1, 3);
    if (w.rng.chance(0.2)) tags['clonefrom'] = true;
    if (names.length >= 3 && w.rng.chance(0.1)) tags['replicatefrom'] = w.rng.pick(names.filter((x) => x !== name));
    const skew = w.params.clockSkew;
    const node: SimNode = {
      name,
      tags,
      canBootstrap: true,
      watchdogAvailable: w.params.watchdogMode === 'off' ? false : w.rng.chance(0.9) || i === 0,
      pg: {
        dataDir: 'empty',
        sysid: null,
        lineage: [],
        lsn: 0,
        checkpointTl: 0,
        checksums: false,
        autoConfWalLogHintsOff: w.rng.chance(0.1),
        walLogHints: false,
        state: 'down',
        inRecovery: false,
        shutdownClean: true,
        conf: null,
        applied: { ssn: '', followHost: null },
        pgpassReplicationPassword: null,
        slots: [],
        usersCreated: false,
        epoch: 0,
        starts: 0,
        startsAtMs: [],
        replayPausedUntilMs: 0,
        catchUpChance: w.rng.pick([0.3, 0.8, 1]),
        receiverError: null,
        streamingSince: null,
        timelineOrigin: null,
        upSinceMs: null,
        promoteRequestedAtMs: null,
      },
      proc: null,
      agent: null,
      incarnations: 0,
      watchdogDeadlineMs: null,
      processFenceDeadlineMs: null,
      dcsLink: 'ok',
      clockRate: 1 + (w.rng.float() * 2 - 1) * skew,
      removeOnRewindFailure: w.rng.chance(0.7),
      removeOnDiverged: w.rng.chance(0.5),
      wrongReplicationPassword: i === wrongPasswordIndex,
      configWriteDelayMs: [1, 20],
      configWriteFails: false,
      lastWhyKind: null,
      lastWhySinceMs: 0,
      fenceDecidedOnKnownReplica: false,
    };
    w.nodes.push(node);
  });
}

function scheduleFaults(w: World): void {
  const p = w.params;
  const ttlMs = p.ttlS * 1000;
  const retryMs = p.retryTimeoutS * 1000;
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
  // A frozen or dead agent cannot fence by itself: keel-fence (or a kernel watchdog) stops its
  // still-running primary. Without keel-fence (the mutant) only watchdog-guarded nodes would be
  // safe, so the standard family then spares the others; frozen-unguarded never does.
  const guarded = p.family === 'frozen-unguarded' || p.mutant !== 'no-process-fence' ? names : w.nodes.filter((n) => n.watchdogAvailable).map((n) => n.name);
  each(p.rates.pgCrash, (t, n) => at(t, () => w.downPg(n, false, 'crashed (kill -9 postmaster)')));
  each(p.rates.nodeKill, (t, n) => {
    const d = endAt(t, w.rng.int(500, 2 * ttlMs));
    at(t, () => {
      w.trace(`FAULT ${n.name}: kill -9 agent and postmaster for ${d} ms`);
      w.killMachine(n);
      w.bootAgentIn(n, d);
    });
  });
  each(
    p.rates.agentCrash,
    (t, n) => {
      const d = endAt(t, w.rng.int(200, 2 * ttlMs));
      at(t, () => {
        w.trace(`FAULT ${n.name}: kill -9 agent only for ${d} ms`);
        w.killAgent(n, 'killed (kill -9)');
        w.bootAgentIn(n, d);
      });
    },
    guarded,
  );
  const pause = (t: number, n: SimNode, d: number): void =>
    at(t, () => {
      const proc = n.proc;
      if (proc === null || proc.paused) return;
      w.trace(`FAULT ${n.name}: SIGSTOP agent for ${d} ms`);
      w.pause(n);
      w.at(
        d,
        () => {
          if (n.proc === proc) w.unpause(n);
        },
        true,
      );
    });
  each(p.rates.longPause, (t, n) => pause(t, n, endAt(t, w.rng.int(Math.floor(ttlMs / 2), 3 * ttlMs))), guarded);
  each(p.rates.shortPause, (t, n) => pause(t, n, endAt(t, w.rng.int(10, Math.max(10, Math.floor(retryMs / 2))))));
  const link = (rate: number, mode: 'cut' | 'responses-lost' | 'slow'): void =>
    each(rate, (t, n) => {
      const d = endAt(t, w.rng.int(500, 3 * ttlMs));
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
    const d = endAt(t, w.rng.int(500, 3 * ttlMs));
    at(t, () => {
      w.trace(`FAULT partition ${n.name} <-> ${other} for ${d} ms`);
      w.setNetCut(n.name, other, true);
      w.at(d, () => w.setNetCut(n.name, other, false));
    });
  });
  each(p.rates.replayPause, (t, n) =>
    at(t, () => {
      const d = endAt(t, w.rng.int(1000, 60000));
      w.trace(`FAULT ${n.name}: replay paused for ${d} ms`);
      n.pg.replayPausedUntilMs = w.nowMs + d;
    }),
  );
  each(p.rates.slowConfigWrite, (t, n) => {
    const d = endAt(t, w.rng.int(1000, 2 * ttlMs));
    const fails = w.rng.chance(0.2);
    at(t, () => {
      w.trace(`FAULT ${n.name}: postgresql.conf writes ${fails ? 'fail (EIO)' : 'are slow'} for ${d} ms`);
      n.configWriteDelayMs = [200, Math.max(300, retryMs)];
      n.configWriteFails = fails;
      w.at(d, () => {
        n.configWriteDelayMs = [1, 20];
        n.configWriteFails = false;
      });
    });
  });
  for (let i = count(p.rates.dcsDown); i > 0; i--) {
    const t = when();
    const d = endAt(t, w.rng.int(500, 2 * ttlMs));
    at(t, () => {
      w.trace(`FAULT etcd unreachable for everyone for ${d} ms`);
      for (const n of w.nodes) n.dcsLink = 'cut';
      w.at(d, () => {
        for (const n of w.nodes) n.dcsLink = 'ok';
      });
    });
  }
  for (let i = count(p.rates.maintenance); i > 0; i--) {
    const t = when();
    const d = endAt(t, w.rng.int(2000, 3 * ttlMs));
    at(t, () => {
      w.trace(`FAULT operator pauses the cluster for ${d} ms`);
      setPause(w, true);
      w.at(d, () => setPause(w, false));
    });
  }
  for (let i = count(p.rates.etcdLeaderChange); i > 0; i--) {
    const t = when();
    const d = w.rng.int(100, 1500);
    at(t, () => {
      w.trace(`FAULT etcd leader election for ${d} ms (leases extended)`);
      w.dcs.leaderChange(w.nowMs, d);
    });
  }
}

/** What `keel pause` / `resume` (patronictl edit-config) write: `pause` in the config key. */
function setPause(w: World, paused: boolean): void {
  const current = w.dcs.config;
  if (current === null) return;
  const value: Record<string, unknown> = { ...current.value };
  if (paused) value['pause'] = true;
  else delete value['pause'];
  w.dcs.cas('config', value, current.modRevision);
  w.trace(`config: pause ${paused ? 'on' : 'off'}`);
}

function healAll(w: World): void {
  w.healed = true;
  setPause(w, false);
  for (const n of w.nodes) {
    n.dcsLink = 'ok';
    n.pg.replayPausedUntilMs = 0;
    n.configWriteDelayMs = [1, 20];
    n.configWriteFails = false;
    if (n.proc?.paused === true) w.unpause(n);
    if (n.proc === null) {
      n.watchdogDeadlineMs = null;
      w.bootAgent(n);
    }
    for (const other of w.nodes) w.setNetCut(n.name, other.name, false);
  }
  w.trace('--- all faults healed ---');
}

/** Whether the rules would let `n` lead, the sync key aside (tags, data, watchdog, timeline, lag). */
function eligibleBesidesSync(w: World, n: SimNode): boolean {
  const p = w.params;
  const optime = w.dcs.status?.optime ?? 0;
  const history = w.dcs.history?.value ?? null;
  const clusterTl = history === null ? 0 : (history[history.length - 1]?.timeline ?? 0) + 1;
  if (n.tags['nofailover'] === true || n.pg.dataDir !== 'initialized') return false;
  if (p.watchdogMode === 'required' && !n.watchdogAvailable) return false;
  if (p.checkTimeline && w.tl(n.pg) < clusterTl) return false;
  return optime - n.pg.lsn <= p.maximumLagOnFailoverBytes;
}

/** Is there a node the rules would let lead (liveness is owed only then)? */
function someoneEligible(w: World): boolean {
  // Synchronous mode: only the sync key's leader, or a standby it lists, may be promoted.
  const sync = w.params.synchronousMode === 'off' ? null : (w.dcs.sync?.value ?? null);
  const syncAllows = (name: string): boolean =>
    sync === null || sync.leader === null || sync.leader === name || (sync.syncStandbys.includes(name) && sync.quorum < sync.syncStandbys.length);
  return w.nodes.some((n) => syncAllows(n.name) && eligibleBesidesSync(w, n));
}

/**
 * The sync-leader-loss family's fault: a standby's PostgreSQL crashes (its agent starts it again,
 * so the synchronous standbys change twice) and the leader's machine dies for good, each at a
 * random moment in the next seconds. Every acknowledged commit is then on a survivor (invariant i
 * checks it on promotion), so a survivor must lead within the usual bound after both faults (plus
 * the crashed standby's start) — whenever the last key the leader wrote lets a survivor be
 * promoted with the votes the others can give. A key that lists no standby is the leader
 * acknowledging alone, or changing its setting before the last one was subsumed: then only it may
 * be promoted, by design.
 */
async function leaderLossPhase(w: World, boundMs: number): Promise<void> {
  const leader = w.leaderNow();
  if (leader === null) return;
  const standbys = w.nodes.filter((n) => n !== leader);
  const crashed = w.rng.pick(standbys);
  const crashInMs = w.rng.int(0, 4000);
  const killInMs = w.rng.int(0, 8000);
  w.at(crashInMs, () => w.downPg(crashed, false, 'crashed (kill -9 postmaster)'));
  w.at(killInMs, () => {
    w.trace(`FAULT ${leader.name}: machine lost for good`);
    w.killMachine(leader);
  });
  await w.run(w.nowMs + Math.max(crashInMs, killInMs));
  const faultsMs = w.nowMs;
  const deadline = faultsMs + boundMs + POSTGRES_SLACK_MS;
  while (w.nowMs < deadline && w.leaderNow() === null) await w.run(w.nowMs + 100);
  if (w.leaderNow() !== null) return;
  const key = w.dcs.sync?.value ?? null;
  // Owed when the key lists a standby and the most advanced listed survivor may lead: it holds
  // every commit any of them holds, so (the survivors holding every acknowledged commit) it could
  // be promoted safely. Not owed when that one is nofailover: it may hold commits the others lack.
  // A key asking for more votes than the listed survivors can give is the rules' fault: not excused.
  const listed = key === null ? [] : standbys.filter((n) => key.syncStandbys.includes(n.name) && n.pg.dataDir === 'initialized');
  const mostAdvanced = Math.max(...listed.map((n) => n.pg.lsn));
  const owed = key !== null && listed.some((n) => (key.quorum === 0 || n.pg.lsn === mostAdvanced) && eligibleBesidesSync(w, n));
  if (owed)
    throw new Violation('c', `no leader ${deadline - faultsMs} ms after ${leader.name} was lost for good (t=${faultsMs}), sync key ${JSON.stringify(key)}`);
  w.trace(`no leader owed: sync key ${JSON.stringify(key)}`);
}

/**
 * A node may stay down (rewindImpossible, rewindFailedStayDown) only when the world agrees it
 * cannot rejoin: no re-clone allowed, and pg_rewind not allowed or unable to work here.
 */
function mayStayDown(w: World, n: SimNode): boolean {
  if (n.lastWhyKind !== 'rewindImpossible' && n.lastWhyKind !== 'rewindFailedStayDown') return false;
  if (n.removeOnDiverged) return false;
  const capable = n.pg.checksums || n.pg.walLogHints;
  const collided = [...w.timelineCreations.values()].some((count) => count > 1);
  if (!w.params.usePgRewind || !capable) return true; // rewind not allowed or impossible here; no re-clone allowed
  const rewindFails = w.params.rewindGrantsMissing || collided;
  return rewindFails && !n.removeOnRewindFailure;
}

function checkCalm(w: World, calmSinceMs: number, leader: SimNode | null): void {
  for (const n of w.nodes) {
    const startsSinceCalm = n.pg.startsAtMs.filter((t) => t >= calmSinceMs).length;
    if (startsSinceCalm > 2)
      throw new Violation('e', `${n.name} started PostgreSQL ${startsSinceCalm} times after the faults healed (t=${calmSinceMs}..${w.nowMs})`);
    // Neither credential can read the leader's history: reporting the cause is all it can do.
    const cannotAsk = n.wrongReplicationPassword && w.params.rewindGrantsMissing;
    if (n.lastWhyKind === 'divergenceUnknown' && !cannotAsk && w.nowMs - n.lastWhySinceMs > 3 * w.params.ttlS * 1000) {
      throw new Violation('f', `${n.name} cannot tell whether it diverged since t=${n.lastWhySinceMs}`);
    }
  }
  if (leader === null) return;
  for (const n of w.nodes) {
    if (n === leader || n.wrongReplicationPassword || mayStayDown(w, n)) continue;
    if (n.tags['replicatefrom'] !== undefined) continue; // may cascade from a member that stays out
    if (!w.streaming(n))
      throw new Violation('g', `${n.name} does not stream at the end (last why: ${n.lastWhyKind ?? 'none'}, receiver: ${n.pg.receiverError ?? 'none'})`);
  }
}

/** Which known limitation (if any) a violation falls under (see KNOWN_LIMITATIONS). */
function knownLimitation(w: World, v: Violation): string | null {
  const collided = [...w.timelineCreations.values()].some((count) => count > 1);
  if (v.invariant === 'g' && collided && /not in this server's history/.test(v.message)) return KNOWN_LIMITATIONS.timelineCollision;
  return null;
}

export async function simulate(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const params = drawParams(seed, options.mutant ?? 'none', options.family ?? 'standard');
  options.tune?.(params);
  const w = new World(params);
  w.verbose = options.verbose === true;
  w.startAgent = (n) => runAgentProcess(w, n);
  buildNodes(w);
  for (const n of w.nodes) w.bootAgentIn(n, w.rng.int(0, 1000));
  w.startBackground();
  scheduleFaults(w);
  options.operator?.(w);
  const ttlMs = params.ttlS * 1000;
  const boundMs = ttlMs + 2 * params.loopWaitS * 1000 + POSTGRES_SLACK_MS;
  let violation: Violation | null = null;
  let healToLeaderMs: number | null = null;
  try {
    await w.run(params.faultEndMs);
    healAll(w);
    const healMs = w.nowMs;
    while (w.nowMs < healMs + boundMs && w.leaderNow() === null) await w.run(w.nowMs + 100);
    if (w.leaderNow() !== null) healToLeaderMs = w.nowMs - healMs;
    else if (someoneEligible(w)) throw new Violation('c', `no single leader ${boundMs} ms after the last fault healed (t=${healMs})`);
    const calmSinceMs = healMs + boundMs;
    await w.run(calmSinceMs + 3 * ttlMs);
    const leader = w.leaderNow();
    if (healToLeaderMs !== null && leader === null) throw new Violation('c', `leadership lost after faults healed (t=${w.nowMs})`);
    checkCalm(w, calmSinceMs, leader);
    if (params.family === 'sync-leader-loss') await leaderLossPhase(w, boundMs);
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    violation = e;
    violation.knownLimitation = knownLimitation(w, e);
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
