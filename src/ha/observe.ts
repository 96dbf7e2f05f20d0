/**
 * Gathering one Observation: the DCS snapshot, PostgreSQL's state, the background task, and —
 * only when the leader key is absent — the other members' status. Every I/O goes through the
 * ports and has a deadline there; a failure becomes a fact in the observation, never an exception
 * out of the cycle.
 *
 * The background task is read FIRST: a task that finishes while the rest is gathered then shows
 * as still running (conservative), and the task generation the agent recorded before observing
 * tells the executor that the PostgreSQL facts may be stale.
 */
import type { ClusterView } from '../dcs/types.js';
import { isoFromWallMs } from '../engine/clock.js';
import type { ControlData } from '../postgres/controldata.js';
import type { PostgresProbe } from '../postgres/probe.js';
import { countLocalOnlyCommits, lastReceiverError } from '../postgres/server-log.js';
import { parseConnUrl } from './core/conn-url.js';
import type { AgentContext } from './context.js';
import { ownApiUrl } from './member-data.js';
import { divergedFrom, parseTimelineHistory, timelineCreators, type LocalWal, type TimelineSwitch } from './core/timeline.js';
import { stalledForMs } from './core/sync-stall.js';
import type { AsyncTaskObservation, DivergenceObservation, Observation, PostgresObservation, SelfInfo, TaskKind } from './core/types.js';
import { isFenceSetting } from './postgres-tracker.js';
import { fetchPeers } from './peers.js';
import { requestDueNow } from './core/rules/switchover.js';
import type { PostgresEndpoint } from './ports.js';

/** Deadline of each connection the divergence check opens to the leader. */
const LEADER_CHECK_TIMEOUT_MS = 3000;
/** How much of the server log is read for the WAL receiver's last error. */
const SERVER_LOG_TAIL_BYTES = 16_384;

export function selfInfo(a: AgentContext): SelfInfo {
  const local = a.local();
  return {
    name: local.name,
    tags: local.tags,
    watchdogMode: local.watchdog.mode,
    watchdogSafetyMarginMs: local.watchdog.safetyMarginMs,
    removeDataDirectoryOnRewindFailure: local.postgresql.removeDataDirectoryOnRewindFailure,
    removeDataDirectoryOnDivergedTimelines: local.postgresql.removeDataDirectoryOnDivergedTimelines,
    canBootstrap: true,
    apiUrl: ownApiUrl(a),
  };
}

async function probePostgres(a: AgentContext): Promise<PostgresProbe | null> {
  const pg = a.pg;
  const epoch = pg.probeEpoch;
  let probed: PostgresProbe | null = null;
  pg.probeError = null;
  try {
    probed = await pg.node.probe();
  } catch (error) {
    pg.probeError = error instanceof Error ? error.message : String(error);
  }
  // A promote or stop started meanwhile: this probe may describe the old role.
  pg.probe = pg.probeEpoch === epoch ? probed : null;
  return pg.probe;
}

async function readControlData(a: AgentContext, taskRunning: boolean): Promise<ControlData | null> {
  try {
    const control = await a.pg.node.controlData();
    a.pg.systemIdentifier = control.systemIdentifier;
    return control;
  } catch (error) {
    // While a task builds the data directory (initdb, a clone) its control file may not exist
    // yet: expected, and the decision waits for the task anyway.
    const say = taskRunning ? a.log.debug.bind(a.log) : a.log.warning.bind(a.log);
    say(`pg_controldata failed: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** The most of the server log one cycle reads. */
const SERVER_LOG_SCAN_BYTES = 1 << 20;

/**
 * Counts commits that became visible without their synchronous replication (issue 9 item 6): a
 * client that cancels its wait — for a sync standby, or for the fence's black-hole standby — gets
 * an error, yet the row is there and a failover may lose it. PostgreSQL says so only in its log.
 */
async function scanServerLog(a: AgentContext): Promise<void> {
  const { text, end } = await a.pg.node.serverLogSince(a.pg.serverLogOffset, SERVER_LOG_SCAN_BYTES);
  a.pg.serverLogOffset = end;
  const found = countLocalOnlyCommits(text);
  if (found === 0) return;
  a.pg.localOnlyCommits += found;
  a.log.warning(
    `${found} commit(s) became visible without being replicated: a client stopped waiting for synchronous replication (or for the fence) after the commit was written locally; a failover may lose them (${a.pg.localOnlyCommits} since the agent started)`,
  );
}

/** Tracks since when a running replica with a source has not been streaming (issue 6, item 4). */
async function receiverState(a: AgentContext, probe: PostgresProbe | null, nowMs: number): Promise<{ sinceMs: number | null; error: string | null }> {
  const shouldStream = probe !== null && probe.inRecovery && a.pg.followTarget !== null;
  if (!shouldStream || probe.walReceiverStatus === 'streaming') {
    a.pg.notStreamingSinceMs = null;
    return { sinceMs: null, error: null };
  }
  a.pg.notStreamingSinceMs ??= nowMs;
  return { sinceMs: a.pg.notStreamingSinceMs, error: lastReceiverError(await a.pg.node.serverLogText(SERVER_LOG_TAIL_BYTES)) };
}

/** A primary on timeline > 1: where its timeline began, from its own history file (read once per timeline). */
async function timelineStart(a: AgentContext, probe: PostgresProbe | null): Promise<PostgresObservation['timelineStart']> {
  if (probe === null || probe.inRecovery || probe.timeline <= 1) return null;
  const cached = a.pg.timelineStart;
  if (cached !== null && cached.timeline === probe.timeline) return cached.value;
  const text = await a.pg.node.timelineHistoryText(probe.timeline).catch(() => null);
  const ended = probe.timeline - 1;
  const line = text === null ? undefined : parseTimelineHistory(text).find((entry) => entry.timeline === ended);
  const reason = text
    ?.split('\n')
    .find((l) => l.trim().startsWith(`${ended}\t`))
    ?.split('\t')
    .slice(2)
    .join('\t')
    .trim();
  const value =
    line === undefined
      ? null
      : { endedTimeline: ended, switchLsn: line.switchLsn, reason: reason === undefined || reason === '' ? 'no recovery target specified' : reason };
  if (value !== null) a.pg.timelineStart = { timeline: probe.timeline, value }; // retried until readable
  return value;
}

async function observePostgres(a: AgentContext, view: ClusterView | null, nowMs: number, taskRunning: boolean): Promise<PostgresObservation> {
  const pg = a.pg;
  const dataDir = await pg.node.dataDirState();
  const running = dataDir === 'initialized' && (await pg.node.postmasterPid()) !== null;
  if (running) {
    pg.crashedSinceMs = null;
  } else if (pg.expectedRunning && !taskRunning && pg.crashedSinceMs === null) {
    pg.crashedSinceMs = nowMs;
    a.log.warning('PostgreSQL is not running although keel did not stop it: treating it as crashed');
  }
  const probe = running ? await probePostgres(a) : null;
  if (!running) pg.probe = null;
  // Also when a start gave up while the postmaster still runs without accepting connections (a
  // standby that cannot reach a consistent state): its timeline and WAL position then decide
  // whether it diverged (a former primary started as a standby of a dead leader waited forever
  // for WAL that never came — the synchronous-mode failover test, after pg_rewind lost its source
  // mid-way). Not during an ordinary start: the control file lags the replay then, and judging a
  // replica by it rewound it needlessly.
  const lastStart = a.tasks.snapshot().lastByKind.start;
  const stuckStarting = running && probe === null && !taskRunning && lastStart !== undefined && !lastStart.ok;
  const control = dataDir === 'initialized' && (!running || stuckStarting || pg.systemIdentifier === null) ? await readControlData(a, taskRunning) : null;
  if (probe !== null) pg.rewindCapable = probe.rewindCapable;
  else if (control !== null) pg.rewindCapable = control.dataChecksums || control.walLogHints;
  const walPositionBytes =
    probe !== null
      ? probe.inRecovery
        ? Math.max(probe.receiveLsn ?? 0, probe.replayLsn ?? 0)
        : probe.currentLsn
      : control !== null
        ? Math.max(control.checkpointLsn, control.minRecoveryEndLsn)
        : null;
  const receiver = await receiverState(a, probe, nowMs);
  if (running) await scanServerLog(a);
  if (probe !== null && !probe.inRecovery) pg.noteSyncApplied(probe.synchronousStandbyNames, probe.currentLsn);
  const observation: PostgresObservation = {
    dataDir,
    systemIdentifier: dataDir === 'initialized' ? pg.systemIdentifier : null,
    running: running && probe !== null,
    starting: running && probe === null,
    role: probe === null ? null : probe.inRecovery ? 'replica' : 'primary',
    timeline: probe?.timeline ?? control?.timeline ?? null,
    walPositionBytes,
    followTarget: pg.followTarget,
    streaming: probe?.walReceiverStatus === 'streaming',
    fenced: probe !== null ? isFenceSetting(probe.synchronousStandbyNames) : pg.fenced,
    syncStandbyNames: pg.syncStandbyNamesInEffect(),
    syncAppliedAtLsn: pg.syncAppliedAtLsn,
    standbys:
      probe === null || probe.inRecovery
        ? []
        : probe.replication.map((r) => ({
            name: r.applicationName,
            state: r.state,
            syncState: r.syncState,
            flushLsnBytes: r.flushLsn,
            stalledMs: stalledForMs(pg.replicationProgress, r.applicationName, nowMs),
          })),
    physicalSlots: probe === null || probe.inRecovery ? null : probe.physicalSlots,
    crashedSinceMs: pg.crashedSinceMs,
    rewindCapable: pg.rewindCapable,
    divergence: { verdict: 'notChecked' },
    notStreamingSinceMs: receiver.sinceMs,
    receiverError: receiver.error,
    timelineStart: await timelineStart(a, probe),
    checkpointTimeline: probe?.checkpointTimeline ?? null,
    timelineOrigin: dataDir === 'initialized' ? await pg.node.readTimelineOrigin().catch(() => null) : null,
  };
  observation.divergence = await observeDivergence(a, view, observation, control?.clusterState ?? null, nowMs);
  return observation;
}

/** The divergence verdict, keeping the start of an inconclusive run and logging each new cause once. */
async function observeDivergence(
  a: AgentContext,
  view: ClusterView | null,
  pgObs: PostgresObservation,
  controlState: string | null,
  nowMs: number,
): Promise<DivergenceObservation> {
  const verdict = await checkDivergence(a, view, pgObs, controlState);
  const pg = a.pg;
  if (verdict.verdict !== 'unknown') {
    pg.divergenceUnknownSinceMs = null;
    pg.divergenceLastCause = null;
    return verdict;
  }
  pg.divergenceUnknownSinceMs ??= nowMs;
  if (pg.divergenceLastCause !== verdict.cause) a.log.warning(`divergence check inconclusive: ${verdict.cause}`);
  pg.divergenceLastCause = verdict.cause;
  return { ...verdict, sinceMs: pg.divergenceUnknownSinceMs };
}

/** Our own timeline history (empty on timeline 1 or when unreadable). */
async function ownHistory(a: AgentContext, timeline: number): Promise<TimelineSwitch[]> {
  if (timeline <= 1) return [];
  const text = await a.pg.node.timelineHistoryText(timeline).catch(() => null);
  return text === null ? [] : parseTimelineHistory(text);
}

/**
 * Runs the divergence check when a leader other than us exists and we are not streaming from it:
 * the leader's timeline and history, asked every time (a member key's timeline may be stale, e.g.
 * published in the middle of a promotion), compared with ours by the pure rule divergedFrom.
 */
async function checkDivergence(
  a: AgentContext,
  view: ClusterView | null,
  pgObs: PostgresObservation,
  controlState: string | null,
): Promise<DivergenceObservation> {
  const self = a.local().name;
  const leaderName = view?.leader?.name ?? null;
  if (view === null || leaderName === null || leaderName === self) return { verdict: 'notChecked' };
  if (pgObs.dataDir !== 'initialized' || pgObs.timeline === null || pgObs.walPositionBytes === null) return { verdict: 'notChecked' };
  if (pgObs.running && pgObs.role === 'replica' && pgObs.streaming) return { verdict: 'notChecked' };
  const leader = view.members.find((m) => m.name === leaderName);
  const address = parseConnUrl(leader?.connUrl ?? null);
  if (address === null) return { verdict: 'unknown', cause: `the leader (${leaderName}) publishes no usable conn_url`, sinceMs: 0 };
  const auth = a.local().postgresql.authentication;
  const endpoint = (user: { username: string; password?: string }): PostgresEndpoint => ({
    host: address.host,
    port: address.port,
    user: user.username,
    ...(user.password === undefined ? {} : { password: user.password }),
  });
  const rewindUser = endpoint(auth.rewind ?? auth.superuser);
  const answer = await a.ports.remote.leaderHistory(endpoint(auth.replication), rewindUser, LEADER_CHECK_TIMEOUT_MS);
  if (!answer.ok) return { verdict: 'unknown', cause: answer.cause, sinceMs: 0, leaderUnreachable: answer.unreachable };
  // A crashed primary's WAL may run past its last checkpoint (pg_controldata's state tells it).
  const crashedPrimary = !pgObs.running && (controlState === 'in production' || controlState === 'in crash recovery');
  const marker = pgObs.timelineOrigin;
  const origin = marker !== null && marker.timeline === pgObs.timeline ? marker.member : null;
  const local: LocalWal = {
    timeline: pgObs.timeline,
    endLsn: pgObs.walPositionBytes,
    endUncertain: crashedPrimary,
    history: await ownHistory(a, pgObs.timeline),
    origin,
  };
  if (!divergedFrom(local, answer.timeline, answer.history, timelineCreators(view.history?.value ?? []))) return { verdict: 'safe' };
  const leaderCheckpointed = await a.ports.remote.leaderHasCheckpointed(rewindUser, LEADER_CHECK_TIMEOUT_MS);
  return { verdict: 'diverged', leaderCheckpointed };
}

function taskSnapshot(a: AgentContext): AsyncTaskObservation {
  const { running, lastResult, lastByKind } = a.tasks.snapshot();
  return { running, lastResult, lastRewind: rewindThatCounts(lastByKind) };
}

/**
 * The last pg_rewind's result, if it still speaks for the data directory. A rewind's outcome is
 * about the directory it left; a clone, re-clone or bootstrap since replaced that directory, and
 * a promotion since moved it onto a new timeline of its own: a rewind before either says nothing
 * about a divergence found now (the chaos soak saw a node rewound from node2, promoted later,
 * isolated, then re-cloned from node2 as if that old rewind had just failed to rejoin it).
 */
export function rewindThatCounts<R extends { ok: boolean; sequence: number }>(lastByKind: Partial<Record<TaskKind, R>>): R | null {
  const rewind = lastByKind.rewind ?? null;
  if (rewind === null) return null;
  const replacedSince = [lastByKind.clone, lastByKind.reinit, lastByKind.bootstrap, lastByKind.promote].some(
    (r) => r !== undefined && r.ok && r.sequence > rewind.sequence,
  );
  return replacedSince ? null : rewind;
}

/**
 * Other members' status is fetched when the key is free (the leader race) and, for the leader,
 * while a switchover request is due (it checks the candidate before stepping down).
 */
function needsPeers(view: ClusterView, self: string, wallMs: number): boolean {
  if (view.leader === null) return true;
  return view.leader.name === self && requestDueNow(view.failover, wallMs) !== null;
}

/** How long each part of an observation took (ms), for the agent's slow-cycle report. */
export interface ObservePhases {
  dcsMs: number;
  postgresMs: number;
  peersMs: number;
}

export async function observe(a: AgentContext, phases?: ObservePhases): Promise<Observation> {
  const clock = a.ports.clock;
  const nowMs = clock.now();
  // One wall-clock reading for the whole observation: whether a scheduled switchover is due must
  // be the same for the peers fetched here and for decide.
  const wallMs = clock.wallMs();
  const asyncTask = taskSnapshot(a);
  const view = await a.cluster.read(a.ports.dcs, clock, a.log, a.local().name, () => a.lease.keepaliveOrThrow());
  const dcsDoneMs = clock.now();
  const postgres = await observePostgres(a, view, nowMs, asyncTask.running !== null);
  const postgresDoneMs = clock.now();
  const peers = view !== null && needsPeers(view, a.local().name, wallMs) ? await fetchPeers(a.ports.peers, view.members, a.local().name) : null;
  if (phases !== undefined) {
    phases.dcsMs = dcsDoneMs - nowMs;
    phases.postgresMs = postgresDoneMs - dcsDoneMs;
    phases.peersMs = clock.now() - postgresDoneMs;
  }
  const heard = a.failsafe.heard;
  return {
    nowMs,
    agentStartedMs: a.startedMs,
    wallTimeIso: isoFromWallMs(wallMs),
    self: selfInfo(a),
    config: a.cluster.dynamic,
    paused: a.cluster.dynamic.pause,
    dcs: view === null ? { ok: false, sinceMs: a.cluster.failingSinceMs ?? nowMs } : { ok: true, view },
    lease: {
      leaseId: a.ports.dcs.currentLeaseId(),
      lastConfirmedSentMs: a.lease.lastConfirmedSentMs,
      failsafeConfirmedSentMs: a.lease.failsafeConfirmedSentMs,
    },
    postgres,
    asyncTask,
    peers,
    watchdog: a.ports.watchdog.observe(),
    failsafeLeader: heard === null ? null : { name: heard.name, connUrl: heard.connUrl, heardAtMs: heard.atMs },
  };
}
