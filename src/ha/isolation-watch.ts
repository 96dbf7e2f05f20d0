/**
 * The isolation watch: while this node is the primary holding the leader key, every
 * PROBE_EVERY_MS it sends a lease keepalive with a short deadline and opens a TCP connection to
 * every other member's REST address, in parallel. When neither etcd nor any member answers
 * (core/isolation.ts), it fences PostgreSQL at once instead of waiting for the lease guard
 * (ttl - retry_timeout after the last keepalive). The watch never lifts the fence: the HA cycle
 * does, when the lease is confirmed again, and not while the watch still sees isolation.
 *
 * Its keepalives are ordinary confirmations: while connected, they also move the lease guard's
 * and keel-fence's deadlines forward more often than loop_wait does.
 */
import type { AgentContext } from './context.js';
import { isolated } from './core/isolation.js';
import { fence } from './tasks.js';

/** Pause between the end of one probe round and the next, while leading. */
const PROBE_EVERY_MS = 200;
/** How often a node that does not lead looks whether it leads now (it costs nothing else). */
const IDLE_CHECK_EVERY_MS = 1000;
/** How long each probe (keepalive, TCP connect) may take before it counts as unanswered. */
const PROBE_TIMEOUT_MS = 400;

export class IsolationWatch {
  /** When the watch last found this leader isolated (monotonic), until a probe gets an answer. */
  isolatedSinceMs: number | null = null;
  private cancel: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly a: AgentContext) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.a.ports.clock.timer(this.leading() ? PROBE_EVERY_MS : IDLE_CHECK_EVERY_MS, () => {
      this.cancel = null;
      void this.round().finally(() => this.schedule());
    });
  }

  /** Leading right now: the key is ours, PostgreSQL is a primary (last probe), no task is changing it. */
  private leading(): boolean {
    const a = this.a;
    return a.cluster.view?.leader?.name === a.local().name && a.pg.probe !== null && !a.pg.probe.inRecovery && a.tasks.current() === null;
  }

  private async round(): Promise<void> {
    const a = this.a;
    if (!this.leading()) {
      this.isolatedSinceMs = null;
      return;
    }
    const self = a.local().name;
    const peers = (a.cluster.view?.members ?? []).filter((m) => m.name !== self && m.apiUrl !== null).map((m) => m.apiUrl as string);
    const startedMs = a.ports.clock.now();
    const [etcdAnswered, ...answers] = await Promise.all([
      a.lease.probe(PROBE_TIMEOUT_MS),
      ...peers.map((url) => a.ports.peers.reachable(url, PROBE_TIMEOUT_MS)),
    ]);
    const facts = { etcdAnswered: etcdAnswered === true, peers: peers.length, peersAnswered: answers.filter((ok) => ok).length };
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
    if (a.pg.fenced || !this.leading()) return;
    await fence(a, `isolated: neither etcd nor any of ${peers.length} member(s) answered within ${PROBE_TIMEOUT_MS} ms; not waiting for the lease guard`);
  }
}
