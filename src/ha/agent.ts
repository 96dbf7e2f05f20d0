/**
 * The agent loop: the thin async shell around the pure HA core.
 *
 * Every cycle: observe -> decide -> execute, then sleep until loop_wait has passed since the
 * cycle started, or until something wakes it early (an etcd watch event on the cluster prefix,
 * a background task finishing). One cycle runs at a time. On SIGTERM/SIGINT the agent stops
 * PostgreSQL cleanly, releases the leader key only after PostgreSQL is down (so no replica is
 * promoted while we could still acknowledge a commit), removes its member key and exits 0.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalConfig } from '../config/types.js';
import { parseDynamicConfig, adjustTimings } from '../config/dynamic.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import type { Logger } from '../observability/log.js';
import { writePgpass } from '../postgres/procedures.js';
import { loadConfigFile } from '../config/load.js';
import { pgpassEntries, reloadableConfig } from './local-config.js';
import { syncPhysicalSlots, slotNameFromMemberName } from '../postgres/slots.js';
import { startApiServer } from '../api/server.js';
import { NodeRuntime, FENCE_STANDBY_NAME } from './runtime.js';
import { observe } from './observe.js';
import { decide } from './decide.js';
import { renderWhy } from './why.js';
import { executeDecision } from './executor.js';
import { stopPostgres, writeConfigNow } from './tasks.js';
import { buildNodeStatus, buildApiProvider } from './status.js';

const now = (): number => performance.now();

export class Agent {
  private readonly rt: NodeRuntime;
  private stopping = false;
  private reloadRequested = false;
  private exitCode = 0;
  private wakeUp: (() => void) | null = null;
  private readonly watchAbort = new AbortController();

  constructor(readonly local: LocalConfig, private readonly log: Logger) {
    const adjusted = adjustTimings(parseDynamicConfig(local.bootstrap.dcs));
    for (const warning of adjusted.warnings) log.warning(warning);
    const dynamic = adjusted.cfg;
    const dcs = new EtcdDcs({ etcd: local.etcd, namespace: local.namespace, scope: local.scope, name: local.name, retryTimeoutMs: dynamic.retryTimeoutMs, ttlS: Math.round(dynamic.ttlMs / 1000) });
    this.rt = new NodeRuntime(local, dcs, log, dynamic);
    this.rt.wake = () => this.wakeUp?.();
  }

  /** Requests a reload of the configuration file before the next cycle (SIGHUP, as Patroni). */
  requestReload(): void {
    this.reloadRequested = true;
    this.wakeUp?.();
  }

  /**
   * Re-reads the configuration file and applies what can change while running: credentials
   * (pgpass, keel's own connection), PostgreSQL parameters and recovery settings (then a
   * PostgreSQL reload), tags, callbacks. An invalid file is refused with its error and the running
   * configuration stays; settings that need a restart of the agent are reported and kept.
   */
  private async reload(): Promise<void> {
    this.reloadRequested = false;
    const rt = this.rt;
    const file = rt.local.file;
    if (file === null) {
      this.log.warning('reload requested, but the configuration did not come from a file');
      return;
    }
    let next: LocalConfig;
    try {
      next = loadConfigFile(file, process.env);
    } catch (error) {
      this.log.error(`reload refused, keeping the running configuration: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const applied = reloadableConfig(rt.local, next);
    for (const warning of [...next.warnings, ...applied.warnings]) this.log.warning(warning);
    rt.local = applied.config;
    await writePgpass(rt.local.postgresql.pgpass, pgpassEntries(rt.local));
    await rt.replaceConnection();
    if (rt.recovery !== null) rt.recovery = rt.recoveryFor(rt.followTarget);
    if (await rt.instance.isRunning()) {
      await writeConfigNow(rt);
      await rt.instance.reload();
    }
    this.log.info(`configuration reloaded from ${file}`);
  }

  /** Requests a clean stop (signal handlers call this). */
  stop(code = 0): void {
    if (this.stopping) return;
    this.log.info('shutting down');
    this.stopping = true;
    this.exitCode = code;
    this.wakeUp?.();
  }

  private async adoptRunningPostgres(): Promise<void> {
    const rt = this.rt;
    if (!(await rt.instance.isRunning())) return;
    rt.postgresExpectedRunning = true;
    if (existsSync(join(rt.local.postgresql.dataDir, 'standby.signal'))) rt.recovery = rt.recoveryFor(null);
    // A fence written by a previous agent process stays until decide lifts it.
    const conf = await readFile(join(rt.local.postgresql.configDir, 'postgresql.conf'), 'utf8').catch(() => '');
    rt.fenced = conf.includes(FENCE_STANDBY_NAME);
    this.log.info('PostgreSQL is already running: keel takes it over');
  }

  private async cycle(): Promise<void> {
    const rt = this.rt;
    const observedTaskGeneration = rt.task.generation;
    const observation = await observe(rt, now());
    const decision = decide(observation);
    const why = await executeDecision(rt, decision, { now, requestExit: (code) => this.stop(code) }, observedTaskGeneration);
    rt.lastWhy = why;
    rt.lastWhySentence = renderWhy(why);
    this.log.info(rt.lastWhySentence, { why: why.kind });
    await this.leaderDuties();
  }

  /**
   * Bookkeeping only the leader does, outside decide(): the `failsafe` key (members' API URLs,
   * read back by POST /failsafe while etcd is down) and replication slots for the members.
   */
  private async leaderDuties(): Promise<void> {
    const rt = this.rt;
    const view = rt.view;
    if (view === null || view.leader?.name !== rt.name || rt.probe === null || rt.probe.inRecovery) return;
    if (rt.dynamic.failsafeMode) {
      const members = Object.fromEntries(view.members.filter((m) => m.apiUrl !== null).map((m) => [m.name, m.apiUrl ?? '']));
      await rt.dcs.writeFailsafe(members).catch((error: unknown) => this.log.warning(`could not write the failsafe key: ${error instanceof Error ? error.message : String(error)}`));
    }
    if (!rt.dynamic.useSlots) return;
    try {
      const wanted = view.members.filter((m) => m.name !== rt.name).map((m) => slotNameFromMemberName(m.name));
      const { created, dropped } = await syncPhysicalSlots(rt.conn, wanted);
      if (created.length > 0) this.log.info(`created replication slots: ${created.join(', ')}`);
      if (dropped.length > 0) this.log.info(`dropped replication slots: ${dropped.join(', ')}`);
    } catch (error) {
      this.log.warning(`replication slot maintenance failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private startWatch(): void {
    const rt = this.rt;
    rt.dcs.watch(rt.view?.revision ?? 0, (event) => {
      // A member that appears wakes the leader too: its replication slot is created at once, so a
      // replica that rejoins (after a restart, a freeze, a re-clone) streams without waiting loop_wait.
      const leading = rt.view?.leader?.name === rt.name;
      if (event.kind === 'reset' || event.keys.some((k) => /\/(leader|config|failover|initialize)$/.test(k)) || (leading && event.created.some((k) => /\/members\/[^/]+$/.test(k)))) this.wakeUp?.();
    }, this.watchAbort.signal);
  }

  async run(): Promise<number> {
    const rt = this.rt;
    await writePgpass(rt.local.postgresql.pgpass, pgpassEntries(rt.local));
    await this.adoptRunningPostgres();
    const api = await startApiServer({
      listen: rt.local.restapi.listen,
      ...(rt.local.restapi.authentication === undefined ? {} : { auth: rt.local.restapi.authentication }),
      provider: buildApiProvider(rt, () => buildNodeStatus(rt)),
    });
    this.log.info(`REST API on http://${rt.local.restapi.listen.host}:${api.port}`);
    let watching = false;
    while (!this.stopping) {
      const startedMs = now();
      try {
        if (this.reloadRequested) await this.reload();
        await this.cycle();
      } catch (error) {
        this.log.error(`HA cycle failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      if (!watching && rt.view !== null) {
        this.startWatch();
        watching = true;
      }
      if (this.stopping) break;
      rt.nextCycleAtMs = startedMs + rt.dynamic.loopWaitMs;
      await this.sleep(Math.max(0, rt.nextCycleAtMs - now()));
    }
    this.watchAbort.abort();
    await this.shutdown();
    await api.close();
    return this.exitCode;
  }

  /** Clean stop: PostgreSQL first, then the leader key, then our member key and lease. */
  private async shutdown(): Promise<void> {
    const rt = this.rt;
    if (rt.task.promise !== null) {
      this.log.info(`waiting for ${rt.task.running?.kind ?? 'task'} to finish before stopping`);
      await Promise.race([rt.task.promise, new Promise((r) => setTimeout(r, 30_000))]);
    }
    if (rt.leaseGuardTimer !== null) clearTimeout(rt.leaseGuardTimer);
    rt.watchdog.disable();
    try {
      if (await rt.instance.isRunning()) {
        this.log.info('stopping PostgreSQL');
        await rt.conn.query('CHECKPOINT').catch(() => undefined);
        await stopPostgres(rt, 'fast');
      }
    } catch (error) {
      this.log.error(`could not stop PostgreSQL cleanly: ${error instanceof Error ? error.message : String(error)}`);
    }
    await rt.conn.close();
    try {
      if (rt.view?.leader?.name === rt.name || (await rt.dcs.loadCluster()).leader?.name === rt.name) {
        await rt.dcs.deleteLeader();
        this.log.info('leader key released');
      }
      await rt.dcs.deleteMember();
      await rt.dcs.revokeLease();
    } catch (error) {
      this.log.warning(`could not clean up the DCS keys: ${error instanceof Error ? error.message : String(error)}`);
    }
    await rt.dcs.close();
  }
}
