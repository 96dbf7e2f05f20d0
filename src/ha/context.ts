/**
 * The parts of a running agent, as the shell modules (observe, executor, tasks, status) see them.
 * Each part owns its state: the cluster view (ClusterState), PostgreSQL's (PostgresTracker), the
 * lease and its guard (LeaseKeeper), the background task (TaskRunner), what POST /failsafe brought
 * (FailsafeInbox). The outside world is reached only through `ports`.
 */
import type { LocalConfig } from '../config/types.js';
import type { LeaseKeeper } from '../engine/lease-keeper.js';
import type { TaskRunner } from '../engine/task-runner.js';
import type { Logger } from '../observability/log.js';
import type { ClusterState } from './cluster-state.js';
import type { TaskKind } from './core/types.js';
import type { FailsafeInbox } from './failsafe.js';
import type { FailoverRecorder } from './failover-records.js';
import type { KeelMetrics } from '../observability/metrics.js';
import type { HaPorts } from './ports.js';
import type { PostgresTracker } from './postgres-tracker.js';
import type { RecoveryTracker } from './recovery-tracker.js';
import type { ScheduledRestartRequest } from './restart-request.js';

/** A restart scheduled through POST /restart, with the postmaster start time it was asked for. */
export interface ScheduledRestart extends ScheduledRestartRequest {
  /** Patroni's postmaster_start_time: a restart that happened meanwhile cancels the schedule. */
  postmasterStartTime: string | null;
}

export interface AgentContext {
  readonly ports: HaPorts;
  readonly log: Logger;
  readonly cluster: ClusterState;
  readonly pg: PostgresTracker;
  readonly lease: LeaseKeeper;
  readonly tasks: TaskRunner<TaskKind>;
  readonly failsafe: FailsafeInbox;
  /** Fast self-fencing of an isolated leader (its state: isolated since when). */
  readonly isolation: { readonly isolatedSinceMs: number | null };
  /** Failover records: drafted when the key is taken, completed by the promotion and the rejoin. */
  readonly failoverRecorder: FailoverRecorder;
  /** When the armed watchdog fires unless pinged again (monotonic); null while it is not armed. */
  watchdogDueMs: number | null;
  /** The restart POST /restart scheduled, until it runs or DELETE /restart drops it. */
  scheduledRestart: ScheduledRestart | null;
  /** When this agent process started (monotonic). */
  readonly startedMs: number;
  /** keel's own Prometheus instruments (GET /metrics). */
  readonly metrics: KeelMetrics;
  /** Fault seen -> key taken -> writable, for the failover metrics. */
  readonly recovery: RecoveryTracker;
  /** The local configuration now (a reload replaces it). */
  local(): LocalConfig;
  /** Wakes the HA loop for a cycle now. */
  wake(): void;
}
