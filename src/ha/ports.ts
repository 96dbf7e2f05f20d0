/**
 * The edges of the HA agent, as interfaces. The shell (agent, observe, executor, tasks) reaches
 * the outside world only through these, so the simulator runs the very same shell on simulated
 * ports and virtual time (test/sim), and production plugs in the real ones (src/ha/real-ports.ts).
 * Every call that crosses a process boundary has a deadline in its real implementation.
 */
import type { Credentials, LocalConfig } from '../config/types.js';
import type { Dcs } from '../dcs/types.js';
import type { Clock } from '../engine/clock.js';
import type { ExternalFence } from '../engine/lease-keeper.js';
import type { IsolationProbeReport, IsolationProbeSettings } from '../engine/process-fence.js';
import type { CallbackPort, PostgresNode, RemotePostgres } from '../postgres/ports.js';
import type { FailoverRecord } from './core/failover-record.js';
import type { WatchdogObservation } from './core/types.js';

export type {
  BootstrapUsers,
  CallbackPort,
  DataDirState,
  LeaderHistory,
  PgpassEntry,
  PostgresEndpoint,
  PostgresNode,
  RemotePostgres,
  ReplicationSource,
  StopMode,
} from '../postgres/ports.js';

/** Other members' REST APIs. */
export interface PeerClient {
  /** GET <api_url> (the /patroni status), or null on timeout, refusal or a non-JSON answer. */
  status(apiUrl: string, timeoutMs: number): Promise<Record<string, unknown> | null>;
  /** POST /failsafe on the member at `apiUrl`: its status code, or null when it did not answer. */
  postFailsafe(apiUrl: string, body: Record<string, unknown>, auth: Credentials | undefined, timeoutMs: number): Promise<number | null>;
  /** Whether a TCP connection to the member's REST address opens within `timeoutMs` (the network path, not the agent). */
  reachable(apiUrl: string, timeoutMs: number): Promise<boolean>;
}

/**
 * The watchdog device. `arm` and `keepalive` carry the timeout to program (see
 * core/watchdog-logic.ts watchdogPingTimeoutMs): the device must fire before the leader key can
 * expire. A device whose timeout cannot be programmed must report itself unavailable.
 */
export interface WatchdogPort {
  observe(): WatchdogObservation;
  /** Opens the device; false when it cannot be used (the executor then stops a plan that promotes in required mode). */
  arm(timeoutMs: number): Promise<boolean>;
  keepalive(timeoutMs: number): void;
  disable(): void;
}

/**
 * keel-fence (src/engine/process-fence.ts): a process outside the agent that stops PostgreSQL
 * at the deadline it was last fed, so the lease guard holds when the agent is frozen or dead.
 */
export interface ProcessFencePort extends ExternalFence {
  /** Stands it down for good (clean stop, once PostgreSQL is down). */
  close(): Promise<void>;
  /**
   * keel-fence's isolation probe (isolation-watch.ts): it runs the leader's probe rounds outside
   * the agent's event loop and reports only the rounds where etcd did not answer at once. Absent
   * where there is no keel-fence (the simulator): the agent probes itself.
   */
  probe?(settings: IsolationProbeSettings | null, onReport: (report: IsolationProbeReport) => void): void;
  /** Whether the probe last asked for runs now (false: the agent must probe itself). */
  probeRunning?(): boolean;
  /** Hears that the probe asked for stopped running (keel-fence gone, or it refused the probe). */
  onProbeStopped?(listener: () => void): void;
  /** Hears of postmasters keel-fence stopped on its own (the agent frozen or dead), for the fence metric. */
  onStops?(listener: (count: number) => void): void;
}

/** HAProxy's runtime APIs: told about role changes in the background (never awaited by the HA loop). */
export interface RoutingPort {
  announce(sockets: readonly string[], commands: readonly string[], what: string): void;
}

/** Where failover records are kept (ha/failover-records.ts); compare-and-swap on the stored version. */
export interface FailoverRecordStore {
  load(): Promise<{ records: FailoverRecord[]; version: number | null }>;
  /** false when someone wrote meanwhile (load again and retry). */
  write(records: FailoverRecord[], version: number | null): Promise<boolean>;
}

export interface HaPorts {
  clock: Clock;
  dcs: Dcs;
  postgres: PostgresNode;
  remote: RemotePostgres;
  peers: PeerClient;
  watchdog: WatchdogPort;
  processFence: ProcessFencePort;
  /** postgresql.callbacks commands (on_start, on_stop, on_restart, on_reload, on_role_change). */
  callbacks: CallbackPort;
  /** Re-reads the configuration (SIGHUP); throws the loader's error when the file is invalid. */
  loadConfig(): LocalConfig;
  /** HAProxy's runtime APIs (absent: role changes reach HAProxy through its health checks only). */
  routing?: RoutingPort;
  /**
   * Calls `onWrite` once, at PostgreSQL's next WAL write (a watch on pg_wal); returns the function
   * that stops waiting, or null when there is nothing to watch. Absent in the simulator, which has
   * no pg_wal: the agent's own isolation probe then keeps its fast pace (isolation-watch.ts).
   */
  nextWalWrite?(onWrite: () => void): (() => void) | null;
  /** Failover records (absent: none are kept, as in the simulator). */
  failoverRecords?: FailoverRecordStore;
}
