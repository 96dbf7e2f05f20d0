/**
 * Gathering one Observation: the DCS snapshot, PostgreSQL's state, the background task, and —
 * only when the leader key is absent — the other members' status. Every I/O here has a
 * deadline; a failure becomes a fact in the observation, never an exception out of the cycle.
 *
 * The background task is read FIRST, before PostgreSQL: a task that finishes while the rest is
 * gathered then shows as still running (conservative), and its generation tells the executor that
 * the PostgreSQL facts may be stale.
 */
import { parseDynamicConfig, adjustTimings } from '../config/dynamic.js';
import type { ClusterView } from '../dcs/types.js';
import type { NodeRuntime } from './runtime.js';
import { isFenceSetting } from './runtime.js';
import { fetchPeers } from './peers.js';
import { checkAgainstLeader, leaderHasCheckpointed, type LocalWal } from './divergence.js';
import { parseConnUrl } from '../postgres/conn-url.js';
import { lastReceiverError } from '../postgres/server-log.js';
import type { ControlData } from '../postgres/controldata.js';
import type { AsyncTaskObservation, DivergenceObservation, Observation, PostgresObservation, SelfInfo } from './types.js';
import type { PostgresProbe } from '../postgres/probe.js';

/** Deadline of each connection the divergence check opens to the leader. */
const LEADER_CHECK_TIMEOUT_MS = 3000;
/** How much of the server log is read for the WAL receiver's last error. */
const SERVER_LOG_TAIL_BYTES = 16_384;

export function selfInfo(rt: NodeRuntime): SelfInfo {
  return {
    name: rt.name,
    tags: rt.local.tags,
    watchdogMode: rt.local.watchdog.mode,
    watchdogSafetyMarginMs: rt.local.watchdog.safetyMarginMs,
    removeDataDirectoryOnRewindFailure: rt.local.postgresql.removeDataDirectoryOnRewindFailure,
    removeDataDirectoryOnDivergedTimelines: rt.local.postgresql.removeDataDirectoryOnDivergedTimelines,
    canBootstrap: true,
  };
}

/** Adopts the DCS config (timings adjusted as Patroni does) and passes new timings to the DCS client. */
function applyDynamicConfig(rt: NodeRuntime, raw: Record<string, unknown>): void {
  const { cfg, warnings } = adjustTimings(parseDynamicConfig(raw));
  const timingsChanged = cfg.ttlMs !== rt.dynamic.ttlMs || cfg.retryTimeoutMs !== rt.dynamic.retryTimeoutMs;
  if (timingsChanged) for (const warning of warnings) rt.log.warning(warning);
  rt.dynamic = cfg;
  if (timingsChanged) rt.dcs.setTimings?.(Math.round(cfg.ttlMs / 1000), cfg.retryTimeoutMs);
}

async function readCluster(rt: NodeRuntime, nowMs: number): Promise<ClusterView | null> {
  try {
    const view = await rt.dcs.loadCluster();
    rt.view = view;
    rt.dcsFailingSinceMs = null;
    rt.dcsLastOkMs = nowMs;
    rt.dcsLastSeenWallS = Math.floor(Date.now() / 1000);
    if (view.config !== null) applyDynamicConfig(rt, view.config.value);
    return view;
  } catch (error) {
    if (rt.dcsFailingSinceMs === null) rt.dcsFailingSinceMs = nowMs;
    rt.log.warning(`DCS read failed: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

async function probePostgres(rt: NodeRuntime): Promise<PostgresProbe | null> {
  const epoch = rt.probeEpoch;
  let probed: PostgresProbe | null = null;
  rt.probeError = null;
  try {
    probed = await rt.conn.probe();
  } catch (error) {
    rt.probeError = error instanceof Error ? error.message : String(error);
  }
  // A promote or stop started meanwhile: this probe may describe the old role.
  rt.probe = rt.probeEpoch === epoch ? probed : null;
  return rt.probe;
}

async function readControlData(rt: NodeRuntime): Promise<ControlData | null> {
  try {
    const control = await rt.instance.controlData();
    rt.systemIdentifier = control.systemIdentifier;
    return control;
  } catch (error) {
    rt.log.warning(`pg_controldata failed: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** Tracks since when a running replica with a source has not been streaming (issue 6, item 4). */
async function receiverState(rt: NodeRuntime, probe: PostgresProbe | null, nowMs: number): Promise<{ sinceMs: number | null; error: string | null }> {
  const shouldStream = probe !== null && probe.inRecovery && rt.followTarget !== null;
  if (!shouldStream || probe.walReceiverStatus === 'streaming') {
    rt.notStreamingSinceMs = null;
    return { sinceMs: null, error: null };
  }
  rt.notStreamingSinceMs ??= nowMs;
  return { sinceMs: rt.notStreamingSinceMs, error: lastReceiverError(await rt.instance.serverLogText(SERVER_LOG_TAIL_BYTES)) };
}

async function observePostgres(rt: NodeRuntime, view: ClusterView | null, nowMs: number, taskRunning: boolean): Promise<PostgresObservation> {
  const dataDir = await rt.instance.dataDirState();
  const pid = dataDir === 'initialized' ? await rt.instance.postmasterPid() : null;
  const running = pid !== null;
  if (running) {
    rt.crashedSinceMs = null;
  } else if (rt.postgresExpectedRunning && !taskRunning && rt.crashedSinceMs === null) {
    rt.crashedSinceMs = nowMs;
    rt.log.warning('PostgreSQL is not running although keel did not stop it: treating it as crashed');
  }
  const probe = running ? await probePostgres(rt) : ((rt.probe = null), null);
  const control = dataDir === 'initialized' && (!running || rt.systemIdentifier === null) ? await readControlData(rt) : null;
  if (probe !== null) rt.rewindCapable = probe.rewindCapable;
  else if (control !== null) rt.rewindCapable = control.dataChecksums || control.walLogHints;
  const role = probe === null ? null : probe.inRecovery ? 'replica' : 'primary';
  const walPositionBytes =
    probe !== null
      ? probe.inRecovery
        ? Math.max(probe.receiveLsn ?? 0, probe.replayLsn ?? 0)
        : probe.currentLsn
      : control !== null
        ? Math.max(control.checkpointLsn, control.minRecoveryEndLsn)
        : null;
  const receiver = await receiverState(rt, probe, nowMs);
  const observation: PostgresObservation = {
    dataDir,
    systemIdentifier: dataDir === 'initialized' ? rt.systemIdentifier : null,
    running: running && probe !== null,
    starting: running && probe === null,
    role,
    timeline: probe?.timeline ?? control?.timeline ?? null,
    walPositionBytes,
    followTarget: rt.followTarget,
    streaming: probe?.walReceiverStatus === 'streaming',
    fenced: probe !== null ? isFenceSetting(probe.synchronousStandbyNames) : rt.fenced,
    crashedSinceMs: rt.crashedSinceMs,
    controlState: control?.clusterState ?? null,
    rewindCapable: rt.rewindCapable,
    divergence: { verdict: 'notChecked' },
    notStreamingSinceMs: receiver.sinceMs,
    receiverError: receiver.error,
  };
  observation.divergence = await observeDivergence(rt, view, observation, nowMs);
  return observation;
}

/** The divergence verdict, keeping the start of an inconclusive run and logging each new cause once. */
async function observeDivergence(rt: NodeRuntime, view: ClusterView | null, pgObs: PostgresObservation, nowMs: number): Promise<DivergenceObservation> {
  const verdict = await checkDivergence(rt, view, pgObs);
  if (verdict.verdict !== 'unknown') {
    rt.divergenceUnknownSinceMs = null;
    rt.divergenceLastCause = null;
    return verdict;
  }
  rt.divergenceUnknownSinceMs ??= nowMs;
  if (rt.divergenceLastCause !== verdict.cause) rt.log.warning(`divergence check inconclusive: ${verdict.cause}`);
  rt.divergenceLastCause = verdict.cause;
  return { ...verdict, sinceMs: rt.divergenceUnknownSinceMs };
}

/**
 * Runs the divergence check when a leader other than us exists and we are not streaming from it.
 * Same timeline as the leader while not a primary needs no question (Patroni: "local timeline
 * equals the primary's: no rewind"), so a replica that merely cannot authenticate is not asked.
 */
async function checkDivergence(rt: NodeRuntime, view: ClusterView | null, pgObs: PostgresObservation): Promise<DivergenceObservation> {
  const leaderName = view?.leader?.name ?? null;
  if (view === null || leaderName === null || leaderName === rt.name) return { verdict: 'notChecked' };
  if (pgObs.dataDir !== 'initialized' || pgObs.timeline === null || pgObs.walPositionBytes === null) return { verdict: 'notChecked' };
  if (pgObs.running && pgObs.role === 'replica' && pgObs.streaming) return { verdict: 'notChecked' };
  const leader = view.members.find((m) => m.name === leaderName);
  if (leader?.timeline !== null && leader?.timeline !== undefined && pgObs.timeline === leader.timeline && pgObs.role !== 'primary') return { verdict: 'safe' };
  const address = parseConnUrl(leader?.connUrl ?? null);
  if (address === null) return { verdict: 'unknown', cause: `the leader (${leaderName}) publishes no usable conn_url`, sinceMs: 0 };
  const auth = rt.local.postgresql.authentication;
  const endpoint = (user: { username: string; password?: string }) => ({ host: address.host, port: address.port, user: user.username, ...(user.password === undefined ? {} : { password: user.password }) });
  const crashedPrimary = !pgObs.running && (pgObs.controlState === 'in production' || pgObs.controlState === 'in crash recovery');
  const local: LocalWal = { timeline: pgObs.timeline, endLsn: pgObs.walPositionBytes, endUncertain: crashedPrimary };
  const check = await checkAgainstLeader(endpoint(auth.replication), local, LEADER_CHECK_TIMEOUT_MS);
  if (!check.ok) return { verdict: 'unknown', cause: check.cause, sinceMs: 0 };
  if (!check.diverged) return { verdict: 'safe' };
  const leaderCheckpointed = await leaderHasCheckpointed(endpoint(auth.rewind ?? auth.superuser), LEADER_CHECK_TIMEOUT_MS);
  return { verdict: 'diverged', leaderCheckpointed };
}

/** The task as it is now: read before anything else of the cycle (see the module comment). */
function taskSnapshot(rt: NodeRuntime): AsyncTaskObservation {
  return { running: rt.task.running, lastResult: rt.task.lastResult };
}

export async function observe(rt: NodeRuntime, nowMs: number): Promise<Observation> {
  const asyncTask = taskSnapshot(rt);
  const view = await readCluster(rt, nowMs);
  const postgres = await observePostgres(rt, view, nowMs, asyncTask.running !== null);
  const needPeers = view !== null && view.leader === null;
  const peers = needPeers ? await fetchPeers(view.members, rt.name) : null;
  return {
    nowMs,
    self: selfInfo(rt),
    config: rt.dynamic,
    paused: rt.dynamic.pause,
    dcs: view === null ? { ok: false, sinceMs: rt.dcsFailingSinceMs ?? nowMs } : { ok: true, view },
    lease: {
      leaseId: rt.dcs.currentLeaseId(),
      lastConfirmedSentMs: rt.leaseConfirmedSentMs,
      lastAttemptFailed: rt.leaseAttemptFailed,
      failsafeConfirmedSentMs: rt.failsafeConfirmedSentMs,
    },
    postgres,
    asyncTask,
    peers,
    watchdog: rt.watchdog.observe(),
    failsafeLeader: rt.failsafeLeader === null ? null : { name: rt.failsafeLeader.name, heardAtMs: rt.failsafeLeader.atMs },
  };
}
