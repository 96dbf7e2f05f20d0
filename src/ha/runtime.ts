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

const LOOPBACK_OR_WILDCARD = new Set(['*', '0.0.0.0', '127.0.0.1', 'localhost']);

/** Patroni's _get_tcp_local_address: loopback when PostgreSQL listens on it (or everywhere), else the first address. */
export function tcpLocalHost(listenHosts: string[]): string {
  const hosts = listenHosts.map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.some((h) => LOOPBACK_OR_WILDCARD.has(h.toLowerCase()))) return '127.0.0.1';
  if (hosts.some((h) => h === '::' || h === '::1')) return '::1';
  return hosts[0] ?? '127.0.0.1';
}

/** The socket directory libpq should use: the first absolute entry of unix_socket_directories. */
export function unixSocketHost(setting: string | number | boolean | undefined): string {
  const entries = setting === undefined ? [] : String(setting).split(',').map((d) => d.trim().replace(/^'|'$/g, ''));
  return entries.find((d) => d.startsWith('/')) ?? '/var/run/postgresql';
}

/** Whether a synchronous_standby_names value (as SHOW prints it, quotes or not) is the fence. */
export function isFenceSetting(value: string): boolean {
  return value === FENCE_STANDBY_NAME || value === FENCE_STANDBY_NAME.slice(1, -1);
}

export interface TaskState {
  running: RunningTask | null;
  lastResult: TaskResult | null;
  promise: Promise<void> | null;
  /**
   * Bumped whenever a task starts or finishes. An observation records it when it starts; a plan
   * decided on an observation whose generation is no longer current must not start a task: the
   * PostgreSQL it describes is not the one there now (issue 6: a second pg_rewind started 50 ms
   * after the first finished, on the stale observation of a stopped, diverged server).
   */
  generation: number;
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
  /** Monotonic send time of the newest round of POST /failsafe every member accepted; null when none. */
  failsafeConfirmedSentMs: number | null = null;
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
  /** Since when (monotonic) our WAL receiver has not been streaming from followTarget; null while it streams. */
  notStreamingSinceMs: number | null = null;
  /** Since when (monotonic) the divergence check has been inconclusive; null when it concluded. */
  divergenceUnknownSinceMs: number | null = null;
  /** The last inconclusive check's cause, so each new cause is logged once. */
  divergenceLastCause: string | null = null;
  /** What the data directory last said about pg_rewind (checksums or wal_log_hints); see PostgresObservation. */
  rewindCapable = false;
  systemIdentifier: string | null = null;

  task: TaskState = { running: null, lastResult: null, promise: null, generation: 0 };
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
  /** Replaced when a reload changes how keel connects (superuser, password, socket). */
  conn: PostgresConnection;
  readonly watchdog: WatchdogDevice;

  constructor(
    /** Replaced by a reload (SIGHUP); never mutated in place. */
    public local: LocalConfig,
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

  /** Opens keel's own connection anew (after a reload may have changed how to connect). */
  async replaceConnection(): Promise<void> {
    const previous = this.conn;
    this.conn = new PostgresConnection(this.localConnectTarget(), 5000);
    this.invalidateProbe();
    await previous.close();
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

  /**
   * keel's own SQL connection, chosen as Patroni chooses it: with postgresql.use_unix_socket the
   * first absolute unix_socket_directories entry (libpq's default directory when none is set);
   * otherwise TCP to loopback when PostgreSQL listens there or on a wildcard, else to the first
   * listen address. Always as the superuser, with its password when one is configured.
   */
  localConnectTarget(): ConnectTarget {
    const pgc = this.local.postgresql;
    const su = pgc.authentication.superuser;
    return {
      host: pgc.useUnixSocket ? unixSocketHost(effectiveParameters(this.local, this.dynamic)['unix_socket_directories']) : tcpLocalHost(pgc.listen.hosts),
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
