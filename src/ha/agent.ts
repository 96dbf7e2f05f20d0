/**
 * The HA agent for one PostgreSQL node: the thin async shell around the pure core.
 *
 * Every cycle: observe -> decide -> execute, then sleep until loop_wait has passed since the
 * cycle started, or until something wakes it early (an etcd watch event on the cluster prefix,
 * a background task finishing). One cycle runs at a time. On stop the agent shuts PostgreSQL down
 * cleanly, releases the leader key only after PostgreSQL is down (so no replica is promoted while
 * we could still acknowledge a commit), removes its member key and returns its exit code.
 *
 * Everything it touches outside itself goes through `ports` (src/ha/ports.ts): production passes
 * the real ones, the simulator simulated ones, and both run this very code. The core can be
 * swapped too (`core`), which is how the simulator's bite tests break one rule at a time.
 */
import { adjustTimings, parseDynamicConfig } from '../config/dynamic.js';
import type { LocalConfig } from '../config/types.js';
import type { NodeStatus } from '../api/status.js';
import type { ApiProvider } from '../api/server.js';
import { CycleLoop } from '../engine/loop.js';
import { LeaseKeeper } from '../engine/lease-keeper.js';
import { TaskRunner } from '../engine/task-runner.js';
import type { Logger } from '../observability/log.js';
import { KeelMetrics } from '../observability/metrics.js';
import { clusterKeys } from '../patroni/dcs-layout.js';
import { ClusterState } from './cluster-state.js';
import { DecisionLog } from './decision-log.js';
import { RecoveryTracker } from './recovery-tracker.js';
import type { AgentContext } from './context.js';
import { decide } from './core/decide.js';
import { guardShouldFence, type GuardFacts } from './core/guard.js';
import { PlanContractError } from './core/plan.js';
import { ExpiryTickAligner } from './expiry-tick.js';
import type { Decision, Observation, TaskKind, Why } from './core/types.js';
import { renderWhy } from './core/why.js';
import { executeDecision } from './executor.js';
import { FailsafeInbox } from './failsafe.js';
import { FailsafeRenewer } from './failsafe-round.js';
import { IsolationWatch } from './isolation-watch.js';
import { SyncWatch } from './sync-watch.js';
import { watchEventWakes } from './watch-wake.js';
import { FailoverRecorder } from './failover-records.js';
import { makeCtx } from './core/rules/context.js';
import { pgpassEntries, reloadableConfig } from './local-config.js';
import { renderBackupConfig } from '../config/backup-section.js';
import { observe, type ObservePhases } from './observe.js';
import type { HaPorts } from './ports.js';
import { PostgresTracker } from './postgres-tracker.js';
import { buildApiProvider, buildNodeStatus, statusWithWalNow } from './status.js';
import { fence, stopPostgres } from './tasks.js';
import { runCallback } from './callbacks.js';
import type { ScheduledRestart } from './context.js';
import { deleteRestart, evaluateScheduledRestart, postReinitialize, postRestart, scheduledRestartDueMs } from './operations.js';
import { NUDGE_AFTER_MS, silentReceiverRestartDue, streamRecheckAtMs, walReceiverNudgeDue, type ReceiverFacts } from './stream-recheck.js';

/** The pure rules the agent runs; replaceable only to show the simulator catches a broken one. */
export interface HaCore {
  decide(observation: Observation): Decision;
  guardShouldFence(facts: GuardFacts): boolean;
}

export const REAL_CORE: HaCore = { decide, guardShouldFence };

export interface AgentOptions {
  ports: HaPorts;
  log: Logger;
  core?: HaCore;
  /** keel's Prometheus instruments; absent: the agent makes its own (e.g. in the simulator). */
  metrics?: KeelMetrics;
}

/** How long a clean stop waits for a running task before going on. */
const SHUTDOWN_TASK_WAIT_MS = 30_000;
/** A cycle (etcd answering) this long is reported with its phases. */
const SLOW_CYCLE_MS = 1000;

export class Agent implements AgentContext {
  readonly ports: HaPorts;
  readonly log: Logger;
  readonly cluster: ClusterState;
  readonly pg: PostgresTracker;
  readonly lease: LeaseKeeper;
  readonly tasks: TaskRunner<TaskKind>;
  readonly failsafe = new FailsafeInbox();
  readonly isolation: IsolationWatch;
  private readonly syncWatch: SyncWatch;
  readonly failoverRecorder: FailoverRecorder;
  readonly startedMs: number;
  readonly metrics: KeelMetrics;
  readonly recovery: RecoveryTracker;
  readonly decisions = new DecisionLog();
  watchdogDueMs: number | null = null;
  /** When the last decision asked for the next cycle (a scheduled switchover), or null. */
  private wakeAtMs: number | null = null;
  /** Moves a leader's cycles just before etcd's lease-expiry ticks (expiry-tick.ts). */
  private readonly expiryTick = new ExpiryTickAligner();
  /** The last reload that woke a replica's WAL receiver from its retry wait (stream-recheck.ts). */
  private lastWalReceiverNudgeMs: number | null = null;
  /** The last restart of a silent WAL receiver (restartSilentWalReceiver), or null. */
  private lastWalReceiverRestartMs: number | null = null;
  /** The source PostgreSQL followed at the end of the last cycle, and when it last changed (stream-recheck.ts). */
  private followSeen: string | null = null;
  private repointedAtMs: number | null = null;
  scheduledRestart: ScheduledRestart | null = null;
  private localConfig: LocalConfig;
  private readonly core: HaCore;
  private readonly loop: CycleLoop;
  private readonly watchAbort = new AbortController();
  private watching = false;
  private stopping = false;
  private reloadRequested = false;
  private exitCode = 0;
  private lastWhy: Why | null = null;
  private lastWhySentence = '';

  constructor(local: LocalConfig, options: AgentOptions) {
    this.localConfig = local;
    this.ports = options.ports;
    this.startedMs = this.ports.clock.now();
    this.log = options.log;
    this.core = options.core ?? REAL_CORE;
    const adjusted = adjustTimings(parseDynamicConfig(local.bootstrap.dcs));
    for (const warning of adjusted.warnings) this.log.warning(warning);
    this.cluster = new ClusterState(adjusted.cfg);
    this.pg = new PostgresTracker(this.ports.postgres, { local: () => this.localConfig, dynamic: () => this.cluster.dynamic }, this.log);
    this.lease = new LeaseKeeper(
      this.ports.clock,
      this.ports.dcs,
      this.log,
      (reason) => this.onGuardFire(reason),
      this.ports.processFence,
      new FailsafeRenewer(this, () => this.guardFacts()),
    );
    // A finished task is looked at at once, except one that failed for a reason that may pass
    // (its source unreachable): retrying that at once spins (pg_rewind from a dead leader was
    // retried every few milliseconds); the next loop_wait tick retries it.
    this.tasks = new TaskRunner<TaskKind>(this.ports.clock, this.log, 'demote', (result) => {
      if (result === null || result.ok || result.retryable !== true) this.wake();
    });
    this.loop = new CycleLoop(this.ports.clock, this.log);
    this.isolation = new IsolationWatch(this);
    this.syncWatch = new SyncWatch(this);
    this.failoverRecorder = new FailoverRecorder(this);
    this.metrics = options.metrics ?? new KeelMetrics({ scope: local.scope, name: local.name });
    this.metrics.readLeaseRemainingFrom(() => {
      const sent = this.lease.lastConfirmedSentMs;
      return sent === null ? null : (sent + this.cluster.dynamic.ttlMs - this.ports.clock.now()) / 1000;
    });
    this.recovery = new RecoveryTracker(this.metrics, () => this.localConfig.name);
    this.ports.processFence.onStops?.((count) => {
      this.log.warning(`keel-fence stopped PostgreSQL ${count === 1 ? 'once' : `${count} times`} while this agent could not (frozen or not running)`);
      this.metrics.fencedByHelper(count);
    });
  }

  local(): LocalConfig {
    return this.localConfig;
  }

  wake(): void {
    this.loop.wake();
  }

  /** Requests a clean stop (signal handlers call this). */
  stop(code = 0): void {
    if (this.stopping) return;
    this.log.info('shutting down');
    this.stopping = true;
    this.exitCode = code;
    this.loop.stop();
  }

  /** Requests a reload of the configuration before the next cycle (SIGHUP, as Patroni). */
  requestReload(): void {
    this.reloadRequested = true;
    this.wake();
  }

  /** The REST API's view of this node (read-only). */
  status(): NodeStatus {
    return buildNodeStatus(this, { lastWhyKind: this.lastWhy?.kind ?? null, lastWhy: this.lastWhySentence, nextRunAtMs: this.loop.nextRunAtMs });
  }

  /** The status with WAL positions read now (GET /patroni). */
  statusWithWalNow(): Promise<NodeStatus> {
    return statusWithWalNow(this, this.status());
  }

  /** POST /failsafe from a leader that cannot reach the DCS. */
  acceptFailsafe(body: Record<string, unknown>): { code: number; text: string } {
    const primary = this.pg.probe !== null && !this.pg.probe.inRecovery;
    const leading = primary || this.cluster.view?.leader?.name === this.localConfig.name || this.tasks.isRunning('promote');
    const nowMs = this.ports.clock.now();
    const { view, lastOkMs } = this.cluster;
    const fresh = lastOkMs !== null && nowMs - lastOkMs < this.cluster.dynamic.ttlMs;
    const keyHolder = fresh ? (view?.leader?.name ?? null) : null;
    return this.failsafe.accept(body, nowMs, this.cluster.dynamic.failsafeMode, leading, keyHolder);
  }

  apiProvider(): ApiProvider {
    return buildApiProvider(
      this,
      () => this.status(),
      (body) => this.acceptFailsafe(body),
      () => this.requestReload(),
      {
        postRestart: (body) => postRestart(this, body),
        deleteRestart: () => deleteRestart(this),
        postReinitialize: (body) => postReinitialize(this, body),
      },
      () => this.decisions.recent(),
    );
  }

  /** The pgpass file primary_conninfo names and, with a backup: section, the pgBackRest file archive_command names. */
  private async writeCredentialFiles(): Promise<void> {
    const local = this.localConfig;
    await this.ports.postgres.writePgpass(local.postgresql.pgpass, pgpassEntries(local));
    if (local.backup !== undefined) await this.ports.postgres.writeBackupConfig(local.backup.configFile, renderBackupConfig(local.backup));
  }

  async run(): Promise<number> {
    await this.writeCredentialFiles();
    await this.pg.adoptRunning();
    // A fence a previous agent left in place holds PostgreSQL already.
    this.lease.setFenceInPlace(this.pg.fenced);
    this.isolation.start();
    this.syncWatch.start();
    await this.loop.run(
      () => this.cycle(),
      () => this.cluster.dynamic.loopWaitMs,
      () => this.watchdogDueMs,
      (dueMs) => earliest(this.wakeAtMs, scheduledRestartDueMs(this), this.leaderCycleBeforeExpiryTick(dueMs)),
    );
    this.watchAbort.abort();
    this.isolation.stop();
    this.syncWatch.stop();
    await this.shutdown();
    return this.exitCode;
  }

  private async cycle(): Promise<void> {
    const startedMs = this.ports.clock.now();
    try {
      await this.runCycle();
    } finally {
      this.metrics.haCycle(this.ports.clock.now() - startedMs);
      // Whether the watches have anything to watch changes only in a cycle (watch-round.ts).
      this.isolation.poke();
      this.syncWatch.poke();
    }
  }

  private async runCycle(): Promise<void> {
    if (this.reloadRequested) await this.reload();
    const observedTaskGeneration = this.tasks.snapshot().generation;
    const phases: ObservePhases = { dcsMs: 0, postgresMs: 0, peersMs: 0 };
    const observation = await observe(this, phases);
    // The observation may have made this node the leader: the isolation watch starts now, not
    // after the actions (which can wait on a failing etcd up to their deadline).
    this.isolation.poke();
    this.recovery.observed(this.cluster.failingSinceMs === null ? this.cluster.view : null, observation.nowMs);
    let decision: Decision;
    try {
      decision = this.core.decide(observation);
    } catch (error) {
      if (!(error instanceof PlanContractError)) throw error;
      // A bug in the core: act on nothing this cycle (the guard armed by the last decision stays).
      this.log.error(`BUG: ${error.message}; not acting this cycle`);
      return;
    }
    this.wakeAtMs = earliest(
      decision.wakeInMs === undefined ? null : observation.nowMs + decision.wakeInMs,
      streamRecheckAtMs(observation, this.repointedAtMs),
    );
    const decidedMs = this.ports.clock.now();
    const why = await executeDecision(
      this,
      decision,
      { requestExit: (code) => this.stop(code) },
      { atMs: observation.nowMs, taskGeneration: observedTaskGeneration },
    );
    // A cycle that takes long delays what a wake asked for (a stalled synchronous standby, a
    // switchover): say where the time went.
    const tookMs = this.ports.clock.now() - observation.nowMs;
    if (tookMs >= SLOW_CYCLE_MS && observation.dcs.ok) {
      const executeMs = this.ports.clock.now() - decidedMs;
      this.log.info(
        `slow HA cycle: ${Math.round(tookMs)} ms (etcd read ${Math.round(phases.dcsMs)}, PostgreSQL ${Math.round(phases.postgresMs)}, members ${Math.round(phases.peersMs)}, actions ${Math.round(executeMs)})`,
      );
    }
    if (why.kind === 'promotedByAcquiring' && observation.postgres.role === 'replica' && observation.dcs.ok)
      this.failoverRecorder.noteKeyTaken(makeCtx(observation, observation.dcs.view), observation);
    this.failoverRecorder.noteObservation(observation);
    await this.nudgeWalReceiver(observation);
    this.lastWhy = why;
    this.lastWhySentence = renderWhy(why);
    this.decisions.record(why.kind, this.lastWhySentence, this.ports.clock.wallMs());
    this.log.info(this.lastWhySentence, { why: why.kind });
    await this.applyConfigChanges();
    evaluateScheduledRestart(this);
    if (!this.watching && this.cluster.view !== null) this.startWatch();
  }

  /**
   * A changed configuration (the DCS config key, a reload) reaches a running PostgreSQL that no
   * task is busy with: postgresql.conf / pg_hba.conf rewritten and reloaded. Parameters that only
   * a restart applies show as pending_restart from the next probe on.
   */
  private async applyConfigChanges(): Promise<void> {
    if (this.tasks.current() !== null || this.pg.probe === null) return;
    try {
      const applied = await this.pg.applyConfigChanges();
      if (applied === null) return;
      for (const [name, [before, after]] of Object.entries(applied.parameters))
        this.log.info(`changed ${name} from ${before ?? '(unset)'} to ${after ?? '(unset)'}`);
      if (applied.hba) this.log.info('pg_hba.conf replaced from postgresql.pg_hba');
      this.log.info('PostgreSQL configuration reloaded');
      runCallback(this, 'on_reload');
    } catch (error) {
      this.log.error(`could not apply the configuration change: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * After the cycle: notes a repoint (whoever made it: an action, a task) and looks again soon;
   * reloads a replica whose WAL receiver waits out wal_retrieve_retry_interval (stream-recheck.ts).
   */
  private async nudgeWalReceiver(observation: Observation): Promise<void> {
    if (this.pg.followTarget !== this.followSeen) {
      this.followSeen = this.pg.followTarget;
      this.repointedAtMs = this.ports.clock.now();
      this.wakeAtMs = earliest(this.wakeAtMs, this.repointedAtMs + NUDGE_AFTER_MS);
    }
    if (this.tasks.current() !== null) return;
    await this.restartSilentWalReceiver(observation);
    if (!walReceiverNudgeDue(observation, this.lastWalReceiverNudgeMs, this.repointedAtMs)) return;
    this.lastWalReceiverNudgeMs = observation.nowMs;
    await this.pg.node.reload().catch(() => false);
  }

  /** Ends a WAL receiver left on a dead connection (stream-recheck.ts says when), so that a new one connects now. */
  private async restartSilentWalReceiver(observation: Observation): Promise<void> {
    const probe = this.pg.probe;
    if (probe === null || !observation.dcs.ok || this.pg.followTarget === null) return;
    const source = observation.dcs.view.members.find((m) => m.name === this.pg.followTarget);
    const facts: ReceiverFacts = {
      inRecovery: probe.inRecovery,
      status: probe.walReceiverStatus,
      pid: probe.walReceiverPid,
      silentMs: probe.walReceiverSilentMs,
      receiveLsn: probe.receiveLsn,
      sourcePublishedLsn: source?.xlogLocation ?? null,
    };
    if (!silentReceiverRestartDue(facts, this.lastWalReceiverRestartMs, observation.nowMs) || facts.pid === null) return;
    this.lastWalReceiverRestartMs = observation.nowMs;
    this.log.info(
      `the WAL receiver has heard nothing from ${this.pg.followTarget} for ${Math.round((facts.silentMs ?? 0) / 1000)} s while it published WAL this node lacks: restarting it`,
    );
    await this.pg.node.restartWalReceiver(facts.pid).catch((error: unknown) => {
      this.log.warning(`could not restart the WAL receiver: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** What the lease guard's rule (and the failsafe renewer's) looks at, at this instant. */
  private guardFacts(): GuardFacts {
    return { knownReplica: this.pg.knownReplica(), promoting: this.tasks.isRunning('promote'), fenced: this.pg.fenced };
  }

  /**
   * For a leader that saw its predecessor's key go: the start of its next cycle moved earlier (by
   * less than a tick) so that its keepalive reaches etcd just before a lease-expiry tick
   * (expiry-tick.ts); null otherwise.
   */
  private leaderCycleBeforeExpiryTick(dueMs: number): number | null {
    const leading = this.cluster.view?.leader?.name === this.localConfig.name;
    return this.expiryTick.nextCycleStart(leading, dueMs, this.ports.clock.now());
  }

  /** The lease guard fired: fence unless the rule says this server cannot be acknowledging commits. */
  private onGuardFire(reason: string): void {
    const facts = this.guardFacts();
    if (!this.core.guardShouldFence(facts)) {
      if (!facts.fenced) this.log.debug(`lease guard: not fencing a replica (${reason})`);
      return;
    }
    void fence(this, reason);
  }

  private startWatch(): void {
    this.watching = true;
    const name = this.localConfig.name;
    const keys = clusterKeys(this.localConfig.namespace, this.localConfig.scope);
    this.ports.dcs.watch(
      this.cluster.view?.revision ?? 0,
      (event) => {
        this.expiryTick.watched(event, this.ports.clock.now());
        if (watchEventWakes(event, keys, this.cluster.view?.leader?.name === name)) this.wake();
      },
      this.watchAbort.signal,
    );
  }

  /**
   * Re-reads the configuration and applies what can change while running: credentials (pgpass,
   * keel's own connection), PostgreSQL parameters and recovery settings (then a PostgreSQL
   * reload), tags, callbacks. An invalid file is refused with its error and the running
   * configuration stays; settings that need a restart of the agent are reported and kept.
   */
  private async reload(): Promise<void> {
    this.reloadRequested = false;
    let next: LocalConfig;
    try {
      next = this.ports.loadConfig();
    } catch (error) {
      this.log.error(`reload refused, keeping the running configuration: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const applied = reloadableConfig(this.localConfig, next);
    for (const warning of [...next.warnings, ...applied.warnings]) this.log.warning(warning);
    this.localConfig = applied.config;
    const pg = this.ports.postgres;
    await this.writeCredentialFiles();
    pg.connectTo(this.pg.localConnectTarget());
    this.pg.invalidateProbe();
    if (this.pg.recovery !== null) this.pg.recovery = this.pg.recoveryFor(this.cluster.memberAddress(this.pg.followTarget));
    if ((await pg.postmasterPid()) !== null) {
      await this.pg.writeConfig();
      await this.pg.syncHba();
      await pg.reload();
      runCallback(this, 'on_reload');
    }
    this.log.info(`configuration reloaded from ${this.localConfig.file ?? 'its source'}`);
  }

  /** Clean stop: PostgreSQL first, then the leader key, then our member key and lease. */
  private async shutdown(): Promise<void> {
    const running = this.tasks.current();
    if (running !== null) {
      this.log.info(`waiting for ${running.kind} to finish before stopping`);
      await this.tasks.settle(SHUTDOWN_TASK_WAIT_MS);
    }
    this.lease.stop();
    this.ports.watchdog.disable();
    this.watchdogDueMs = null;
    const pg = this.ports.postgres;
    try {
      if ((await pg.postmasterPid()) !== null) {
        this.log.info('stopping PostgreSQL');
        await pg.checkpoint(this.localConfig.postgresql.pgCtlTimeoutMs).catch(() => undefined);
        await stopPostgres(this, 'fast');
      }
    } catch (error) {
      this.log.error(`could not stop PostgreSQL cleanly: ${error instanceof Error ? error.message : String(error)}`);
    }
    await pg.closeConnection();
    // keel-fence stands down only now that PostgreSQL is down (or could not be stopped: then it
    // stays armed with its last deadline — this agent can no longer vouch for that server).
    if ((await pg.postmasterPid().catch(() => 1)) === null) await this.ports.processFence.close();
    const dcs = this.ports.dcs;
    try {
      if (this.cluster.view?.leader?.name === this.localConfig.name || (await dcs.loadCluster()).leader?.name === this.localConfig.name) {
        await dcs.deleteLeader();
        this.log.info('leader key released');
      }
      await dcs.deleteMember();
      await dcs.revokeLease();
    } catch (error) {
      this.log.warning(`could not clean up the DCS keys: ${error instanceof Error ? error.message : String(error)}`);
    }
    await dcs.close();
  }
}

/** The earliest of optional instants (null: none). */
function earliest(...instants: (number | null)[]): number | null {
  let first: number | null = null;
  for (const at of instants) if (at !== null && (first === null || at < first)) first = at;
  return first;
}
