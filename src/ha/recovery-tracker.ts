/**
 * The instants of a failover or switchover as this member lives them, for keel's metrics:
 * fault seen (the leader key gone from a view, where the last view had a leader; or a switchover
 * requested to this member) -> leader key taken by this member -> PostgreSQL accepting writes
 * here (promotion finished). Each member counts the failovers and switchovers it won; summed
 * over the members, that is the cluster's count.
 *
 * What it cannot see, it does not count: a member that never saw a leader (a fresh start, a
 * bootstrap) taking the key is no failover. A scheduled switchover's clock starts when the old
 * leader's key is seen gone, not when it was requested (the wait is the operator's choice).
 * The clock is the agent's monotonic one; nothing here reads it.
 */
import type { ClusterView } from '../dcs/types.js';
import type { FailoverCause, KeelMetrics, RecoveryKind, SwitchoverCause } from '../observability/metrics.js';

interface Seen {
  kind: RecoveryKind;
  cause: FailoverCause | SwitchoverCause;
  seenAtMs: number;
}

export class RecoveryTracker {
  /** The last leader a view showed (null before any). */
  private lastLeader: string | null = null;
  /** A fault or request seen, the key not taken yet. */
  private pending: Seen | null = null;
  /** The key taken, PostgreSQL not writable yet. */
  private promoting: Seen | null = null;

  constructor(
    private readonly metrics: KeelMetrics,
    private readonly self: () => string,
  ) {}

  /** Every cycle, with the view just read (null when the read failed: nothing is concluded). */
  observed(view: ClusterView | null, nowMs: number): void {
    if (view === null) return;
    const self = this.self();
    const leader = view.leader?.name ?? null;
    const request = view.failover?.value ?? null;
    if (leader !== null && leader !== self) {
      const switchoverToUs = request !== null && request.leader === leader && request.scheduledAt === undefined && (request.candidate ?? self) === self;
      this.pending = switchoverToUs ? (this.pending ?? { kind: 'switchover', cause: 'requested', seenAtMs: nowMs }) : null;
      this.promoting = null;
      this.lastLeader = leader;
      return;
    }
    if (leader === null && this.lastLeader !== null && this.pending === null) {
      this.pending = request === null ? { kind: 'failover', cause: 'automatic', seenAtMs: nowMs } : requestSeen(request, nowMs);
    }
  }

  /** This member's acquireLeaderKey succeeded. `alreadyWritable`: PostgreSQL was a primary already (nothing to promote). */
  leaderKeyTaken(nowMs: number, alreadyWritable: boolean): void {
    const seen = this.pending;
    this.pending = null;
    this.lastLeader = this.self();
    if (seen === null) return;
    if (seen.kind === 'failover') this.metrics.failover(seen.cause as FailoverCause);
    else this.metrics.switchover(seen.cause as SwitchoverCause);
    this.metrics.leaderKeyTakenAfter(seen.kind, nowMs - seen.seenAtMs);
    if (alreadyWritable) this.metrics.writableAfter(seen.kind, nowMs - seen.seenAtMs);
    else this.promoting = seen;
  }

  /** PostgreSQL left recovery after a promote this agent asked for. */
  promoted(nowMs: number): void {
    const seen = this.promoting;
    this.promoting = null;
    if (seen !== null) this.metrics.writableAfter(seen.kind, nowMs - seen.seenAtMs);
  }
}

function requestSeen(request: NonNullable<ClusterView['failover']>['value'], nowMs: number): Seen {
  if (request.leader === undefined) return { kind: 'failover', cause: 'manual', seenAtMs: nowMs };
  return { kind: 'switchover', cause: request.scheduledAt === undefined ? 'requested' : 'scheduled', seenAtMs: nowMs };
}
