/**
 * The simulated world: a virtual clock and event queue, the fake DCS, the nodes' fake PostgreSQL,
 * the network (node<->DCS and node<->node links), a client that writes to whoever acknowledges,
 * replication, kernel watchdogs, the fault schedule, and the invariant checker. Agents (agent.ts)
 * run the real decide() as generators that yield virtual delays.
 *
 * Invariants (issue 3, item 7), checked here and never in decide:
 *  (a) never two nodes acknowledging writes as primary at the same instant (checked after every event);
 *  (b) a promotion is issued only while the promoter holds the leader key and no other node acknowledges;
 *  (c) after the last fault heals, exactly one leader within ttl + 2*loop_wait (unless no node is eligible);
 *  (d) a node lagging beyond maximum_lag_on_failover of status.optime is never promoted.
 */
import type { Tags } from '../../src/config/types.js';
import { FakeDcs } from './fake-dcs.js';
import type { AgentState, PgState, Segment, SimNode, SimParams } from './model.js';
import { Prng } from './prng.js';

interface Event {
  atMs: number;
  seq: number;
  run: () => void;
}

export class Violation extends Error {
  constructor(readonly invariant: 'a' | 'b' | 'c' | 'd', message: string) {
    super(`invariant (${invariant}): ${message}`);
  }
}

class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  push(atMs: number, run: () => void): void {
    const e = { atMs, seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.atMs < e.atMs || (parent.atMs === e.atMs && parent.seq < e.seq)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }
  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      const le = h[l];
      if (le !== undefined && (le.atMs < best.atMs || (le.atMs === best.atMs && le.seq < best.seq))) { m = l; best = le; }
      const re = h[r];
      if (re !== undefined && (re.atMs < best.atMs || (re.atMs === best.atMs && re.seq < best.seq))) { m = r; best = re; }
      if (m === i) break;
      h[i] = best;
      i = m;
    }
    h[i] = last;
    return top;
  }
  peekAtMs(): number | undefined {
    return this.heap[0]?.atMs;
  }
  get size(): number {
    return this.heap.length;
  }
}

export class World {
  nowMs = 0;
  readonly rng: Prng;
  readonly dcs: FakeDcs;
  readonly nodes: SimNode[] = [];
  private readonly queue = new EventQueue();
  private readonly netCuts = new Set<string>();
  private nextUid = 1;
  readonly log: string[] = [];
  verbose = false;
  /** Set by agent.ts: starts a fresh agent process on a node. */
  startAgent: (node: SimNode) => void = () => undefined;
  promotions = 0;
  acknowledgedWrites = 0;
  healedLeaderAtMs: number | null = null;
  livenessExcused = false;

  constructor(readonly params: SimParams) {
    this.rng = new Prng(params.seed);
    this.dcs = new FakeDcs(params.config.ttlMs);
  }

  trace(line: string): void {
    if (this.verbose) this.log.push(`${(this.nowMs / 1000).toFixed(3).padStart(9)} ${line}`);
  }

  at(delayMs: number, run: () => void): void {
    this.queue.push(this.nowMs + Math.max(0, Math.floor(delayMs)), run);
  }

  node(name: string): SimNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  // ---- network --------------------------------------------------------------------------------

  requestReachesDcs(n: SimNode): boolean {
    return n.dcsLink !== 'cut';
  }
  responseReachesNode(n: SimNode): boolean {
    return n.dcsLink === 'ok' || n.dcsLink === 'slow';
  }
  private pairKey(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }
  linked(a: string, b: string): boolean {
    return a === b || !this.netCuts.has(this.pairKey(a, b));
  }
  healed = false;
  dcsLatency(n: SimNode): number {
    if (n.dcsLink === 'slow') {
      const r = this.params.config.retryTimeoutMs;
      return this.rng.int(Math.floor(r / 4), Math.floor((3 * r) / 4));
    }
    const slow = this.params.slowDcsLatencyMs;
    const inFaults = !this.healed && this.nowMs >= this.params.faultStartMs && slow !== null;
    const [lo, hi] = inFaults ? slow : this.params.dcsLatencyMs;
    return this.rng.int(lo, hi);
  }

  // ---- PostgreSQL model -----------------------------------------------------------------------

  acknowledging(n: SimNode): boolean {
    return n.pg.running && n.pg.role === 'primary' && !n.pg.fenced;
  }

  newLineage(): Segment[] {
    return [{ tl: 1, fromLsn: 0, uid: this.nextUid++ }];
  }

  /** Can `n` stream from `src` without rewinding (its history is a prefix of src's)? */
  compatible(n: PgState, src: PgState): boolean {
    if (n.sysid !== src.sysid) return false;
    for (let i = 0; i < n.lineage.length; i++) {
      const seg = n.lineage[i]!;
      const other = src.lineage[i];
      if (other === undefined || other.uid !== seg.uid) return false;
    }
    const next = src.lineage[n.lineage.length];
    return next === undefined ? true : n.lsn <= next.fromLsn;
  }

  promotePg(n: SimNode): void {
    const pg = n.pg;
    const tl = (pg.lineage[pg.lineage.length - 1]?.tl ?? 0) + 1;
    pg.lineage = [...pg.lineage, { tl, fromLsn: pg.lsn, uid: this.nextUid++ }];
    pg.role = 'primary';
    pg.followTarget = null;
    this.trace(`${n.name}: PostgreSQL promoted to timeline ${tl} at lsn ${pg.lsn}`);
    this.checkA();
  }

  stopPg(n: SimNode, crashed: boolean): void {
    if (!n.pg.running) return;
    n.pg.running = false;
    n.pg.fenced = false;
    if (crashed) n.pg.crashedSinceMs = this.nowMs;
    this.trace(`${n.name}: PostgreSQL ${crashed ? 'crashed' : 'stopped'}`);
  }

  startPgAsReplica(n: SimNode, follow: string | null): void {
    if (n.pg.dataDir !== 'initialized') return;
    n.pg.running = true;
    n.pg.role = 'replica';
    n.pg.fenced = false;
    n.pg.followTarget = follow;
    n.pg.crashedSinceMs = null;
    this.trace(`${n.name}: PostgreSQL started in recovery following ${follow ?? 'nobody'}`);
  }

  tl(pg: PgState): number {
    return pg.lineage[pg.lineage.length - 1]?.tl ?? 0;
  }

  private replicate(): void {
    for (const n of this.nodes) {
      const pg = n.pg;
      if (!pg.running || pg.role !== 'replica' || pg.followTarget === null) continue;
      if (pg.replayPausedUntilMs > this.nowMs) continue;
      const src = this.nodes.find((x) => x.name === pg.followTarget);
      if (src === undefined || !src.pg.running || !this.linked(n.name, src.name)) continue;
      if (!this.compatible(pg, src.pg) || src.pg.lsn < pg.lsn) continue;
      if (!this.rng.chance(pg.catchUpChance)) continue;
      pg.lineage = src.pg.lineage.map((s) => ({ ...s }));
      pg.lsn = src.pg.lsn;
    }
  }

  streaming(n: SimNode): boolean {
    const pg = n.pg;
    if (!pg.running || pg.role !== 'replica' || pg.followTarget === null) return false;
    const src = this.nodes.find((x) => x.name === pg.followTarget);
    return src !== undefined && src.pg.running && this.linked(n.name, src.name) && this.compatible(pg, src.pg);
  }

  private clientWrite(): void {
    const [lo, hi] = this.params.writeBytes;
    for (const n of this.nodes) {
      if (!this.acknowledging(n)) continue;
      n.pg.lsn += this.rng.int(lo, hi);
      this.acknowledgedWrites++;
    }
    const [wlo, whi] = this.params.writeIntervalMs;
    this.at(this.rng.int(wlo, whi), () => this.clientWrite());
  }

  // ---- watchdog -------------------------------------------------------------------------------

  pingWatchdog(n: SimNode, timeoutMs: number): void {
    const deadline = this.nowMs + timeoutMs;
    n.watchdogDeadlineMs = deadline;
    this.at(deadline - this.nowMs, () => {
      if (n.watchdogDeadlineMs === deadline) this.resetNode(n, 'watchdog fired');
    });
  }

  /** Machine reset: PostgreSQL and agent die; the machine reboots and the agent starts again. */
  resetNode(n: SimNode, why: string): void {
    this.trace(`${n.name}: RESET (${why})`);
    n.watchdogDeadlineMs = null;
    this.stopPg(n, true);
    this.killAgent(n);
    n.paused = false;
    n.pending = [];
    this.at(this.rng.int(500, 3000), () => this.bootAgent(n));
  }

  killAgent(n: SimNode): void {
    n.agent = null;
    n.incarnation++;
    n.pending = [];
  }

  bootAgent(n: SimNode): void {
    if (n.agent !== null) return;
    n.incarnation++;
    const agent: AgentState = {
      incarnation: n.incarnation,
      leaseId: null,
      lastConfirmedSentMs: null,
      lastAttemptFailed: false,
      dcsFailSinceMs: null,
      guard: null,
      task: null,
      lastResult: null,
      watchdogArmed: false,
      lastWhy: '',
    };
    n.agent = agent;
    this.trace(`${n.name}: agent started`);
    this.startAgent(n);
  }

  /** Runs `fn` on behalf of agent incarnation `inc` once the agent is not paused; drops it if the agent died. */
  resume(n: SimNode, inc: number, fn: () => void): void {
    if (n.incarnation !== inc || n.agent === null) return;
    if (n.paused) n.pending.push(() => this.resume(n, inc, fn));
    else fn();
  }

  // ---- checker --------------------------------------------------------------------------------

  checkA(): void {
    let count = 0;
    const names: string[] = [];
    for (const n of this.nodes) {
      if (this.acknowledging(n)) {
        count++;
        names.push(n.name);
      }
    }
    if (count > 1) throw new Violation('a', `${names.join(' and ')} acknowledge writes as primary at t=${this.nowMs}`);
  }

  /** Called when an agent issues promote. */
  checkPromotion(n: SimNode): void {
    this.promotions++;
    this.dcs.expire(this.nowMs);
    const key = this.dcs.leader;
    if (key === null || key.name !== n.name || key.leaseId !== n.agent?.leaseId) {
      throw new Violation('b', `${n.name} promotes without holding the leader key (key: ${key === null ? 'none' : key.name})`);
    }
    for (const other of this.nodes) {
      if (other !== n && this.acknowledging(other)) throw new Violation('b', `${n.name} promotes while ${other.name} still acknowledges writes`);
    }
    const optime = this.dcs.statusOptime ?? 0;
    if (n.pg.role === 'replica' && optime - n.pg.lsn > this.params.config.maximumLagOnFailoverBytes) {
      throw new Violation('d', `${n.name} promoted at lsn ${n.pg.lsn}, ${optime - n.pg.lsn} bytes behind status.optime ${optime}`);
    }
  }

  leaderNow(): SimNode | null {
    this.dcs.expire(this.nowMs);
    const key = this.dcs.leader;
    if (key === null) return null;
    const n = this.nodes.find((x) => x.name === key.name);
    if (n === undefined || !this.acknowledging(n)) return null;
    return this.nodes.every((x) => x === n || !this.acknowledging(x)) ? n : null;
  }

  /** Is there a node that decide would be allowed to promote (liveness is owed only then)? */
  someoneEligible(): boolean {
    const c = this.params.config;
    const optime = this.dcs.statusOptime ?? 0;
    return this.nodes.some((n) => {
      const t: Tags = n.tags;
      if (t.nofailover || t.failoverPriority === 0 || n.pg.dataDir !== 'initialized') return false;
      if (this.params.watchdogMode === 'required' && !n.watchdogAvailable) return false;
      if (c.checkTimeline) {
        const history = this.dcs.history ?? [];
        const clusterTl = this.dcs.history === null ? 0 : (history[history.length - 1]?.timeline ?? 0) + 1;
        if (this.tl(n.pg) < clusterTl) return false;
      }
      return optime - n.pg.lsn <= c.maximumLagOnFailoverBytes;
    });
  }

  // ---- running --------------------------------------------------------------------------------

  setNetCut(a: string, b: string, cut: boolean): void {
    if (cut) this.netCuts.add(this.pairKey(a, b));
    else this.netCuts.delete(this.pairKey(a, b));
  }

  healAll(): void {
    this.healed = true;
    this.netCuts.clear();
    for (const n of this.nodes) {
      n.dcsLink = 'ok';
      n.pg.replayPausedUntilMs = 0;
      if (n.paused) this.unpause(n);
      if (n.agent === null) {
        n.watchdogDeadlineMs = null;
        this.bootAgent(n);
      }
    }
    this.trace('--- all faults healed ---');
  }

  unpause(n: SimNode): void {
    if (!n.paused) return;
    n.paused = false;
    this.trace(`${n.name}: agent resumed (SIGCONT)`);
    const pending = n.pending;
    n.pending = [];
    for (const fn of pending) fn();
  }

  startBackground(): void {
    const tick = (): void => {
      this.replicate();
      this.at(250, tick);
    };
    this.at(250, tick);
    this.at(this.params.faultStartMs, () => this.clientWrite());
  }

  run(untilMs: number): void {
    for (;;) {
      const next = this.queue.peekAtMs();
      if (next === undefined || next > untilMs) {
        this.nowMs = untilMs;
        return;
      }
      const e = this.queue.pop();
      if (e === undefined) return;
      this.nowMs = e.atMs;
      e.run();
      this.checkA();
    }
  }
}
