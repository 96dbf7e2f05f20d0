/**
 * The agent's mutable state and its handles on the outside world (etcd, PostgreSQL, logger).
 *
 * Everything the pure core must not know how to do lives behind this object: it is shared by
 * observe.ts (gather an Observation), executor.ts (apply a Decision) and agent.ts (the loop).
 * It keeps only facts the core cannot re-observe: keepalive send times, whether we stopped
 * PostgreSQL on purpose (to tell a crash from a stop), the running background task, the fence.
 */
import type { DynamicConfig, LocalConfig } from '../config/types.js';
import type { ClusterView, Dcs } from '../dcs/types.js';
import type { Logger } from '../observability/log.js';
import { PostgresInstance, defaultServerLog } from '../postgres/instance.js';
import { PostgresConnection, type ConnectTarget, type PostgresProbe } from '../postgres/probe.js';
import { effectiveParameters } from '../config/parameters.js';
import { recoverySettings } from '../postgres/procedures.js';
import { slotNameFromMemberName } from '../postgres/slots.js';
import { parseConnUrl } from '../postgres/conn-url.js';
import type { RecoverySettings } from '../postgres/conf-files.js';
import { WatchdogDevice } from './watchdog-device.js';
import type { LeaseGuard, RunningTask, TaskResult, TaskKind, Why } from './types.js';

/** synchronous_standby_names while fenced: a standby no member can be, so no commit is acknowledged. */
export const FENCE_STANDBY_NAME = '"keel fenced: no such standby"';

/** Whether a synchronous_standby_names value (as SHOW prints it, quotes or not) is the fence. */
export function isFenceSetting(value: string): boolean {
  return value === FENCE_STANDBY_NAME || value === FENCE_STANDBY_NAME.slice(1, -1);
}

export interface TaskState {
  running: RunningTask | null;
  lastResult: TaskResult | null;
  promise: Promise<void> | null;
}

export class NodeRuntime {
  dynamic: DynamicConfig;
  view: ClusterView | null = null;
  probe: PostgresProbe | null = null;
  /**
   * Bumped whenever PostgreSQL's role may change under a probe in flight (promote, stop): a probe
   * started before the bump is discarded, so `probe` never shows a replica that is now a primary.
   */
  probeEpoch = 0;
  probeError: string | null = null;

  /** Monotonic send time of the newest keepalive etcd confirmed; null before the first. */
  leaseConfirmedSentMs: number | null = null;
  leaseAttemptFailed = false;
  /** Start of the current run of failed DCS reads (monotonic), null when the last read worked. */
  dcsFailingSinceMs: number | null = null;
  /** Last time the DCS answered (monotonic), null before the first answer. */
  dcsLastOkMs: number | null = null;
  /** Last time the DCS answered (wall clock, for /patroni dcs_last_seen). */
  dcsLastSeenWallS: number | null = null;

  /** True between our start of PostgreSQL and our stop of it: a postmaster gone meanwhile crashed. */
  postgresExpectedRunning = false;
  crashedSinceMs: number | null = null;
  fenced = false;
  /** Recovery settings last written (null: configured as a primary). */
  recovery: RecoverySettings | null = null;
  /** Member whose address is in primary_conninfo (null: none configured). */
  followTarget: string | null = null;
  systemIdentifier: string | null = null;

  task: TaskState = { running: null, lastResult: null, promise: null };
  leaseGuard: LeaseGuard | null = null;
  leaseGuardTimer: NodeJS.Timeout | null = null;

  /** Last failsafe heartbeat (POST /failsafe) accepted from a leader, monotonic. */
  failsafeLeader: { name: string; atMs: number } | null = null;
  /** Monotonic instant the next HA cycle is due (for /liveness). */
  nextCycleAtMs = 0;
  lastWhy: Why | null = null;
  lastWhySentence = '';
  /** Wakes the loop early (watch events, finished tasks). Set by the agent loop. */
  wake: () => void = () => undefined;

  readonly instance: PostgresInstance;
  readonly conn: PostgresConnection;
  readonly watchdog: WatchdogDevice;

  constructor(
    readonly local: LocalConfig,
    readonly dcs: Dcs,
    readonly log: Logger,
    dynamic: DynamicConfig,
  ) {
    this.dynamic = dynamic;
    const pgc = local.postgresql;
    this.instance = new PostgresInstance({ dataDir: pgc.dataDir, configDir: pgc.configDir, binDir: pgc.binDir, logFile: defaultServerLog(pgc.dataDir) });
    this.conn = new PostgresConnection(this.localConnectTarget(), 5000);
    this.watchdog = new WatchdogDevice(local.watchdog.device, local.watchdog.mode !== 'off', log);
  }

  get name(): string {
    return this.local.name;
  }

  /** Parameters for postgresql.conf now: config merge + the fence override. */
  parameters(): Record<string, string> {
    const params = effectiveParameters(this.local, this.dynamic);
    if (this.fenced) params['synchronous_standby_names'] = FENCE_STANDBY_NAME;
    return params;
  }

  /** keel's own SQL connection: the unix socket when PostgreSQL has one, else TCP on loopback. */
  localConnectTarget(): ConnectTarget {
    const pgc = this.local.postgresql;
    const socketParam = String(pgc.parameters['unix_socket_directories'] ?? '/var/run/postgresql');
    const socketDir = socketParam.split(',')[0]?.trim().replace(/^'|'$/g, '') ?? '';
    const listenHost = pgc.listen.hosts[0] ?? '127.0.0.1';
    const tcpHost = listenHost === '*' || listenHost === '0.0.0.0' || listenHost === '' ? '127.0.0.1' : listenHost === '::' ? '::1' : listenHost;
    const su = pgc.authentication.superuser;
    return {
      host: socketDir.startsWith('/') ? socketDir : tcpHost,
      port: pgc.listen.port,
      user: su.username,
      database: 'postgres',
      ...(su.password === undefined ? {} : { password: su.password }),
    };
  }

  memberByName(name: string | null): { host: string; port: number } | null {
    if (name === null || this.view === null) return null;
    const member = this.view.members.find((m) => m.name === name);
    return member === undefined ? null : parseConnUrl(member.connUrl);
  }

  /** primary_conninfo for following `member` (null: recovery without a source). */
  recoveryFor(member: string | null): RecoverySettings | null {
    const address = this.memberByName(member);
    if (address === null) return { primaryConninfo: '' };
    const rep = this.local.postgresql.authentication.replication;
    const slot = this.dynamic.useSlots ? slotNameFromMemberName(this.name) : undefined;
    return recoverySettings({ host: address.host, port: address.port, username: rep.username }, this.name, this.local.postgresql.pgpass, slot);
  }

  /** Forgets the last probe: the server's role is changing. */
  invalidateProbe(): void {
    this.probeEpoch += 1;
    this.probe = null;
  }

  isTaskRunning(kind?: TaskKind): boolean {
    return this.task.running !== null && (kind === undefined || this.task.running.kind === kind);
  }
}
