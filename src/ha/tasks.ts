/**
 * The PostgreSQL procedures the executor runs as background tasks (bootstrap, clone, rewind,
 * re-clone, start, stop, promote, demote). Each is a plain async function of the agent's parts;
 * the executor decides when one runs, the TaskRunner records its outcome for the next observation.
 * Waits go through the clock port, so the simulator runs these very functions.
 */
import type { AgentContext } from './context.js';
import { RetryableTaskError } from '../engine/task-runner.js';
import { renderConninfo } from '../postgres/conf-files.js';
import { KeelError } from '../errors.js';
import type { PostgresEndpoint, ReplicationSource } from './ports.js';
import type { MemberAddress } from './core/types.js';
import { runCallback, type CallbackAction } from './callbacks.js';
import { announceRoleChange } from './routing.js';
import { holdsLeaderLock } from './status.js';
import { trustingHbaLines } from '../postgres/hba-trust.js';
import { effectivePgHba } from '../config/parameters.js';

/** How often readiness and promotion are polled. */
const READY_POLL_MS = 250;
/** How long postmaster.pid may be missing while PostgreSQL starts before it counts as stopped. */
const START_GRACE_MS = 3000;
const PROMOTE_POLL_MS = 10;
/** How long the rewind's pre-check may wait for the source to answer. */
const REWIND_SOURCE_CHECK_MS = 5000;
const CLONE_TIMEOUT_MS = 24 * 3600_000;
const REWIND_TIMEOUT_MS = 3600_000;
/** pg_basebackup's progress lines are logged at most this often. */
const PROGRESS_LOG_EVERY_MS = 5000;

function pgTimeoutMs(a: AgentContext): number {
  return a.local().postgresql.pgCtlTimeoutMs;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQLSTATE class 28 (invalid authorization specification: no pg_hba line, a wrong password). */
function isAuthenticationRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('28');
}

/** Polls until PostgreSQL answers a probe, or fails after `timeoutMs` (the pg_ctl timeout) with the server log's tail. */
async function waitUntilReady(a: AgentContext, timeoutMs: number): Promise<void> {
  const clock = a.ports.clock;
  const deadline = clock.now() + timeoutMs;
  let lastError = 'not started';
  let missingSinceMs: number | null = null;
  let refusalLogged = false;
  while (clock.now() < deadline) {
    try {
      await a.pg.node.probe();
      return;
    } catch (error) {
      lastError = message(error);
      // A refusal (pg_hba, a password) comes from a server that is up, so waiting rarely helps:
      // say so now rather than at the deadline, which is pg_ctl_timeout away.
      if (!refusalLogged && isAuthenticationRefusal(error)) {
        refusalLogged = true;
        a.log.warning(
          `PostgreSQL refuses keel's connection: ${lastError}; pg_hba must let the superuser in where keel connects ` +
            '(the loopback when PostgreSQL listens there or on a wildcard, else the first postgresql.listen address; the socket with use_unix_socket)',
        );
      }
    }
    if ((await a.pg.node.postmasterPid()) === null) {
      // Give pg_ctl's child time to write postmaster.pid before concluding it died: one poll was
      // not enough on a loaded host (a full test run with the simulator beside it: a bootstrap
      // failed with an empty server log, the server not started yet rather than stopped).
      missingSinceMs ??= clock.now();
      if (clock.now() - missingSinceMs >= START_GRACE_MS) {
        const tail = (await a.pg.node.serverLogText(2048)).trim().split('\n').slice(-3).join(' | ');
        throw new KeelError('postgres.start_failed', `PostgreSQL stopped while starting: ${tail === '' ? '(nothing in the server log)' : tail}`);
      }
    } else missingSinceMs = null;
    await clock.sleep(READY_POLL_MS);
  }
  throw new KeelError('postgres.not_ready', `PostgreSQL did not accept connections within ${Math.round(timeoutMs / 1000)}s (${lastError})`);
}

export interface StartOptions {
  /** The callback to run once it accepts connections (default on_start; null: none). */
  callback?: CallbackAction | null;
  /** How long it may take to accept connections (default postgresql.pg_ctl_timeout). */
  timeoutMs?: number;
}

/** Starts PostgreSQL with the current configuration (postgresql.conf, pg_hba) and waits until it accepts connections. */
export async function startAndWait(a: AgentContext, options: StartOptions = {}): Promise<void> {
  await a.pg.writeConfig();
  await a.pg.syncHba();
  a.pg.expectedRunning = true;
  a.pg.crashedSinceMs = null;
  a.pg.notStreamingSinceMs = null;
  // A postmaster still starting from an earlier attempt keeps running: it must read the
  // recovery settings just written (the node to follow may have changed meanwhile).
  if ((await a.pg.node.postmasterPid()) !== null) await a.pg.node.reload();
  await a.pg.node.start(pgTimeoutMs(a));
  await waitUntilReady(a, options.timeoutMs ?? pgTimeoutMs(a));
  const callback = options.callback === undefined ? 'on_start' : options.callback;
  if (callback !== null) runCallback(a, callback);
}

/** Stops PostgreSQL; on_stop runs after a stop that is not part of a restart, demote or re-clone. */
export async function stopPostgres(a: AgentContext, mode: 'fast' | 'immediate', options: { callback?: boolean } = {}): Promise<void> {
  const role = a.pg.recovery === null ? 'master' : 'replica';
  a.pg.expectedRunning = false;
  // The REST API must not keep showing the last probe of a server that is going away.
  a.pg.invalidateProbe();
  await a.pg.node.closeConnection();
  try {
    await a.pg.node.stop(mode, pgTimeoutMs(a));
  } catch (error) {
    if (mode !== 'immediate') throw error;
    await a.pg.node.kill();
  }
  if (options.callback !== false) runCallback(a, 'on_stop', role);
}

/**
 * Restart in place (POST /restart, a scheduled restart) of a server running as `role`: a clean
 * stop, then a start with the same role and recovery settings and the configuration as it is now
 * — which is what clears a pending restart. The leader keeps its key meanwhile (decide's
 * taskInProgress updates it). A primary starts as a primary again only while it still holds the
 * leader lock; otherwise it starts in recovery following nobody (the simulator: a restart must
 * never bring up a second primary).
 */
export async function restartPostgres(a: AgentContext, role: 'primary' | 'replica', startTimeoutMs?: number): Promise<void> {
  a.log.info('restarting PostgreSQL');
  if ((await a.pg.node.postmasterPid()) !== null) await stopPostgres(a, 'fast', { callback: false });
  if (role === 'replica' && a.pg.recovery === null) a.pg.recovery = a.pg.recoveryFor(null);
  if (role === 'primary' && !holdsLeaderLock(a, a.ports.clock.now())) {
    a.log.warning('the leader lock is not ours (any more): starting in recovery instead of as a primary');
    a.pg.followTarget = null;
    a.pg.recovery = a.pg.recoveryFor(null);
  }
  await startAndWait(a, { callback: 'on_restart', ...(startTimeoutMs === undefined ? {} : { timeoutMs: startTimeoutMs }) });
}

/** initdb, pg_hba, first start as primary, users — a brand-new cluster (the initialize winner). */
export async function bootstrapNewCluster(a: AgentContext): Promise<void> {
  const local = a.local();
  await a.pg.node.initdb(local.bootstrap.initdbArgs, local.postgresql.authentication.superuser);
  if (local.postgresql.pgHba !== undefined) await a.pg.node.replaceHba(local.postgresql.pgHba);
  else await a.pg.node.appendHba(local.bootstrap.pgHba);
  a.pg.recovery = null;
  a.pg.followTarget = null;
  await startAndWait(a, { callback: null });
  const trusting = trustingHbaLines(effectivePgHba(local, a.cluster.dynamic), local.bootstrap.initdbArgs, local.bootstrap.pgHba);
  if (trusting.length > 0) {
    a.log.warning(
      `pg_hba.conf trusts connections without a password (${trusting.join('; ')}): any OS user of this host can connect through them ` +
        'as any database user, the superuser included; use peer or scram-sha-256 there (bootstrap.initdb with auth-local: peer and ' +
        "auth-host: scram-sha-256 replaces initdb's own lines; postgresql.pg_hba replaces the whole file)",
    );
  }
  await a.pg.node.createBootstrapUsers(local.postgresql.authentication);
  a.pg.systemIdentifier = (await a.pg.node.controlData()).systemIdentifier;
  // As Patroni: callbacks are held back while bootstrapping; on_start once it is done.
  runCallback(a, 'on_start', 'master');
}

/** After a failed bootstrap: stop what runs and keep the attempt aside for inspection. */
export async function setAsideFailedBootstrap(a: AgentContext): Promise<string | null> {
  if ((await a.pg.node.postmasterPid()) !== null) await stopPostgres(a, 'immediate', { callback: false });
  const aside = await a.pg.node.setAside(`failed-${new Date(a.ports.clock.wallMs()).toISOString().replace(/[:.]/g, '-')}`);
  a.pg.systemIdentifier = null;
  return aside;
}

function replicationSource(a: AgentContext, source: MemberAddress): ReplicationSource {
  const rep = a.local().postgresql.authentication.replication;
  return { host: source.host, port: source.port, username: rep.username, ...(rep.password === undefined ? {} : { password: rep.password }) };
}

/** Logs pg_basebackup's "--progress" lines ("1234/5678 kB (21%) ...") at most every few seconds. */
function throttledProgress(a: AgentContext, what: string): (chunk: string) => void {
  let lastLoggedMs = -Infinity;
  return (chunk) => {
    const lines = chunk.split(/[\r\n]+/).filter((l) => /\d+\/\d+ kB/.test(l));
    const last = lines[lines.length - 1];
    const nowMs = a.ports.clock.now();
    if (last === undefined || nowMs - lastLoggedMs < PROGRESS_LOG_EVERY_MS) return;
    lastLoggedMs = nowMs;
    a.log.info(`${what} progress: ${last.trim()}`);
  };
}

/** Points the recovery settings at `follow` (null: nobody) and starts PostgreSQL in recovery. */
export async function startAsReplica(a: AgentContext, follow: MemberAddress | null, callback: CallbackAction = 'on_start'): Promise<void> {
  a.pg.followTarget = follow?.name ?? null;
  a.pg.recovery = a.pg.recoveryFor(follow);
  // Not the leader any more: synchronous mode's setting is the non-leader one until a promotion
  // (whose sync key write comes first) and the leader's next steps set it again.
  a.pg.forgetSyncStandbyNames();
  await startAndWait(a, { callback });
}

/** pg_basebackup from `source`, then start as a replica following `follow`. */
export async function cloneAndStart(a: AgentContext, source: MemberAddress, follow: MemberAddress | null): Promise<void> {
  a.log.info(`cloning from ${source.name} (${source.host}:${source.port}) with pg_basebackup`);
  await a.pg.node.cloneFrom(replicationSource(a, source), a.local().postgresql.basebackupArgs, CLONE_TIMEOUT_MS, throttledProgress(a, 'clone'));
  a.pg.systemIdentifier = null;
  await startAsReplica(a, follow);
}

/** The rewind source must be reachable with the rewind credentials and be a primary, or nothing is touched. */
async function checkRewindSource(a: AgentContext, endpoint: PostgresEndpoint): Promise<void> {
  let primary: boolean;
  try {
    primary = await a.ports.remote.isPrimary(endpoint, REWIND_SOURCE_CHECK_MS);
  } catch (error) {
    throw new RetryableTaskError(
      'ha.rewind_source_unreachable',
      `cannot reach the rewind source ${endpoint.host}:${endpoint.port} as ${endpoint.user}: ${message(error)}`,
    );
  }
  if (!primary) throw new RetryableTaskError('ha.rewind_source_not_primary', `the rewind source ${endpoint.host}:${endpoint.port} is not a primary (yet)`);
}

/**
 * What a failed pg_rewind means, as Patroni judges it: when the source has since become
 * unreachable (or stopped being a primary) the failure says nothing about our data directory and
 * is retried — provided pg_controldata still reads it (an interrupted rewind may have damaged the
 * control file). Only a failure against a healthy primary is final (simulator, seed 14153: the
 * network cut during the rewind, and the node stayed down for good).
 */
async function classifyRewindFailure(a: AgentContext, source: PostgresEndpoint, error: unknown): Promise<unknown> {
  try {
    await checkRewindSource(a, source);
  } catch (sourceProblem) {
    if (!(sourceProblem instanceof RetryableTaskError)) return error;
    try {
      await a.pg.node.controlData();
    } catch {
      return error;
    }
    return new RetryableTaskError('ha.rewind_source_lost', `${message(error)} (the source became unusable during the rewind: ${sourceProblem.message})`);
  }
  return error;
}

/**
 * Checks the source, stops PostgreSQL (cleanly), pg_rewinds from `from`, then starts as a replica
 * following `follow`. A failed pg_rewind leaves PostgreSQL stopped: the data directory may be
 * half rewritten, and what to do next (re-clone or stay down) is decide's call.
 */
export async function rewindAndStart(a: AgentContext, from: MemberAddress, follow: MemberAddress | null): Promise<void> {
  const auth = a.local().postgresql.authentication;
  const user = auth.rewind ?? auth.superuser;
  const endpoint: PostgresEndpoint = {
    host: from.host,
    port: from.port,
    user: user.username,
    ...(user.password === undefined ? {} : { password: user.password }),
  };
  await checkRewindSource(a, endpoint);
  if ((await a.pg.node.postmasterPid()) !== null) await stopPostgres(a, 'fast', { callback: false });
  const conninfo = renderConninfo({ host: from.host, port: from.port, user: user.username, dbname: 'postgres', connect_timeout: 5 });
  a.log.info(`running pg_rewind from ${from.name}`);
  try {
    await a.pg.node.rewind(conninfo, user.password, REWIND_TIMEOUT_MS);
  } catch (error) {
    throw await classifyRewindFailure(a, endpoint, error);
  }
  a.log.info(`pg_rewind from ${from.name} finished; starting as a replica`);
  await startAsReplica(a, follow);
}

/**
 * Re-clone: pg_basebackup into a temporary directory first, and only once that copy is complete
 * stop PostgreSQL and swap the directories — an unreachable source never costs the old data.
 */
export async function recloneAndStart(a: AgentContext, from: MemberAddress, follow: MemberAddress | null): Promise<void> {
  a.log.warning(`cloning the data directory again from ${from.name}; the old one is replaced once the copy is complete`);
  await a.pg.node.cloneFrom(replicationSource(a, from), a.local().postgresql.basebackupArgs, CLONE_TIMEOUT_MS, throttledProgress(a, 'clone'), async () => {
    if ((await a.pg.node.postmasterPid()) !== null) await stopPostgres(a, 'immediate', { callback: false });
  });
  a.pg.systemIdentifier = null;
  await startAsReplica(a, follow);
}

/** Polls pg_is_in_recovery() until it is false (promotion done) or the deadline. */
async function waitUntilPromoted(a: AgentContext): Promise<void> {
  const clock = a.ports.clock;
  const deadline = clock.now() + pgTimeoutMs(a);
  while (clock.now() < deadline) {
    try {
      if (!(await a.pg.node.isInRecovery())) return;
    } catch {
      // The connection may drop while the startup process finishes; try again — unless the
      // postmaster is gone (simulator, seed 3077: a crash mid-promote held the key for 60 s).
      if ((await a.pg.node.postmasterPid()) === null) throw new KeelError('postgres.stopped_during_promote', 'PostgreSQL stopped while it was being promoted');
    }
    await clock.sleep(PROMOTE_POLL_MS);
  }
  throw new KeelError('postgres.promote_timeout', `PostgreSQL was still in recovery ${Math.round(pgTimeoutMs(a) / 1000)}s after pg_ctl promote`);
}

/**
 * pg_ctl promote, then a CHECKPOINT: until it, the control file still names the old timeline, and
 * a former primary rewinding from us would find "no rewind required" (issue 6; Patroni's
 * checkpoint_after_promote). The promotion polls every 10 ms rather than pg_ctl's 100 ms.
 */
export async function promote(a: AgentContext): Promise<void> {
  a.pg.invalidateProbe(); // from here on the server may acknowledge commits: never "known replica"
  await a.pg.node.requestPromote(pgTimeoutMs(a));
  await waitUntilPromoted(a);
  a.recovery.promoted(a.ports.clock.now());
  a.pg.invalidateProbe();
  a.pg.recovery = null;
  a.pg.followTarget = null;
  await a.pg.writeConfig();
  await a.pg.node.reload();
  await recordTimelineOrigin(a);
  runCallback(a, 'on_role_change', 'master');
  announceRoleChange(a, 'promoted'); // to HAProxy now, not after the CHECKPOINT below (bench/routing)
  void a.failoverRecorder.notePromoted();
  try {
    await a.pg.node.checkpoint(pgTimeoutMs(a));
  } catch (error) {
    a.log.warning(`CHECKPOINT after promote failed (replicas that must rewind will wait): ${message(error)}`);
  }
}

/** Marks the data directory with the timeline our promotion created (see TimelineOrigin). */
async function recordTimelineOrigin(a: AgentContext): Promise<void> {
  try {
    const probe = await a.pg.node.probe();
    await a.pg.node.writeTimelineOrigin({ timeline: probe.timeline, member: a.local().name });
  } catch (error) {
    a.log.warning(`could not record the timeline-origin marker: ${message(error)}`);
  }
}

/**
 * A switchover's step-down (Patroni's graceful demote): CHECKPOINT while commits still flow, so
 * the shutdown checkpoint has little left to write, then a fast stop — sessions are ended, and
 * the walsenders send the WAL up to the shutdown checkpoint before the postmaster exits. The key
 * is released by the next cycle, once this has finished (rules/switchover.ts).
 */
export async function stepDown(a: AgentContext): Promise<void> {
  a.log.info('manual failover: checkpoint, then a clean stop');
  try {
    await a.pg.node.checkpoint(pgTimeoutMs(a));
  } catch (error) {
    a.log.warning(`CHECKPOINT before stepping down failed (the stop will checkpoint): ${message(error)}`);
  }
  await stopPostgres(a, 'fast');
}

/** Stop immediately and start again in recovery following nobody; the next cycles point it at the leader. */
export async function demote(a: AgentContext): Promise<void> {
  if ((await a.pg.node.postmasterPid()) !== null) await stopPostgres(a, 'immediate', { callback: false });
  await startAsReplica(a, null, 'on_role_change');
}

/** A crashed PostgreSQL restarted in place, in recovery: the leader's next cycle promotes it. */
export async function restartCrashed(a: AgentContext): Promise<void> {
  await startAsReplica(a, null);
}

/**
 * Fences PostgreSQL: no commit is acknowledged from the reload on (synchronous_standby_names
 * names a standby that cannot exist). When the configuration cannot be written, the postmaster
 * is killed instead — an unfenced primary that may be a second primary is never left running.
 */
export async function fence(a: AgentContext, reason: string): Promise<void> {
  if (!a.pg.fenced) a.metrics.fenced();
  a.pg.fenced = true;
  a.log.warning(`fencing PostgreSQL: ${reason}`);
  try {
    await a.pg.writeConfig();
    await a.pg.node.reload();
    // Commits block from here on: keel-fence need not stop the server. Unless the fence was lifted
    // while this write ran (simulator, frozen-unguarded seed 551: the guard's fence and a cycle's
    // unfence overlapped; the unfence's write landed, and this line then stood keel-fence down
    // beside an unfenced primary, whose agent froze a moment later).
    if (a.pg.fenced) a.lease.setFenceInPlace(true);
  } catch (error) {
    a.log.error(`fencing by configuration failed (${message(error)}); stopping PostgreSQL immediately`);
    await a.pg.node.kill().catch(() => undefined);
  }
}
