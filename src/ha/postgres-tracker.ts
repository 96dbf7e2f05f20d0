/**
 * What the agent knows about its PostgreSQL beyond what it can re-observe each cycle: whether it
 * started it (to tell a crash from a stop), the recovery settings and fence it wrote, the last
 * probe, what the data directory said about pg_rewind, since when the WAL receiver has not
 * streamed, since when the divergence check has been inconclusive. It owns postgresql.conf:
 * every write goes through `writeConfig`, so the fence and the recovery settings never undo each
 * other.
 *
 * Invariant: `probe` never describes a role PostgreSQL may no longer have — a promote or a stop
 * bumps `probeEpoch`, and a probe started before the bump is discarded.
 */
import { effectiveParameters, effectivePgHba } from '../config/parameters.js';
import { archivingParameters, type KeelProgram } from '../config/archiving.js';
import { walGetClient } from '../backup/wal-get-command.js';
import type { DynamicConfig, LocalConfig } from '../config/types.js';
import type { Logger } from '../observability/log.js';
import type { RecoverySettings } from '../postgres/conf-files.js';
import type { ConnectTarget, PostgresProbe } from '../postgres/probe.js';
import { recoverySettings } from '../postgres/procedures.js';
import { slotNameFromMemberName } from './core/slot-names.js';
import { FENCE_STANDBY_NAME, STRICT_PLACEHOLDER_NAME, ackRuleOf, sameStandbyNames } from './core/sync-standby-names.js';
import { nonLeaderStandbyNames } from './core/rules/sync.js';
import type { ReplicationProgress } from './core/sync-stall.js';
import type { MemberAddress } from './core/types.js';
import type { PostgresNode } from './ports.js';

export { FENCE_STANDBY_NAME } from './core/sync-standby-names.js';

/** Whether a synchronous_standby_names value (as SHOW prints it, quoted or not) is the fence. */
export function isFenceSetting(value: string): boolean {
  return value === FENCE_STANDBY_NAME || value === FENCE_STANDBY_NAME.slice(1, -1);
}

/** How long a change of synchronous standby waits for the walsenders to take it before the release commit (PostgresNode.releaseSyncWaiters). */
const SYNC_RELEASE_WAIT_MS = 1000;
const LOOPBACK_OR_WILDCARD = new Set(['*', '0.0.0.0', '127.0.0.1', 'localhost']);

/** Patroni's _get_tcp_local_address: loopback when PostgreSQL listens on it (or everywhere), else the first address. */
export function tcpLocalHost(listenHosts: string[]): string {
  const hosts = listenHosts.map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.some((h) => LOOPBACK_OR_WILDCARD.has(h.toLowerCase()))) return '127.0.0.1';
  if (hosts.some((h) => h === '::' || h === '::1')) return '::1';
  return hosts[0] ?? '127.0.0.1';
}

/** The socket directory libpq should use: the first absolute entry of unix_socket_directories. */
export function unixSocketHost(setting: string | undefined): string {
  const entries = setting === undefined ? [] : setting.split(',').map((d) => d.trim().replace(/^'|'$/g, ''));
  return entries.find((d) => d.startsWith('/')) ?? '/var/run/postgresql';
}

/** The configuration the tracker renders from (it changes on reload and with the DCS config). */
export interface TrackerSettings {
  local(): LocalConfig;
  dynamic(): DynamicConfig;
}

export class PostgresTracker {
  probe: PostgresProbe | null = null;
  probeEpoch = 0;
  probeError: string | null = null;
  /** True between our start of PostgreSQL and our stop of it: a postmaster gone meanwhile crashed. */
  expectedRunning = false;
  crashedSinceMs: number | null = null;
  fenced = false;
  /**
   * Synchronous mode's synchronous_standby_names as the leader last set it (null: none set; a
   * node that is not the leader then keeps nonLeaderStandbyNames). The fence overrides it in the
   * file while up; lifting the fence writes it back.
   */
  syncNames: string | null = null;
  /** The WAL position first seen with the synchronous mode setting in effect (see Observation). */
  syncAppliedAtLsn: number | null = null;
  /** Recovery settings last written (null: configured as a primary). */
  recovery: RecoverySettings | null = null;
  /** Member whose address is in primary_conninfo (null: none). */
  followTarget: string | null = null;
  systemIdentifier: string | null = null;
  /** What the data directory last said about pg_rewind (checksums or wal_log_hints). */
  rewindCapable = false;
  notStreamingSinceMs: number | null = null;
  /** Where the next read of the server log starts (null: not read yet by this agent). */
  serverLogOffset: number | null = null;
  /** Commits made visible here without the synchronous replication they waited for, since this agent started. */
  localOnlyCommits = 0;
  divergenceUnknownSinceMs: number | null = null;
  /** The last inconclusive divergence check's cause, so each new cause is logged once. */
  divergenceLastCause: string | null = null;
  /** The parameters in postgresql.conf as last written (null: not written by this agent yet). */
  written: Readonly<Record<string, string>> | null = null;
  /** The pg_hba lines last written from postgresql.pg_hba (JSON; null: none written by this agent). */
  private writtenHba: string | null = null;
  /** The configuration objects applyConfigChanges last synced pg_hba from (nothing to do while they are the same). */
  private hbaFrom: { local: LocalConfig; dynamic: DynamicConfig } | null = null;
  /** The configuration's parameters (see parameters()) and the objects they were merged from. */
  private merged: { local: LocalConfig; dynamic: DynamicConfig; recovering: boolean; params: Readonly<Record<string, string>> } | null = null;
  /** What parameters() last returned, and from what. */
  private lastParameters: { merged: NonNullable<PostgresTracker['merged']>; sync: string | null; params: Readonly<Record<string, string>> } | null = null;
  /** The postgresql.conf write in progress (see writeConfig). */
  private writing: Promise<void> = Promise.resolve();
  /** Our own timeline history's last switch, read once per timeline. */
  timelineStart: { timeline: number; value: { endedTimeline: number; switchLsn: number; reason: string } | null } | null = null;

  constructor(
    readonly node: PostgresNode,
    private readonly settings: TrackerSettings,
    private readonly log: Logger,
    /** What archive_command and restore_command run (a backup: section): this agent's own program. */
    private readonly keelProgram: KeelProgram = { node: process.execPath, script: process.argv[1] ?? 'keel', walGet: walGetClient() },
  ) {
    node.connectTo(this.localConnectTarget());
  }

  /** postgresql.conf parameters now: the configuration merge, synchronous mode's setting, and the fence when it is up. */
  parameters(): Readonly<Record<string, string>> {
    const dynamic = this.settings.dynamic();
    const local = this.settings.local();
    const recovering = this.recovery !== null;
    // Asked every cycle (applyConfigChanges) while the configuration changes rarely: the merge is
    // redone only when a configuration object was replaced (a reload, a new config key) or the
    // role changed. Both functions are pure.
    let merged = this.merged;
    if (merged === null || merged.local !== local || merged.dynamic !== dynamic || merged.recovering !== recovering) {
      const params = effectiveParameters(local, dynamic);
      Object.assign(params, archivingParameters(local, dynamic, params, this.keelProgram, recovering));
      merged = this.merged = { local, dynamic, recovering, params };
    }
    // The same object while nothing changed, so that applyConfigChanges finds nothing to compare
    // (it ran a key-by-key comparison of some 40 parameters every cycle).
    const sync = this.fenced ? FENCE_STANDBY_NAME : this.syncStandbyNamesInEffect();
    const last = this.lastParameters;
    if (last !== null && last.merged === merged && last.sync === sync) return last.params;
    const params = { ...merged.params };
    if (sync !== null) params['synchronous_standby_names'] = sync;
    this.lastParameters = { merged, sync, params };
    return params;
  }

  /** What synchronous mode puts in synchronous_standby_names (null: mode off, the configured value). */
  syncStandbyNamesInEffect(): string | null {
    const dynamic = this.settings.dynamic();
    if (dynamic.synchronousMode === 'off') return null;
    return this.syncNames ?? nonLeaderStandbyNames(dynamic.synchronousModeStrict);
  }

  /** Sets synchronous mode's setting (the leader's sync step) and reloads; the fence, if up, stays. */
  async setSyncStandbyNames(value: string | null): Promise<void> {
    const before = this.syncNames;
    this.syncNames = value;
    try {
      await this.writeConfig();
    } catch (error) {
      this.syncNames = before;
      throw error;
    }
    if (before !== value) this.syncAppliedAtLsn = null;
    await this.node.reload();
    if (before !== value) await this.hastenRelease();
  }

  /**
   * After a reload that changed which standbys commits wait for (another synchronous standby, the
   * fence lifted): commits already waiting are released only by a reply from a standby of the
   * setting just written, so make one come now (PostgresNode.releaseSyncWaiters). Nothing for the
   * fence (no standby may release them) or a setting naming none (the checkpointer releases every
   * waiter when synchronous replication is turned off).
   */
  private async hastenRelease(): Promise<void> {
    const setting = this.written?.['synchronous_standby_names'] ?? null;
    const rule = setting === null ? null : ackRuleOf(setting);
    if (rule === null || rule.kind !== 'standbys') return;
    await this.node.releaseSyncWaiters(rule.names, SYNC_RELEASE_WAIT_MS).catch((error: unknown) => {
      this.log.debug(`could not hasten the release of waiting commits: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /**
   * The sync watch's samples of its standbys' confirmed WAL (core/sync-stall.ts): who has been
   * behind without moving, and since when. Empty while nobody samples.
   */
  replicationProgress: ReplicationProgress = new Map();

  /** Stops being the leader (a start in recovery): synchronous mode's setting goes back to the non-leader one. */
  forgetSyncStandbyNames(): void {
    this.syncNames = null;
    this.syncAppliedAtLsn = null;
  }

  /**
   * After a probe: the first WAL position seen with synchronous mode's setting in effect (the
   * server shows it, not the fence). Every commit acknowledged under an earlier setting ends
   * before it.
   */
  noteSyncApplied(shown: string, currentLsn: number | null): void {
    const wanted = this.syncStandbyNamesInEffect();
    if (wanted === null || this.fenced || currentLsn === null || this.syncAppliedAtLsn !== null) return;
    if (sameStandbyNames(shown, wanted)) this.syncAppliedAtLsn = currentLsn;
  }

  /**
   * Writes postgresql.conf for the current role, recovery settings and fence. Writes are
   * serialized and each renders the state as it is when it STARTS, so the last one to finish
   * always carries the latest state (found by the simulator, seed 742: on a slow disk a fence's
   * write finished after the unfence's, and the server stayed fenced while keel thought not).
   */
  writeConfig(): Promise<void> {
    const write = this.writing.then(async () => {
      const params = this.parameters();
      await this.node.writeConfig(params, this.recovery);
      this.written = params;
    });
    this.writing = write.catch(() => undefined);
    return write;
  }

  /**
   * Replaces pg_hba.conf with the configured postgresql.pg_hba (local file first, then the DCS
   * config), as Patroni does before every start and when the lines change; nothing when none is
   * configured (the file initdb and bootstrap.pg_hba wrote stays). True when it wrote.
   */
  async syncHba(): Promise<boolean> {
    const lines = effectivePgHba(this.settings.local(), this.settings.dynamic());
    if (lines === undefined) return false;
    const text = JSON.stringify(lines);
    if (text === this.writtenHba) return false;
    await this.node.replaceHba(lines);
    this.writtenHba = text;
    return true;
  }

  /**
   * Applies a configuration change (the DCS config key, a reload) to a running PostgreSQL:
   * rewrites postgresql.conf when a parameter changed and pg_hba.conf when its lines changed,
   * then reloads. Whether a changed parameter needs a restart is PostgreSQL's answer
   * (pg_settings.pending_restart, read by the next probe). Returns the changed parameters as
   * {name: [before, after]} and whether pg_hba changed; null when nothing changed. The first
   * call after the agent adopted a running server only records what the file now says.
   */
  async applyConfigChanges(): Promise<{ parameters: Record<string, [string | undefined, string | undefined]>; hba: boolean } | null> {
    const before = this.written;
    const now = this.parameters();
    if (before === null) {
      this.written = now;
      return null;
    }
    const parameters: Record<string, [string | undefined, string | undefined]> = {};
    if (before !== now)
      for (const name of new Set([...Object.keys(before), ...Object.keys(now)])) {
        if (before[name] !== now[name]) parameters[name] = [before[name], now[name]];
      }
    const changed = Object.keys(parameters).length > 0;
    if (changed) await this.writeConfig();
    const local = this.settings.local();
    const dynamic = this.settings.dynamic();
    const hba = this.hbaFrom?.local === local && this.hbaFrom.dynamic === dynamic ? false : await this.syncHba();
    this.hbaFrom = { local, dynamic };
    if (!changed && !hba) return null;
    await this.node.reload();
    return { parameters, hba };
  }

  /**
   * Changes what postgresql.conf says (recovery source, fence) and reloads; the new state sticks
   * only when the write succeeded, so a failed write is retried by the next decision instead of
   * being believed (simulator, seed 1630: an EIO left keel sure it followed the new leader).
   */
  async applyAndReload(change: Partial<Pick<PostgresTracker, 'followTarget' | 'recovery' | 'fenced'>>): Promise<void> {
    const before = { followTarget: this.followTarget, recovery: this.recovery, fenced: this.fenced };
    Object.assign(this, change);
    try {
      await this.writeConfig();
    } catch (error) {
      Object.assign(this, before);
      throw error;
    }
    await this.node.reload();
    if (before.fenced && !this.fenced) await this.hastenRelease();
  }

  /** primary_conninfo for following `source` (null: recovery without a source). */
  recoveryFor(source: MemberAddress | null): RecoverySettings {
    if (source === null) return { primaryConninfo: '' };
    const address = source;
    const local = this.settings.local();
    const slot = this.settings.dynamic().useSlots ? slotNameFromMemberName(local.name) : undefined;
    return recoverySettings(
      { host: address.host, port: address.port, username: local.postgresql.authentication.replication.username },
      local.name,
      local.postgresql.pgpass,
      slot,
    );
  }

  /** Forgets the last probe: the server's role is changing. */
  invalidateProbe(): void {
    this.probeEpoch += 1;
    this.probe = null;
  }

  /** A fresh probe says: in recovery (see core/guard.ts for why that matters). */
  knownReplica(): boolean {
    return this.probe !== null && this.probe.inRecovery;
  }

  /**
   * keel's own SQL connection, chosen as Patroni chooses it: with postgresql.use_unix_socket the
   * first absolute unix_socket_directories entry (libpq's default directory when none is set);
   * otherwise TCP to loopback when PostgreSQL listens there or on a wildcard, else to the first
   * listen address. Always as the superuser, with its password when one is configured.
   */
  localConnectTarget(): ConnectTarget {
    const local = this.settings.local();
    const pgc = local.postgresql;
    const su = pgc.authentication.superuser;
    return {
      host: pgc.useUnixSocket ? unixSocketHost(effectiveParameters(local, this.settings.dynamic())['unix_socket_directories']) : tcpLocalHost(pgc.listen.hosts),
      port: pgc.listen.port,
      user: su.username,
      database: 'postgres',
      ...(su.password === undefined ? {} : { password: su.password }),
    };
  }

  /** At agent start: take over a PostgreSQL that already runs (and a fence a previous agent left). */
  async adoptRunning(): Promise<void> {
    if ((await this.node.postmasterPid()) === null) return;
    this.expectedRunning = true;
    if (await this.node.hasStandbySignal()) this.recovery = { primaryConninfo: '' };
    const text = await this.node.managedConfigText();
    this.fenced = text.includes(FENCE_STANDBY_NAME);
    // Synchronous mode's setting, as the previous agent left it. Under a fence it is not in the
    // file: the strict placeholder (nothing acknowledged) stands in until the leader sets it again,
    // never a weaker one.
    const written = /^synchronous_standby_names\s*=\s*'((?:[^']|'')*)'/m.exec(text)?.[1]?.replace(/''/g, "'");
    if (this.fenced) this.syncNames = STRICT_PLACEHOLDER_NAME;
    else if (written !== undefined && written !== '') this.syncNames = written;
    this.log.info('PostgreSQL is already running: keel takes it over');
  }
}
