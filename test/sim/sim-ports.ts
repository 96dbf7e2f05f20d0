/**
 * The rest of an agent process's ports in the simulator — its clock (virtual time at the node's
 * clock rate), other members' REST APIs (answered by their production Agent, over the simulated
 * network), the kernel watchdog — and the process itself: a production Agent built from a real
 * patroni.yml text, run on these ports until it exits or is killed.
 */
import { parseConfig } from '../../src/config/load.js';
import type { Credentials } from '../../src/config/types.js';
import { patroniStatusJson } from '../../src/api/status.js';
import type { Clock } from '../../src/engine/clock.js';
import { Agent, REAL_CORE, type HaCore } from '../../src/ha/agent.js';
import type { Action, Plan, WatchdogObservation } from '../../src/ha/core/types.js';
import { isGate } from '../../src/ha/core/plan.js';
import type { CallbackPort, HaPorts, PeerClient, ProcessFencePort, WatchdogPort } from '../../src/ha/ports.js';
import { createLogger } from '../../src/observability/log.js';
import type { SimNode, SimParams, SimProcess } from './model.js';
import { SimDcsClient } from './sim-dcs.js';
import { SimPostgresNode, SimRemote } from './sim-postgres.js';
import { CLUSTER_REPLICATION_PASSWORD, WRONG_REPLICATION_PASSWORD, type World } from './world.js';

/** 2026-12-01T00:00:00Z: the wall clock at virtual time 0. */
const WALL_EPOCH_MS = 1_796_083_200_000;

/** A node's clocks: monotonic time runs at `rate` against the world's; events go to its process. */
export class SimClock implements Clock {
  constructor(
    private readonly w: World,
    private readonly proc: SimProcess,
    private readonly rate: number,
  ) {}

  now(): number {
    return this.w.nowMs * this.rate;
  }
  wallMs(): number {
    return WALL_EPOCH_MS + this.w.nowMs;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      signal?.addEventListener('abort', () => resolve(), { once: true });
      this.w.deliver(this.proc, Math.max(0, ms) / this.rate, resolve);
    });
  }
  timer(ms: number, fn: () => void): () => void {
    let cancelled = false;
    this.w.deliver(this.proc, Math.max(0, ms) / this.rate, () => {
      if (!cancelled) fn();
    });
    return () => {
      cancelled = true;
    };
  }
}

/** Other members' REST APIs: the request reaches the member's process (not while it is frozen), its Agent answers. */
class SimPeers implements PeerClient {
  constructor(
    private readonly w: World,
    private readonly proc: SimProcess,
  ) {}

  private call<T>(apiUrl: string, timeoutMs: number, answer: (agent: Agent) => T | Promise<T>): Promise<T | null> {
    const w = this.w;
    const name = /^http:\/\/([^:/]+)/.exec(apiUrl)?.[1];
    const target = w.nodes.find((x) => x.name === name);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (value: T | null): void => {
        if (settled) return;
        settled = true;
        resolve(value);
      };
      w.deliver(this.proc, timeoutMs, () => finish(null));
      const targetProc = target?.proc ?? null;
      if (target === undefined || targetProc === null || !w.linked(this.proc.node.name, target.name)) return;
      w.deliver(targetProc, w.netLatency(), () => {
        const agent = target.agent;
        if (agent === null || !w.linked(this.proc.node.name, target.name)) return;
        void Promise.resolve(answer(agent)).then((value) => w.deliver(this.proc, w.netLatency(), () => finish(value)));
      });
    });
  }

  async status(apiUrl: string, timeoutMs: number): Promise<Record<string, unknown> | null> {
    // As the real GET /patroni: the WAL positions read at the request, not the last cycle's.
    return this.call(apiUrl, timeoutMs, async (agent) => patroniStatusJson(await agent.statusWithWalNow()));
  }

  async postFailsafe(apiUrl: string, body: Record<string, unknown>, _auth: Credentials | undefined, timeoutMs: number): Promise<number | null> {
    return this.call(apiUrl, timeoutMs, (agent) => agent.acceptFailsafe(body).code);
  }

  /** A TCP connection opens when the network links us and the member's agent process exists (frozen or not: the kernel accepts). */
  reachable(apiUrl: string, timeoutMs: number): Promise<boolean> {
    const w = this.w;
    const name = /^http:\/\/([^:/]+)/.exec(apiUrl)?.[1];
    const target = w.nodes.find((x) => x.name === name);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (value: boolean): void => {
        if (settled) return;
        settled = true;
        resolve(value);
      };
      w.deliver(this.proc, timeoutMs, () => finish(false));
      if (target === undefined || !w.linked(this.proc.node.name, target.name)) return;
      const rtt = w.netLatency() + w.netLatency();
      w.deliver(this.proc, rtt, () => finish(target.proc !== null && w.linked(this.proc.node.name, target.name)));
    });
  }
}

/** The kernel watchdog: it resets the machine when not pinged within the programmed timeout. */
class SimWatchdog implements WatchdogPort {
  private armed = false;

  constructor(
    private readonly w: World,
    private readonly node: SimNode,
  ) {}

  observe(): WatchdogObservation {
    return { available: this.node.watchdogAvailable, armed: this.armed };
  }
  arm(timeoutMs: number): Promise<boolean> {
    this.ping(timeoutMs);
    // the agent sees an available device accept (the no-watchdog mutant makes it a dud, silently)
    return Promise.resolve(this.node.watchdogAvailable);
  }
  keepalive(timeoutMs: number): void {
    this.ping(timeoutMs);
  }
  disable(): void {
    this.armed = false;
    this.node.watchdogDeadlineMs = null;
  }
  private ping(timeoutMs: number): void {
    if (!this.node.watchdogAvailable || this.w.params.mutant === 'no-watchdog') return;
    this.armed = true;
    this.w.pingWatchdog(this.node, timeoutMs);
  }
}

/** keel-fence: on the node's machine, outside the agent's process (so it runs while the agent is frozen). */
class SimProcessFence implements ProcessFencePort {
  constructor(
    private readonly w: World,
    private readonly node: SimNode,
    private readonly clock: SimClock,
    private readonly rate: number,
  ) {}

  feed(deadlineMs: number | null): void {
    if (this.w.params.mutant === 'no-process-fence' || this.w.params.mutant === 'no-watchdog') return;
    // The agent's clock runs at `rate` against world time; keel-fence reads the same clock.
    this.w.feedProcessFence(this.node, deadlineMs === null ? null : this.w.nowMs + (deadlineMs - this.clock.now()) / this.rate);
  }
  close(): Promise<void> {
    this.feed(null);
    return Promise.resolve();
  }
}

/** The patroni.yml of a simulated node: what a user would write, parsed by keel's own loader. */
export function nodeConfigText(p: SimParams, n: SimNode): string {
  const tags = Object.entries(n.tags)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `scope: sim
namespace: /service/
name: ${n.name}
restapi:
  listen: ${n.name}:8008
  connect_address: ${n.name}:8008
etcd3:
  hosts: etcd:2379
bootstrap:
  dcs:
    ttl: ${p.ttlS}
    loop_wait: ${p.loopWaitS}
    retry_timeout: ${p.retryTimeoutS}
    maximum_lag_on_failover: ${p.maximumLagOnFailoverBytes}
    primary_start_timeout: ${p.primaryStartTimeoutS}
    check_timeline: ${p.checkTimeline}
    failsafe_mode: ${p.failsafeMode}
    synchronous_mode: ${p.synchronousMode === 'quorum' ? 'quorum' : p.synchronousMode === 'on'}
    synchronous_mode_strict: ${p.synchronousModeStrict}
    synchronous_node_count: ${p.synchronousNodeCount}
    postgresql:
      use_pg_rewind: ${p.usePgRewind}
      use_slots: true
  initdb:
${p.checksums ? '  - data-checksums\n' : ''}  - encoding: UTF8
postgresql:
  listen: ${n.name}:5432
  connect_address: ${n.name}:5432
  data_dir: /sim/${n.name}/data
  bin_dir: /sim/bin
  remove_data_directory_on_rewind_failure: ${n.removeOnRewindFailure}
  remove_data_directory_on_diverged_timelines: ${n.removeOnDiverged}
  authentication:
    superuser: {username: postgres, password: su-pass}
    replication: {username: replicator, password: ${n.wrongReplicationPassword ? WRONG_REPLICATION_PASSWORD : CLUSTER_REPLICATION_PASSWORD}}
    rewind: {username: rewind_user, password: rw-pass}
watchdog:
  mode: ${p.watchdogMode}
  safety_margin: ${p.safetyMarginS}
${tags === '' ? '' : `tags:\n${tags}\n`}`;
}

/** A plan with every fence action removed (the no-fence mutant). */
function withoutFence<P extends Plan>(p: P): P {
  const actions = p.actions
    .filter((a) => a.kind !== 'fence')
    .map((a): Action => (isGate(a) ? { ...a, then: withoutFence(a.then), else: withoutFence(a.else) } : a));
  return { ...p, actions };
}

/** postgresql.callbacks in the simulator: no process runs; each call is traced (and kept for tests). */
export class SimCallbacks implements CallbackPort {
  readonly calls: string[][] = [];
  constructor(
    private readonly w: World,
    private readonly n: SimNode,
  ) {}
  run(argv: string[]): void {
    this.calls.push(argv);
    this.w.trace(`${this.n.name}: callback ${argv.join(' ')}`);
  }
}

/** The core a schedule runs: the real one, or one rule broken on purpose (bite tests). */
export function coreFor(mutant: SimParams['mutant']): HaCore {
  switch (mutant) {
    case 'no-guard':
      return { ...REAL_CORE, decide: (obs) => ({ ...REAL_CORE.decide(obs), leaseGuard: null }) };
    case 'no-fence':
      return {
        ...REAL_CORE,
        decide: (obs) => ({ ...withoutFence(REAL_CORE.decide(obs)), leaseGuard: null, gateValidForMs: REAL_CORE.decide(obs).gateValidForMs }),
      };
    case 'stale-gate':
      return { ...REAL_CORE, decide: (obs) => ({ ...REAL_CORE.decide(obs), gateValidForMs: Number.MAX_SAFE_INTEGER }) };
    case 'fence-known-replica':
      return { ...REAL_CORE, guardShouldFence: (facts) => !facts.fenced };
    case 'ignore-sync-key':
      // The leader race forgets the sync key (a standby that is not synchronous may win).
      return {
        ...REAL_CORE,
        decide: (obs) => {
          const sync = obs.dcs.ok ? obs.dcs.view.sync : null;
          if (!obs.dcs.ok || obs.dcs.view.leader !== null || sync === null) return REAL_CORE.decide(obs);
          const forgotten = { ...sync, value: { leader: null, syncStandbys: [], quorum: 0 } };
          return REAL_CORE.decide({ ...obs, dcs: { ok: true, view: { ...obs.dcs.view, sync: forgotten } } });
        },
      };
    case 'ignore-lag':
      return { ...REAL_CORE, decide: (obs) => REAL_CORE.decide({ ...obs, config: { ...obs.config, maximumLagOnFailoverBytes: Number.MAX_SAFE_INTEGER } }) };
    default:
      return REAL_CORE;
  }
}

/**
 * Keeps the node's last decision kind (for the liveness checks) and what its agent knew when it
 * decided to fence (the fence takes effect later, after a config write and a reload, by which time
 * a cycle may have probed: invariant (h) judges the decision, not the hindsight), and traces the line.
 */
function observeLogLine(w: World, n: SimNode, line: string): void {
  if (line.includes('fencing PostgreSQL')) n.fenceDecidedOnKnownReplica = n.agent?.pg.knownReplica() ?? false;
  const kind = / why=(\w+)$/.exec(line)?.[1];
  if (kind !== undefined && kind !== n.lastWhyKind) {
    n.lastWhyKind = kind;
    n.lastWhySinceMs = w.nowMs;
  }
  w.trace(`${n.name}: ${line.slice(24)}`);
}

/** Starts the production Agent in `n`'s fresh process. */
export function runAgentProcess(w: World, n: SimNode): void {
  const proc = n.proc;
  if (proc === null) return;
  const text = nodeConfigText(w.params, n);
  const local = parseConfig(text, `/sim/${n.name}.yml`, {}, { findBinDir: () => '/sim/bin' });
  const clock = new SimClock(w, proc, n.clockRate);
  const log = createLogger({ level: 'info', format: 'text', now: () => new Date(clock.wallMs()), write: (line) => observeLogLine(w, n, line) });
  const dcs = new SimDcsClient(w, proc, w.dcs, w.params.ttlS, w.params.retryTimeoutS * 1000, () => clock.now());
  const ports: HaPorts = {
    clock,
    dcs,
    postgres: new SimPostgresNode(w, proc),
    remote: new SimRemote(w, proc),
    peers: new SimPeers(w, proc),
    watchdog: new SimWatchdog(w, n),
    processFence: new SimProcessFence(w, n, clock, n.clockRate),
    callbacks: new SimCallbacks(w, n),
    loadConfig: () => parseConfig(nodeConfigText(w.params, n), `/sim/${n.name}.yml`, {}, { findBinDir: () => '/sim/bin' }),
  };
  const agent = new Agent(local, { ports, log, core: coreFor(w.params.mutant) });
  n.agent = agent;
  void agent.run().then((code) => w.agentExited(n, proc, code));
}
