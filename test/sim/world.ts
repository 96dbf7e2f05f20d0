/**
 * The simulated world: a virtual clock and event queue, the fake etcd, each node's physical
 * PostgreSQL (which outlives its agent), the network (node<->etcd and node<->node links), a client
 * that writes to whoever acknowledges, replication, kernel watchdogs, agent processes that can be
 * killed or frozen, and the invariant checker. The agents are the production Agent, running on
 * the simulated ports of sim-ports.ts and sim-postgres.ts.
 *
 * Invariants, checked here and never in the code under test:
 *  (a) never two nodes acknowledging writes as primary at the same instant (after every event);
 *  (b) a promotion is issued only while the promoter holds the leader key and no other node acknowledges;
 *  (d) a node lagging beyond maximum_lag_on_failover of status.optime is never promoted;
 *  (h) no needless fence: a fence never takes effect on a server that has been a running replica
 *      for over ttl, that its agent's last probe saw in recovery when it decided to fence, with no
 *      promotion asked for (it acknowledges nothing; fencing it only leaves it fenced should it win
 *      a race — the lease guard's known-replica rule);
 *  (i) with `checkCommitLoss` (synchronous modes; and asynchronous, to show it bites): a node
 *      promoted holds every commit acknowledged so far. A commit is written to the primary's WAL
 *      and acknowledged when the synchronous_standby_names in effect is satisfied by standbys
 *      streaming from it that have flushed it (core/sync-standby-names.ts reads the setting).
 * Liveness (c, e, f, g) is checked by simulate.ts once the faults have healed.
 */
import { FENCE_STANDBY_NAME } from '../../src/ha/postgres-tracker.js';
import { ackRuleOf } from '../../src/ha/core/sync-standby-names.js';
import { EventQueue, settleMicrotasks } from './events.js';
import { FakeDcs } from './fake-dcs.js';
import type { Segment, SimNode, SimParams, SimPg, SimProcess } from './model.js';
import { Prng } from './prng.js';

export type Invariant = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i';

export class Violation extends Error {
  /** Set when the violation belongs to a known, named limitation (reported apart, never counted as a pass). */
  knownLimitation: string | null = null;

  constructor(
    readonly invariant: Invariant,
    message: string,
  ) {
    super(`invariant (${invariant}): ${message}`);
  }
}

/**
 * Known limitations: violations the simulator finds and the code does not prevent yet. Each is
 * named, reported with its seeds, and kept apart from the passes.
 */
export const KNOWN_LIMITATIONS = {
  /**
   * Two promotions to the same timeline number from the same LSN, and a replica of the first
   * branch that never read the `history` key naming its creator before the second: it cannot
   * tell the branches apart (PostgreSQL itself cannot) and does not stream.
   */
  timelineCollision: 'timeline collision not recognised by a replica of the losing branch',
} as const;

/** The replication password PostgreSQL was bootstrapped with (a node configured otherwise cannot log in). */
export const CLUSTER_REPLICATION_PASSWORD = 'rep-pass';
export const WRONG_REPLICATION_PASSWORD = 'not-the-password';

export class World {
  nowMs = 0;
  readonly rng: Prng;
  readonly dcs = new FakeDcs();
  readonly nodes: SimNode[] = [];
  readonly log: string[] = [];
  verbose = false;
  healed = false;
  promotions = 0;
  acknowledgedWrites = 0;
  /** Commits written to a primary's WAL and waiting for their synchronous standbys. */
  private pendingCommits: Array<{ node: SimNode; uid: number; lsn: number }> = [];
  /** The highest acknowledged commit on each WAL segment (by uid): invariant (i). */
  readonly acknowledgedUpTo = new Map<number, number>();
  /** Set by simulate.ts: starts a fresh agent process (the production Agent) on a node. */
  startAgent: (node: SimNode) => void = () => undefined;
  private readonly queue = new EventQueue();
  private readonly netCuts = new Set<string>();
  private nextUid = 1;
  private failure: Violation | null = null;

  constructor(readonly params: SimParams) {
    this.rng = new Prng(params.seed);
  }

  trace(line: string): void {
    if (this.verbose) this.log.push(`${(this.nowMs / 1000).toFixed(3).padStart(9)} ${line}`);
  }

  /** A world event (not bound to an agent process); `startsAgentCode` when it may run agent code. */
  at(delayMs: number, run: () => void, startsAgentCode = false): void {
    this.queue.push(this.nowMs + Math.max(0, Math.floor(delayMs)), run, startsAgentCode);
  }

  /** Boots a node's agent after `delayMs` (its code then runs at that instant). */
  bootAgentIn(n: SimNode, delayMs: number): void {
    this.at(delayMs, () => this.bootAgent(n), true);
  }

  /**
   * An event for an agent process: dropped if that process died meanwhile, deferred while it is
   * frozen (SIGSTOP) — a frozen process runs no timer and reads no socket.
   */
  deliver(proc: SimProcess, delayMs: number, run: () => void): void {
    const incarnation = proc.incarnation;
    this.queue.push(this.nowMs + Math.max(0, Math.floor(delayMs)), () => this.resume(proc, incarnation, run), true);
  }

  private resume(proc: SimProcess, incarnation: number, run: () => void): void {
    if (proc.incarnation !== incarnation || proc.node.proc !== proc) return;
    if (proc.paused) proc.pending.push(() => this.resume(proc, incarnation, run));
    else run();
  }

  node(name: string): SimNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Records a violation found inside a port (the run stops at the next event). */
  fail(violation: Violation): void {
    this.failure ??= violation;
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
  setNetCut(a: string, b: string, cut: boolean): void {
    if (cut) this.netCuts.add(this.pairKey(a, b));
    else this.netCuts.delete(this.pairKey(a, b));
  }
  dcsLatency(n: SimNode): number {
    if (n.dcsLink === 'slow') {
      const r = this.params.retryTimeoutS * 1000;
      return this.rng.int(Math.floor(r / 4), Math.floor((3 * r) / 4));
    }
    const slow = this.params.slowDcsLatencyMs;
    const inFaults = !this.healed && this.nowMs >= this.params.faultStartMs && slow !== null;
    const [lo, hi] = inFaults ? slow : this.params.dcsLatencyMs;
    return this.rng.int(lo, hi);
  }
  netLatency(): number {
    return this.rng.int(1, 5);
  }

  // ---- PostgreSQL physics ---------------------------------------------------------------------

  acknowledging(n: SimNode): boolean {
    const pg = n.pg;
    return pg.state === 'up' && !pg.inRecovery && pg.applied.ssn !== FENCE_STANDBY_NAME;
  }

  newLineage(): Segment[] {
    return [{ tl: 1, fromLsn: 0, uid: this.nextUid++ }];
  }

  tl(pg: SimPg): number {
    return pg.lineage[pg.lineage.length - 1]?.tl ?? 0;
  }

  /** Can a data directory at (`lineage`, `lsn`) stream from `src` without rewinding (its history is a prefix of src's)? */
  compatible(pg: SimPg, src: SimPg): boolean {
    if (pg.sysid !== src.sysid) return false;
    for (let i = 0; i < pg.lineage.length; i++) {
      const other = src.lineage[i];
      if (other === undefined || other.uid !== pg.lineage[i]?.uid) return false;
    }
    const next = src.lineage[pg.lineage.length];
    return next === undefined ? true : pg.lsn <= next.fromLsn;
  }

  /** The node a running replica's WAL receiver connects to, when it can stream from it now; else why not. */
  streamSource(n: SimNode): { src: SimNode } | { error: string | null } {
    const pg = n.pg;
    const host = pg.applied.followHost;
    if (pg.state !== 'up' || !pg.inRecovery || host === null) return { error: null };
    const src = this.nodes.find((x) => x.name === host);
    if (src === undefined || src.pg.state !== 'up' || !this.linked(n.name, src.name)) return { error: `could not connect to the server at "${host}"` };
    if (pg.pgpassReplicationPassword !== CLUSTER_REPLICATION_PASSWORD) return { error: 'password authentication failed for user "replicator"' };
    if (!this.compatible(pg, src.pg)) return { error: `requested starting point on timeline ${this.tl(pg)} is not in this server's history` };
    return { src };
  }

  streaming(n: SimNode): boolean {
    return 'src' in this.streamSource(n);
  }

  /** How many times each timeline number was created by a promotion (more than once: a collision). */
  readonly timelineCreations = new Map<number, number>();

  promotePg(n: SimNode): void {
    const pg = n.pg;
    this.checkCommitLoss(n);
    const tl = (pg.lineage[pg.lineage.length - 1]?.tl ?? 0) + 1;
    this.timelineCreations.set(tl, (this.timelineCreations.get(tl) ?? 0) + 1);
    if ((this.timelineCreations.get(tl) ?? 0) > 1) this.trace(`${n.name}: TIMELINE COLLISION: timeline ${tl} created a second time`);
    pg.lineage = [...pg.lineage, { tl, fromLsn: pg.lsn, uid: this.nextUid++ }];
    pg.inRecovery = false;
    this.trace(`${n.name}: PostgreSQL promoted to timeline ${tl} at lsn ${pg.lsn}`);
    this.checkA();
  }

  /** The postmaster goes away: cleanly (a stop) or not (a crash, kill -9, stop immediate). */
  downPg(n: SimNode, clean: boolean, why: string): void {
    const pg = n.pg;
    if (pg.state === 'down') return;
    pg.state = 'down';
    pg.upSinceMs = null;
    pg.epoch++;
    pg.shutdownClean = clean;
    pg.applied = { ssn: '', followHost: null };
    this.trace(`${n.name}: PostgreSQL ${why}`);
  }

  /**
   * Acknowledges the waiting commits whose primary's synchronous_standby_names (as in effect now)
   * is satisfied; drops those whose primary went away (the client got an error, not an answer).
   */
  releaseCommits(): void {
    this.pendingCommits = this.pendingCommits.filter((c) => {
      const pg = c.node.pg;
      const last = pg.lineage[pg.lineage.length - 1];
      if (pg.state !== 'up' || pg.inRecovery || last?.uid !== c.uid) return false;
      const rule = ackRuleOf(pg.applied.ssn);
      if (rule.kind === 'never') return true;
      if (rule.kind === 'standbys') {
        const confirmed = this.nodes.filter((s) => {
          if (s === c.node || !(rule.names.includes('*') || rule.names.includes(s.name))) return false;
          const source = this.streamSource(s);
          return 'src' in source && source.src === c.node && s.pg.lsn >= c.lsn;
        }).length;
        if (confirmed < rule.count) return true;
      }
      this.acknowledgedWrites++;
      this.acknowledgedUpTo.set(c.uid, Math.max(this.acknowledgedUpTo.get(c.uid) ?? 0, c.lsn));
      return false;
    });
  }

  /** Invariant (i): `n`, about to be promoted, holds every commit acknowledged so far. */
  checkCommitLoss(n: SimNode): void {
    if (!this.params.checkCommitLoss) return;
    const pg = n.pg;
    for (const [uid, lsn] of this.acknowledgedUpTo) {
      const index = pg.lineage.findIndex((seg) => seg.uid === uid);
      const end = index < 0 ? -1 : (pg.lineage[index + 1]?.fromLsn ?? pg.lsn);
      if (end < lsn) {
        this.fail(
          new Violation(
            'i',
            `${n.name} promoted without an acknowledged commit (segment ${uid} up to lsn ${lsn}; it has ${index < 0 ? 'not that segment' : `up to ${end}`}) at t=${this.nowMs}`,
          ),
        );
        return;
      }
    }
  }

  private replicate(): void {
    for (const n of this.nodes) {
      const pg = n.pg;
      const source = this.streamSource(n);
      const error = 'error' in source ? source.error : null;
      const streamingNow = 'src' in source;
      if (error !== pg.receiverError || streamingNow !== (pg.streamingSince !== null)) {
        this.trace(
          `${n.name}: WAL receiver ${streamingNow ? `streams from ${pg.applied.followHost ?? '?'}` : error === null ? `idle (following ${pg.applied.followHost ?? 'nobody'})` : `fails: ${error}`}`,
        );
      }
      pg.receiverError = error;
      pg.streamingSince = streamingNow ? (pg.streamingSince ?? this.nowMs) : null;
      if (!('src' in source) || pg.replayPausedUntilMs > this.nowMs) continue;
      if (source.src.pg.lsn < pg.lsn || !this.rng.chance(pg.catchUpChance)) continue;
      pg.lineage = source.src.pg.lineage.map((s) => ({ ...s }));
      pg.lsn = source.src.pg.lsn;
    }
  }

  private clientWrite(): void {
    const [lo, hi] = this.params.writeBytes;
    for (const n of this.nodes) {
      if (!this.acknowledging(n)) continue;
      n.pg.lsn += this.rng.int(lo, hi);
      const uid = n.pg.lineage[n.pg.lineage.length - 1]?.uid ?? 0;
      this.pendingCommits.push({ node: n, uid, lsn: n.pg.lsn });
    }
    this.releaseCommits();
    const [wlo, whi] = this.params.writeIntervalMs;
    this.at(this.rng.int(wlo, whi), () => this.clientWrite());
  }

  // ---- agent processes and machines -------------------------------------------------------------

  bootAgent(n: SimNode): void {
    if (n.proc !== null) return;
    n.incarnations++;
    n.proc = { node: n, incarnation: n.incarnations, paused: false, pending: [] };
    this.trace(`${n.name}: agent started`);
    this.startAgent(n);
  }

  killAgent(n: SimNode, why: string): void {
    if (n.proc === null) return;
    this.trace(`${n.name}: agent ${why}`);
    n.proc.incarnation = -1;
    n.proc = null;
    n.agent = null;
  }

  /** kill -9 of the whole machine: PostgreSQL, the agent, its watchdog and keel-fence die together. */
  killMachine(n: SimNode): void {
    this.downPg(n, false, 'killed with the machine');
    this.killAgent(n, 'killed (kill -9)');
    n.watchdogDeadlineMs = null;
    n.processFenceDeadlineMs = null;
  }

  /** The agent exited by itself (decided to): it is restarted, as systemd would. */
  agentExited(n: SimNode, proc: SimProcess, code: number): void {
    if (n.proc !== proc) return;
    this.killAgent(n, `exited with code ${code}`);
    this.bootAgentIn(n, this.rng.int(1000, 3000));
  }

  pause(n: SimNode): void {
    if (n.proc === null || n.proc.paused) return;
    n.proc.paused = true;
    this.trace(`${n.name}: agent frozen (SIGSTOP)`);
  }

  unpause(n: SimNode): void {
    const proc = n.proc;
    if (proc === null || !proc.paused) return;
    proc.paused = false;
    this.trace(`${n.name}: agent resumed (SIGCONT)`);
    const pending = proc.pending;
    proc.pending = [];
    for (const fn of pending) fn();
  }

  pingWatchdog(n: SimNode, timeoutMs: number): void {
    const deadline = this.nowMs + timeoutMs;
    n.watchdogDeadlineMs = deadline;
    this.at(timeoutMs, () => {
      if (n.watchdogDeadlineMs === deadline) this.resetNode(n, 'watchdog fired');
    });
  }

  /**
   * keel-fence was fed `deadlineMs` (world time; null stands it down). It is a process of its
   * own: it runs while the agent is frozen or dead, and stops PostgreSQL when the deadline passes.
   */
  feedProcessFence(n: SimNode, deadlineMs: number | null): void {
    n.processFenceDeadlineMs = deadlineMs;
    if (deadlineMs === null) return;
    const check = (): void => {
      if (n.processFenceDeadlineMs !== deadlineMs) return;
      // A replica acknowledges no commit: keel-fence watches it and stops it once it leaves recovery.
      if (n.pg.state !== 'down' && n.pg.inRecovery) {
        this.at(20, check);
        return;
      }
      n.processFenceDeadlineMs = null;
      this.downPg(n, false, 'stopped by keel-fence (immediate shutdown): the agent did not confirm its lease in time');
    };
    this.at(deadlineMs - this.nowMs, check);
  }

  /** Machine reset: PostgreSQL and agent die; the machine reboots and the agent starts again. */
  resetNode(n: SimNode, why: string): void {
    this.trace(`${n.name}: RESET (${why})`);
    n.watchdogDeadlineMs = null;
    n.processFenceDeadlineMs = null;
    this.downPg(n, false, 'lost in the reset');
    this.killAgent(n, 'lost in the reset');
    this.bootAgentIn(n, this.rng.int(500, 3000));
  }

  // ---- checker --------------------------------------------------------------------------------

  checkA(): void {
    const acking = this.nodes.filter((n) => this.acknowledging(n)).map((n) => n.name);
    if (acking.length > 1) this.fail(new Violation('a', `${acking.join(' and ')} acknowledge writes as primary at t=${this.nowMs}`));
  }

  /** Called when a reload makes the fence take effect on `n`. */
  checkFence(n: SimNode): void {
    const pg = n.pg;
    const ttlMs = this.params.ttlS * 1000;
    const longReplica = pg.inRecovery && pg.upSinceMs !== null && this.nowMs - pg.upSinceMs > ttlMs;
    const promoting = pg.promoteRequestedAtMs !== null && this.nowMs - pg.promoteRequestedAtMs < ttlMs;
    // Only what the agent could know counts: its own last probe said "in recovery" when it decided
    // to fence (a frozen agent that never probed the restarted server rightly fences what it cannot
    // see, even if a cycle probes it while the fence is being written; seed 28222).
    const agentKnew = n.fenceDecidedOnKnownReplica;
    if (longReplica && !promoting && agentKnew)
      this.fail(new Violation('h', `${n.name} fenced while a replica for ${this.nowMs - (pg.upSinceMs ?? 0)} ms (t=${this.nowMs})`));
  }

  /** Called by a node's PostgreSQL when its agent asks it to promote. */
  checkPromotion(n: SimNode): void {
    this.promotions++;
    this.dcs.expire(this.nowMs);
    const key = this.dcs.leader;
    const lease = n.agent?.ports.dcs.currentLeaseId() ?? null;
    if (key === null || key.name !== n.name || key.leaseId !== lease) {
      this.fail(new Violation('b', `${n.name} promotes without holding the leader key (key: ${key === null ? 'none' : key.name})`));
      return;
    }
    for (const other of this.nodes) {
      if (other !== n && this.acknowledging(other)) this.fail(new Violation('b', `${n.name} promotes while ${other.name} still acknowledges writes`));
    }
    const optime = this.dcs.status?.optime ?? 0;
    if (optime - n.pg.lsn > this.params.maximumLagOnFailoverBytes) {
      this.fail(new Violation('d', `${n.name} promoted at lsn ${n.pg.lsn}, ${optime - n.pg.lsn} bytes behind status.optime ${optime}`));
    }
  }

  /** The single node that holds the key and acknowledges writes, or null. */
  leaderNow(): SimNode | null {
    this.dcs.expire(this.nowMs);
    const key = this.dcs.leader;
    if (key === null) return null;
    const n = this.nodes.find((x) => x.name === key.name);
    if (n === undefined || !this.acknowledging(n)) return null;
    return this.nodes.every((x) => x === n || !this.acknowledging(x)) ? n : null;
  }

  // ---- running --------------------------------------------------------------------------------

  startBackground(): void {
    const tick = (): void => {
      this.replicate();
      this.releaseCommits();
      this.at(250, tick);
    };
    this.at(250, tick);
    this.at(this.params.faultStartMs, () => this.clientWrite());
  }

  /** Runs events up to `untilMs`; throws the first violation found. */
  async run(untilMs: number): Promise<void> {
    await settleMicrotasks(); // agent code started between two runs (healAll boots agents)
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const next = this.queue.peekAtMs();
      if (next === undefined || next > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return;
      }
      const event = this.queue.pop();
      if (event === undefined) return;
      this.nowMs = event.atMs;
      event.run();
      if (event.agent) await settleMicrotasks();
      this.checkA();
    }
  }
}
