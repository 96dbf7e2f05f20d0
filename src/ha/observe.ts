/**
 * Gathering one Observation: the DCS snapshot, PostgreSQL's state, the background task, and —
 * only when the leader key is absent — the other members' status. Every I/O here has a
 * deadline; a failure becomes a fact in the observation, never an exception out of the cycle.
 */
import { parseDynamicConfig, adjustTimings } from '../config/dynamic.js';
import type { ClusterView } from '../dcs/types.js';
import type { NodeRuntime } from './runtime.js';
import { isFenceSetting } from './runtime.js';
import { fetchPeers } from './peers.js';
import { checkFailsafeTopology } from './failsafe.js';
import { divergedFrom, fetchLeaderHistory } from './divergence.js';
import { parseConnUrl } from '../postgres/conn-url.js';
import type { Observation, PostgresObservation, SelfInfo } from './types.js';
import type { PostgresProbe } from '../postgres/probe.js';

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

async function observePostgres(rt: NodeRuntime, view: ClusterView | null, nowMs: number): Promise<PostgresObservation> {
  const dataDir = await rt.instance.dataDirState();
  const pid = dataDir === 'initialized' ? await rt.instance.postmasterPid() : null;
  const running = pid !== null;
  if (running) {
    rt.crashedSinceMs = null;
  } else if (rt.postgresExpectedRunning && !rt.isTaskRunning() && rt.crashedSinceMs === null) {
    rt.crashedSinceMs = nowMs;
    rt.log.warning('PostgreSQL is not running although keel did not stop it: treating it as crashed');
  }
  const epoch = rt.probeEpoch;
  let probed: PostgresProbe | null = null;
  rt.probeError = null;
  if (running) {
    try {
      probed = await rt.conn.probe();
    } catch (error) {
      rt.probeError = error instanceof Error ? error.message : String(error);
    }
  }
  // A promote or stop started meanwhile: this probe may describe the old role.
  rt.probe = rt.probeEpoch === epoch ? probed : null;
  let control = null;
  if (dataDir === 'initialized' && (!running || rt.systemIdentifier === null)) {
    try {
      control = await rt.instance.controlData();
      rt.systemIdentifier = control.systemIdentifier;
    } catch (error) {
      rt.log.warning(`pg_controldata failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const probe = rt.probe;
  const role = probe === null ? null : probe.inRecovery ? 'replica' : 'primary';
  const walPositionBytes =
    probe !== null
      ? probe.inRecovery
        ? Math.max(probe.receiveLsn ?? 0, probe.replayLsn ?? 0)
        : probe.currentLsn
      : control !== null
        ? Math.max(control.checkpointLsn, control.minRecoveryEndLsn)
        : null;
  const timeline = probe?.timeline ?? control?.timeline ?? null;
  const observation: PostgresObservation = {
    dataDir,
    systemIdentifier: dataDir === 'initialized' ? rt.systemIdentifier : null,
    running: running && probe !== null,
    starting: running && probe === null,
    role,
    timeline,
    walPositionBytes,
    followTarget: rt.followTarget,
    streaming: probe?.walReceiverStatus === 'streaming',
    fenced: probe !== null ? isFenceSetting(probe.synchronousStandbyNames) : rt.fenced,
    crashedSinceMs: rt.crashedSinceMs,
    controlState: control?.clusterState ?? null,
    rewindCapable: control !== null ? control.dataChecksums || control.walLogHints : (rt.local.postgresql.parameters['wal_log_hints'] === 'on' || rt.dynamic.parameters['wal_log_hints'] === 'on' || rt.dynamic.parameters['wal_log_hints'] === true),
    divergedFromLeader: null,
  };
  observation.divergedFromLeader = await checkDivergence(rt, view, observation, control?.clusterState ?? null);
  return observation;
}

/** Runs the divergence check when a leader other than us exists and we are not streaming from it. */
async function checkDivergence(rt: NodeRuntime, view: ClusterView | null, pgObs: PostgresObservation, controlState: string | null): Promise<boolean | null> {
  if (view === null || view.leader === null || view.leader.name === rt.name) return null;
  if (pgObs.dataDir !== 'initialized' || pgObs.timeline === null || pgObs.walPositionBytes === null) return null;
  if (pgObs.running && pgObs.role === 'replica' && pgObs.streaming) return false;
  const leader = view.members.find((m) => m.name === view.leader?.name);
  const leaderTimeline = leader?.timeline ?? null;
  const address = parseConnUrl(leader?.connUrl ?? null);
  if (leaderTimeline === null || address === null) return null;
  if (pgObs.timeline === leaderTimeline && pgObs.role !== 'primary') return false;
  const su = rt.local.postgresql.authentication.rewind ?? rt.local.postgresql.authentication.superuser;
  const history = await fetchLeaderHistory({ host: address.host, port: address.port, user: su.username, ...(su.password === undefined ? {} : { password: su.password }) }, leaderTimeline, 3000);
  const crashedPrimary = !pgObs.running && (controlState === 'in production' || controlState === 'in crash recovery');
  return divergedFrom({ timeline: pgObs.timeline, endLsn: pgObs.walPositionBytes, endUncertain: crashedPrimary }, leaderTimeline, history);
}

export async function observe(rt: NodeRuntime, nowMs: number): Promise<Observation> {
  const view = await readCluster(rt, nowMs);
  const postgres = await observePostgres(rt, view, nowMs);
  const needPeers = view !== null && view.leader === null;
  const peers = needPeers ? await fetchPeers(view.members, rt.name) : null;
  const isPrimary = postgres.running && postgres.role === 'primary';
  const failsafeAllConfirmed = view === null && rt.dynamic.failsafeMode && isPrimary ? await checkFailsafeTopology(rt) : null;
  return {
    nowMs,
    self: selfInfo(rt),
    config: rt.dynamic,
    paused: rt.dynamic.pause,
    dcs: view === null ? { ok: false, sinceMs: rt.dcsFailingSinceMs ?? nowMs } : { ok: true, view },
    lease: { leaseId: rt.dcs.currentLeaseId(), lastConfirmedSentMs: rt.leaseConfirmedSentMs, lastAttemptFailed: rt.leaseAttemptFailed },
    postgres,
    asyncTask: { running: rt.task.running, lastResult: rt.task.lastResult },
    peers,
    watchdog: rt.watchdog.observe(),
    failsafeAllConfirmed,
  };
}
