/**
 * The isolation watch: while this node is the primary holding the leader key, every
 * PROBE_EVERY_MS it asks etcd with a short deadline (a linearizable read, which needs etcd's
 * quorum) and, when etcd does not answer at once, opens a TCP connection to every other member's
 * REST address. When neither etcd nor any member answers (core/isolation.ts), it fences
 * PostgreSQL at once instead of waiting for the lease guard (ttl - retry_timeout after the last
 * keepalive). The watch never lifts the fence: the HA cycle does, when the lease is confirmed
 * again, and not while the watch still sees isolation. Its reads confirm nothing about the lease:
 * the guard's and keel-fence's deadlines move with the cycle's keepalives.
 *
 * Who probes: keel-fence, when it can (etcd over plain http, addresses that resolve).
 * Each round from Node costs a timer wake-up and an HTTP exchange, about a millisecond of CPU:
 * 2.5 rounds a second made up half of an idle leader's cost (issue 12). keel-fence runs the same
 * rounds in C and tells the agent only of those where etcd did not answer at once, which go
 * through the same rule here; it also slows down while PostgreSQL writes no WAL, when there is
 * nothing an isolation could lose, and comes back at the first write (isolation-probe.c says
 * why that keeps the loss bound). The agent then sets no timer of its own. Its own rounds follow
 * the WAL the same way (QUIET_AFTER_ROUNDS below), where pg_wal can be watched. It checks that the probe
 * runs with the right targets after each HA cycle's observation and at its end (the members
 * change only there; a token or preferred endpoint that changed between cycles is caught then, or
 * at once by a refusal keel-fence reports, which renews the token and re-aims), and at once when
 * keel-fence goes away, refuses the probe, or a new aim does not resolve. It probes itself
 * whenever keel-fence does not (https, keel-fence missing, gone or refusing, a name that does not
 * resolve).
 */
import type { HostPort } from '../config/types.js';
import type { IsolationProbeReport, IsolationProbeSettings } from '../engine/process-fence.js';
import type { AgentContext } from './context.js';
import { isolated, type IsolationFacts } from './core/isolation.js';
import { fence } from './tasks.js';
import { RepeatingRound, leadsNow } from './watch-round.js';

/** Pause between the end of one probe round and the next, while leading. */
const PROBE_EVERY_MS = 400;
/**
 * The agent's own rounds follow the WAL as keel-fence's do (native/isolation-probe.c says why the
 * loss bound holds): after this many paces without a WAL write, one round every QUIET_PACE paces,
 * and the first write brings a round at once. Here the WAL's position comes from each cycle's
 * PostgreSQL probe, and pg_wal is watched only while quiet (ports.nextWalWrite).
 */
const QUIET_AFTER_ROUNDS = 25;
const QUIET_PACE = 5;
/** How long the keepalive may take before it counts as unanswered. */
const PROBE_TIMEOUT_MS = 400;
/** A healthy etcd confirms a keepalive within a few ms; past this the members are asked too. */
const ETCD_QUICK_ANSWER_MS = 100;
/** How long a TCP connection to a member may take before it counts as unanswered. */
const PEER_TIMEOUT_MS = 300;

export class IsolationWatch {
  /** When the watch last found this leader isolated (monotonic), until a probe gets an answer. */
  isolatedSinceMs: number | null = null;
  private readonly rounds: RepeatingRound;
  /** The targets keel-fence's probe was last aimed at (null: it is not asked to probe). */
  private aimedAt: { request: Buffer; targets: string } | null = null;
  /** The WAL position the cycles last saw, and when it last moved (or the watch started). */
  private wal: { lsn: number | null; movedAtMs: number } | null = null;
  /** The watch on pg_wal armed while quiet, and how many PostgreSQL probes have seen the WAL unmoved since. */
  private walWatch: { stop: () => void; probesSince: number } | null = null;
  /** The PostgreSQL probe last looked at (a cycle pokes the watch twice with the same one). */
  private seenProbe: object | null = null;

  constructor(private readonly a: AgentContext) {
    this.rounds = new RepeatingRound(
      a.ports.clock,
      () => (!leadsNow(a) || this.nativeRuns() ? null : this.paceMs()),
      () => this.round(),
    );
    a.ports.processFence.onProbeStopped?.(() => this.rounds.poke());
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
    this.aimNative(null);
    this.unwatchWal();
  }

  /** The HA cycle ended: start watching if this node now leads (a node that does not sets no timer). */
  poke(): void {
    this.noteWalPosition();
    this.rounds.poke();
  }

  /** The cycle's PostgreSQL probe saw the WAL where it was, or further on. */
  private noteWalPosition(): void {
    const probe = this.a.pg.probe;
    if (probe !== null && probe === this.seenProbe) return; // nothing new since the last poke
    this.seenProbe = probe;
    const lsn = probe?.currentLsn ?? null;
    if (this.wal !== null && lsn === this.wal.lsn) {
      if (this.walWatch !== null) this.walWatch.probesSince += 1;
      return;
    }
    this.wal = { lsn, movedAtMs: this.a.ports.clock.now() };
    this.unwatchWal(); // written before the watch was armed: fast again
  }

  /**
   * The pause before the agent's next round. The quiet pace once no WAL was written for
   * QUIET_AFTER_ROUNDS paces, pg_wal is watched, and two PostgreSQL probes have seen the WAL
   * unmoved since the watch was armed: the second one started after the first one ended, so after
   * the arming, and no write slipped between the last position seen and the watch.
   */
  private paceMs(): number {
    const a = this.a;
    const quiet = this.wal !== null && a.ports.nextWalWrite !== undefined && a.ports.clock.now() - this.wal.movedAtMs >= QUIET_AFTER_ROUNDS * PROBE_EVERY_MS;
    if (!quiet) {
      this.unwatchWal();
      return PROBE_EVERY_MS;
    }
    if (this.walWatch === null) {
      const stop = a.ports.nextWalWrite?.(() => this.walWritten()) ?? null;
      if (stop !== null) this.walWatch = { stop, probesSince: 0 };
    }
    return this.walWatch !== null && this.walWatch.probesSince >= 2 ? QUIET_PACE * PROBE_EVERY_MS : PROBE_EVERY_MS;
  }

  /** The first WAL write after the watch was armed: a round now, and the fast pace again. */
  private walWritten(): void {
    this.walWatch = null;
    this.wal = { lsn: this.wal?.lsn ?? null, movedAtMs: this.a.ports.clock.now() };
    if (leadsNow(this.a) && !this.nativeRuns()) this.rounds.bringForward();
  }

  private unwatchWal(): void {
    this.walWatch?.stop();
    this.walWatch = null;
  }

  private async round(): Promise<void> {
    const a = this.a;
    if (!leadsNow(a)) {
      this.aimNative(null);
      this.unwatchWal();
      this.wal = null;
      this.isolatedSinceMs = null;
      return;
    }
    const self = a.local().name;
    const peers = (a.cluster.view?.members ?? []).filter((m) => m.name !== self && m.apiUrl !== null).map((m) => m.apiUrl as string);
    if (await this.probeNatively(peers)) {
      this.unwatchWal();
      return;
    }
    const startedMs = a.ports.clock.now();
    // etcd is asked with a linearizable read, not a lease keepalive: a keepalive is still confirmed
    // by an etcd raft leader cut off with us, until it steps down (measured: 1.5 s with an election
    // timeout of 1 s), and the isolated leader's host often carries etcd's leader.
    const etcdAnswer = a.ports.dcs.reachQuorum(PROBE_TIMEOUT_MS);
    // The members are asked only when etcd is slow to answer: a healthy round costs one
    // read, and the replicas' agents see no connection (2.5 a second per member otherwise).
    let cancelWait = (): void => undefined;
    const slow = new Promise<boolean>((resolve) => {
      cancelWait = a.ports.clock.timer(ETCD_QUICK_ANSWER_MS, () => resolve(false));
    });
    const answeredQuickly = await Promise.race([etcdAnswer, slow]);
    cancelWait();
    let facts;
    if (answeredQuickly) facts = { etcdAnswered: true, peers: peers.length, peersAnswered: 0 };
    else {
      const [etcdAnswered, ...answers] = await Promise.all([etcdAnswer, ...peers.map((url) => a.ports.peers.reachable(url, PEER_TIMEOUT_MS))]);
      facts = { etcdAnswered, peers: peers.length, peersAnswered: answers.filter((ok) => ok).length };
    }
    await this.judge(facts, startedMs);
  }

  /** What a round found, by the rule: fence when isolated; say so (and wake the cycle) when it ends. */
  private async judge(facts: IsolationFacts, startedMs: number): Promise<void> {
    const a = this.a;
    if (!isolated(facts)) {
      if (this.isolatedSinceMs !== null) {
        a.log.info(`isolation over: ${facts.etcdAnswered ? 'etcd' : `${facts.peersAnswered} member(s)`} answered again`);
        this.isolatedSinceMs = null;
        a.wake(); // the cycle lifts the fence once the lease is confirmed
      }
      return;
    }
    if (this.isolatedSinceMs === null) this.isolatedSinceMs = startedMs;
    // The role may have changed while the probes ran (a demote, a lost key): fence only a leader.
    if (a.pg.fenced || !leadsNow(a)) return;
    await fence(
      a,
      `isolated: neither etcd (${PROBE_TIMEOUT_MS} ms) nor any of ${facts.peers} member(s) (${PEER_TIMEOUT_MS} ms) answered; not waiting for the lease guard`,
    );
  }

  private nativeRuns(): boolean {
    return this.aimedAt !== null && this.a.ports.processFence.probeRunning?.() === true;
  }

  /**
   * Has keel-fence probe for this leader, aimed at etcd and `peers`; true when it does now (the
   * agent then does not probe itself this round). Its reports reach `judge` as the agent's own
   * rounds would.
   */
  private async probeNatively(peers: string[]): Promise<boolean> {
    const fence = this.a.ports.processFence;
    const read = this.a.ports.dcs.quorumReadRequest?.() ?? null;
    if (fence.probe === undefined || read === null) {
      this.aimNative(null);
      return false;
    }
    // Compared field by field, without serialising: this runs after every cycle of an idle leader.
    const aim = { request: read.request, targets: [...read.endpoints.map((e) => `${e.host}:${e.port}`), '|', ...peers].join(' ') };
    if (this.aimedAt === null || aim.targets !== this.aimedAt.targets || !aim.request.equals(this.aimedAt.request)) {
      const settings: IsolationProbeSettings = {
        everyMs: PROBE_EVERY_MS,
        etcdTimeoutMs: PROBE_TIMEOUT_MS,
        quickMs: ETCD_QUICK_ANSWER_MS,
        peerTimeoutMs: PEER_TIMEOUT_MS,
        etcd: read.endpoints,
        members: peers.map(hostPortOf),
        request: read.request,
      };
      this.aimedAt = aim;
      this.aimNative(settings);
    }
    return this.nativeRuns();
  }

  private aimNative(settings: IsolationProbeSettings | null): void {
    if (settings === null) {
      if (this.aimedAt === null) return;
      this.aimedAt = null;
    }
    this.a.ports.processFence.probe?.(settings, (report) => void this.onNativeReport(report));
  }

  private async onNativeReport(report: IsolationProbeReport): Promise<void> {
    const a = this.a;
    if (!leadsNow(a) || this.aimedAt === null) return;
    // etcd answered, but with a refusal (an expired auth token: 401): no proof of a quorum. A read
    // from the agent's own client renews the token; the check right after re-aims the probe.
    if (report.etcdStatus !== 0 && !report.etcdAnswered) void a.ports.dcs.reachQuorum(PROBE_TIMEOUT_MS).finally(() => this.rounds.poke());
    await this.judge({ etcdAnswered: report.etcdAnswered, peers: report.peers, peersAnswered: report.peersAnswered }, a.ports.clock.now() - report.roundMs);
  }
}

function hostPortOf(apiUrl: string): HostPort {
  const url = new URL(apiUrl);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}
