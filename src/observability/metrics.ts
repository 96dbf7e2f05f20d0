/**
 * keel's own Prometheus instruments (prom-client), one registry per agent: how long HA cycles
 * take, how etcd answers, how much lease is left, fences, and the failovers and switchovers this
 * agent carried out with the time each took. Patroni's `patroni_*` gauges are rendered next to
 * them from the REST API's status snapshot (src/api/metrics.ts).
 *
 * Invariants:
 *  - recording is cheap and synchronous (an in-memory add): it is called on the HA loop and on
 *    every etcd request;
 *  - nothing here reads a clock: durations and instants are given by the caller;
 *  - every metric carries the member's `scope` and `name` labels (registry default labels), as
 *    Patroni's do, so one query can join keel_* with patroni_*;
 *  - label values come from small closed sets (operation paths, error kinds, causes), never from
 *    free text, so the series count stays bounded.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Why a failover happened, as far as the agent that took over can tell. */
export type FailoverCause = 'automatic' | 'manual';
/** How a switchover was asked for. */
export type SwitchoverCause = 'requested' | 'scheduled';
export type RecoveryKind = 'failover' | 'switchover';

/** A gauge printed with `# TYPE ... counter`: Patroni 3.0.2 types some set values (WAL positions, timeline) so. */
export class SetCounter<T extends string = string> extends Gauge<T> {
  constructor(configuration: ConstructorParameters<typeof Gauge<T>>[0]) {
    super(configuration);
    (this as unknown as { type: string }).type = 'counter';
  }
}

const CYCLE_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const ETCD_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const RECOVERY_BUCKETS_S = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 120];

export class KeelMetrics {
  readonly registry = new Registry();
  private readonly cycleSeconds: Histogram;
  private readonly etcdSeconds: Histogram<'operation'>;
  private readonly etcdErrors: Counter<'operation' | 'kind'>;
  private readonly leaseRemaining: Gauge;
  private readonly fences: Counter;
  private readonly failovers: Counter<'cause'>;
  private readonly switchovers: Counter<'cause'>;
  private readonly toLeaderKeySeconds: Histogram<'kind'>;
  private readonly toWritableSeconds: Histogram<'kind'>;
  /** Read at each scrape: seconds of lease left, null when no keepalive was confirmed yet. */
  private leaseRemainingS: () => number | null = () => null;

  constructor(labels: { scope: string; name: string }) {
    this.registry.setDefaultLabels({ scope: labels.scope, name: labels.name });
    const registers = [this.registry];
    this.cycleSeconds = new Histogram({
      name: 'keel_ha_cycle_duration_seconds',
      help: 'Duration of one HA cycle (observe, decide, execute).',
      buckets: CYCLE_BUCKETS_S,
      registers,
    });
    this.etcdSeconds = new Histogram({
      name: 'keel_etcd_request_duration_seconds',
      help: 'Duration of one etcd request to one endpoint, answered or not.',
      labelNames: ['operation'],
      buckets: ETCD_BUCKETS_S,
      registers,
    });
    this.etcdErrors = new Counter({
      name: 'keel_etcd_request_errors_total',
      help: 'etcd requests that failed, by kind (transport: no answer; tls; else the etcd error kind).',
      labelNames: ['operation', 'kind'],
      registers,
    });
    const remaining = (): number | null => this.leaseRemainingS();
    this.leaseRemaining = new Gauge({
      name: 'keel_lease_remaining_seconds',
      help: "Seconds left on this member's etcd lease (last confirmed keepalive's send time + ttl - now); 0 when expired or never confirmed.",
      registers,
      collect() {
        this.set(Math.max(0, remaining() ?? 0));
      },
    });
    this.fences = new Counter({
      name: 'keel_fence_events_total',
      help: 'Times PostgreSQL was fenced (commits blocked) because the authority to accept writes could not be confirmed, by who fenced it (agent: this agent; keel-fence: its helper, while the agent was frozen or not running).',
      labelNames: ['by'],
      registers,
    });
    // Both series exist from the start, so a rate() or an alert on either sees its first increase.
    this.fences.inc({ by: 'agent' }, 0);
    this.fences.inc({ by: 'keel-fence' }, 0);
    this.failovers = new Counter({
      name: 'keel_failovers_total',
      help: 'Failovers in which this member took the leader key, by cause (automatic: the leader key was gone; manual: a failover request named no leader).',
      labelNames: ['cause'],
      registers,
    });
    this.switchovers = new Counter({
      name: 'keel_switchovers_total',
      help: 'Switchovers in which this member took the leader key, by cause (requested now or scheduled).',
      labelNames: ['cause'],
      registers,
    });
    this.toLeaderKeySeconds = new Histogram({
      name: 'keel_recovery_leader_key_seconds',
      help: 'Seconds from the fault (or switchover request) being seen by this member to this member taking the leader key.',
      labelNames: ['kind'],
      buckets: RECOVERY_BUCKETS_S,
      registers,
    });
    this.toWritableSeconds = new Histogram({
      name: 'keel_recovery_writable_seconds',
      help: 'Seconds from the fault (or switchover request) being seen by this member to its PostgreSQL accepting writes (promotion finished).',
      labelNames: ['kind'],
      buckets: RECOVERY_BUCKETS_S,
      registers,
    });
    for (const cause of ['automatic', 'manual'] satisfies FailoverCause[]) this.failovers.inc({ cause }, 0);
    for (const cause of ['requested', 'scheduled'] satisfies SwitchoverCause[]) this.switchovers.inc({ cause }, 0);
  }

  /** Where keel_lease_remaining_seconds reads from (the agent's lease keeper). */
  readLeaseRemainingFrom(source: () => number | null): void {
    this.leaseRemainingS = source;
  }

  haCycle(durationMs: number): void {
    this.cycleSeconds.observe(durationMs / 1000);
  }

  /** One etcd request; `errorKind` null when it was answered without error. */
  etcdRequest(operation: string, durationMs: number, errorKind: string | null): void {
    this.etcdSeconds.observe({ operation }, durationMs / 1000);
    if (errorKind !== null) this.etcdErrors.inc({ operation, kind: errorKind });
  }

  fenced(): void {
    this.fences.inc({ by: 'agent' });
  }

  /** Postmasters keel-fence stopped on its own that this agent just heard of. */
  fencedByHelper(count: number): void {
    this.fences.inc({ by: 'keel-fence' }, count);
  }

  failover(cause: FailoverCause): void {
    this.failovers.inc({ cause });
  }

  switchover(cause: SwitchoverCause): void {
    this.switchovers.inc({ cause });
  }

  leaderKeyTakenAfter(kind: RecoveryKind, durationMs: number): void {
    this.toLeaderKeySeconds.observe({ kind }, durationMs / 1000);
  }

  writableAfter(kind: RecoveryKind, durationMs: number): void {
    this.toWritableSeconds.observe({ kind }, durationMs / 1000);
  }
}
