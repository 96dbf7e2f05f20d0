/**
 * The simulated world's data: parameters drawn from a seed (swarm testing: the seed also picks
 * the fault rates), each node's physical PostgreSQL (a data directory with a timeline lineage and
 * a WAL position, a postmaster, the files keel writes) and the agent process around the real
 * Agent. Nothing here decides anything: the Agent does, through its ports.
 */
import type { SynchronousMode, WatchdogMode } from '../../src/config/types.js';
import type { Agent } from '../../src/ha/agent.js';
import type { RecoverySettings } from '../../src/postgres/conf-files.js';
import { Prng } from './prng.js';

/** One timeline of a data directory's history; `uid` tells apart equal timeline numbers from different primaries. */
export interface Segment {
  tl: number;
  fromLsn: number;
  uid: number;
}

/** One node's PostgreSQL, as the machine has it: it survives the agent. */
export interface SimPg {
  dataDir: 'missing' | 'empty' | 'initialized';
  sysid: string | null;
  lineage: Segment[];
  /** End of WAL (bytes). */
  lsn: number;
  /** The timeline the control file's last checkpoint is on (it lags a promotion until the next checkpoint). */
  checkpointTl: number;
  checksums: boolean;
  /** ALTER SYSTEM set wal_log_hints = off (postgresql.auto.conf wins over keel's postgresql.conf). */
  autoConfWalLogHintsOff: boolean;
  /** The server in effect: wal_log_hints as it started. */
  walLogHints: boolean;
  state: 'down' | 'starting' | 'up';
  inRecovery: boolean;
  /** The last stop was clean (pg_controldata 'shut down' / 'shut down in recovery'). */
  shutdownClean: boolean;
  /** The files keel wrote: postgresql.conf parameters and recovery settings (standby.signal when non-null). */
  conf: { params: Record<string, string>; recovery: RecoverySettings | null } | null;
  /** What the running server uses (loaded at start and on reload). */
  applied: { ssn: string; followHost: string | null };
  /** The replication password in the pgpass file keel wrote. */
  pgpassReplicationPassword: string | null;
  slots: string[];
  usersCreated: boolean;
  /** Bumped by every start and stop: a pending start completion of an older epoch is void. */
  epoch: number;
  /** How many times PostgreSQL was started (liveness: no start/stop loops). */
  starts: number;
  startsAtMs: number[];
  replayPausedUntilMs: number;
  /** Probability per replication tick that this replica catches up fully. */
  catchUpChance: number;
  /** The WAL receiver's last error, as the server log would show it. */
  receiverError: string | null;
  /** Since when the WAL receiver streams (null: it does not). */
  streamingSince: number | null;
  /** Since when the server accepts connections (null: not up). */
  upSinceMs: number | null;
  /** When its agent last asked it to promote. */
  promoteRequestedAtMs: number | null;
  /** The keel.timeline-origin file: copied by clones and rewinds from their source. */
  timelineOrigin: { timeline: number; member: string } | null;
}

export interface SimProcess {
  node: SimNode;
  incarnation: number;
  paused: boolean;
  pending: Array<() => void>;
}

export interface SimNode {
  name: string;
  /** The tags section of its patroni.yml. */
  tags: Record<string, unknown>;
  canBootstrap: boolean;
  watchdogAvailable: boolean;
  pg: SimPg;
  /** The running agent process (null while dead), and the production Agent inside it. */
  proc: SimProcess | null;
  agent: Agent | null;
  incarnations: number;
  /** Kernel watchdog: the instant it resets the node unless pinged, or null when disabled. */
  watchdogDeadlineMs: number | null;
  /** keel-fence: the instant (world time) it stops PostgreSQL unless fed again, or null when stood down. */
  processFenceDeadlineMs: number | null;
  /** slow: each DCS hop takes 1/4..3/4 of retry_timeout (many calls time out, some succeed late). */
  dcsLink: 'ok' | 'cut' | 'responses-lost' | 'slow';
  /** The agent's monotonic clock runs at this rate against etcd's (clock-rate skew). */
  clockRate: number;
  removeOnRewindFailure: boolean;
  removeOnDiverged: boolean;
  /** Its patroni.yml has a wrong replication password (credentials fault). */
  wrongReplicationPassword: boolean;
  /** Writes of postgresql.conf take this long (a slow disk), and fail when `configWriteFails`. */
  configWriteDelayMs: [number, number];
  configWriteFails: boolean;
  /** The last why sentence kind its agent logged, and since when it has been the same. */
  lastWhyKind: string | null;
  lastWhySinceMs: number;
  /** Whether its agent's last probe said "in recovery" when it last decided to fence (invariant h). */
  fenceDecidedOnKnownReplica: boolean;
}

export type Mutant =
  'none' | 'no-guard' | 'no-fence' | 'stale-gate' | 'fence-known-replica' | 'no-watchdog' | 'no-process-fence' | 'ignore-lag' | 'ignore-sync-key';

/** Schedule families: what kinds of faults a seed may draw. */
export type Family =
  /** Every fault a watchdog-less production node can survive, plus freezes of watchdog-guarded agents. */
  | 'standard'
  /** Agents frozen past ttl, or killed, on nodes WITHOUT a watchdog: keel-fence alone must keep them safe (issue 10). */
  | 'frozen-unguarded'
  /** The standard faults with synchronous_mode on or quorum (strict or not): no acknowledged commit may be lost (i). */
  | 'sync'
  /** The standard faults, asynchronous, with the commit-loss check (i) on: it must bite. */
  | 'async-checked'
  /**
   * Synchronous modes on three nodes, no random faults: once calm, a standby's PostgreSQL
   * crashes (the synchronous standbys change) and the leader dies for good at a random moment
   * around it. The survivors hold every acknowledged commit, so one of them must lead (liveness,
   * invariant c) — unless the last key written lists no standby at all.
   */
  | 'sync-leader-loss';

export interface FaultRates {
  /** Expected faults per simulated minute, per kind. */
  pgCrash: number;
  nodeKill: number;
  agentCrash: number;
  longPause: number;
  shortPause: number;
  dcsCut: number;
  dcsOneWay: number;
  dcsSlow: number;
  netCut: number;
  replayPause: number;
  dcsDown: number;
  etcdLeaderChange: number;
  slowConfigWrite: number;
  /** An operator pauses the cluster (config `pause: true`) and resumes it later. */
  maintenance: number;
}

export interface SimParams {
  seed: number;
  family: Family;
  nodeCount: number;
  ttlS: number;
  loopWaitS: number;
  retryTimeoutS: number;
  maximumLagOnFailoverBytes: number;
  primaryStartTimeoutS: number;
  checkTimeline: boolean;
  usePgRewind: boolean;
  failsafeMode: boolean;
  watchdogMode: WatchdogMode;
  safetyMarginS: number;
  /** Data checksums at initdb (pg_rewind works through them). */
  checksums: boolean;
  /** pg_rewind's grants were never given to the rewind user (credentials fault). */
  rewindGrantsMissing: boolean;
  /** Faults happen in [faultStartMs, faultEndMs); everything is healed at faultEndMs. */
  faultStartMs: number;
  faultEndMs: number;
  rates: FaultRates;
  writeIntervalMs: [number, number];
  writeBytes: [number, number];
  dcsLatencyMs: [number, number];
  /** During the fault phase only: a slow DCS. */
  slowDcsLatencyMs: [number, number] | null;
  /** Largest clock-rate skew of an agent against etcd (e.g. 0.002 = 0.2 %). */
  clockSkew: number;
  mutant: Mutant;
  synchronousMode: SynchronousMode;
  synchronousModeStrict: boolean;
  synchronousNodeCount: number;
  /** Invariant (i): every acknowledged commit is in the WAL of every node promoted later. */
  checkCommitLoss: boolean;
}

function pickRate(rng: Prng, high: number): number {
  const r = rng.float();
  return r < 0.4 ? 0 : r < 0.75 ? high / 4 : high;
}

/** Timings in whole seconds, as patroni.yml spells them, within loop_wait + 2 * retry_timeout <= ttl. */
function drawTimings(rng: Prng): { ttlS: number; loopWaitS: number; retryTimeoutS: number } {
  const ttlS = rng.pick([7, 10, 10, 15, 20, 30]);
  const retryTimeoutS = rng.int(3, Math.floor((ttlS - 1) / 2));
  const loopWaitS = rng.int(1, ttlS - 2 * retryTimeoutS);
  return { ttlS, loopWaitS, retryTimeoutS };
}

export function drawParams(seed: number, mutant: Mutant = 'none', family: Family = 'standard'): SimParams {
  const rng = new Prng(seed ^ 0x5eed);
  const nodeCount = rng.pick([2, 3, 3, 3, 3, 4, 5]);
  const timings = drawTimings(rng);
  const watchdogMode = family === 'frozen-unguarded' ? 'off' : rng.pick<WatchdogMode>(['off', 'automatic', 'automatic', 'required']);
  const withWatchdog = watchdogMode !== 'off';
  const faultStartMs = 30_000;
  const faultEndMs = faultStartMs + rng.int(30_000, 90_000);
  const rates: FaultRates = {
    pgCrash: pickRate(rng, 2),
    nodeKill: pickRate(rng, 1.5),
    agentCrash: withWatchdog ? pickRate(rng, 1.5) : 0,
    longPause: family === 'frozen-unguarded' ? Math.max(1, pickRate(rng, 1.5)) : withWatchdog ? pickRate(rng, 1.5) : 0,
    shortPause: pickRate(rng, 3),
    dcsCut: pickRate(rng, 2),
    dcsOneWay: pickRate(rng, 1.5),
    dcsSlow: pickRate(rng, 2),
    netCut: pickRate(rng, 2),
    replayPause: pickRate(rng, 2),
    dcsDown: pickRate(rng, 0.5),
    etcdLeaderChange: pickRate(rng, 1),
    slowConfigWrite: pickRate(rng, 1),
    maintenance: pickRate(rng, 0.5),
  };
  const slowDcs = rng.chance(0.2);
  const params: SimParams = {
    seed,
    family,
    nodeCount,
    ...timings,
    maximumLagOnFailoverBytes: rng.pick([256 * 1024, 1 << 20, 16 << 20]),
    primaryStartTimeoutS: rng.pick([0, 2, 30, 300]),
    checkTimeline: rng.chance(0.5),
    usePgRewind: rng.chance(0.7),
    failsafeMode: rng.chance(0.3),
    watchdogMode,
    safetyMarginS: rng.int(1, Math.max(1, Math.floor(timings.ttlS / 4))),
    checksums: rng.chance(0.8),
    rewindGrantsMissing: rng.chance(0.1),
    faultStartMs,
    faultEndMs,
    rates,
    writeIntervalMs: [50, rng.pick([200, 500, 1000])],
    writeBytes: [8192, rng.pick([16384, 65536, 262144])],
    dcsLatencyMs: [1, 30],
    slowDcsLatencyMs: slowDcs ? [1, Math.max(30, Math.floor((timings.retryTimeoutS * 1000) / 4))] : null,
    clockSkew: rng.pick([0, 0.0005, 0.002]),
    mutant,
    // Drawn last, and only for the synchronous families, so the standard schedules stay as they were.
    ...drawSync(rng, family),
  };
  if (family === 'sync-leader-loss') {
    // Its one fault comes after the calm check (simulate.ts, leaderLossPhase).
    params.nodeCount = 3;
    params.faultEndMs = faultStartMs + 5000;
    for (const kind of Object.keys(rates) as (keyof FaultRates)[]) rates[kind] = 0;
    params.slowDcsLatencyMs = null;
  }
  return params;
}

function drawSync(rng: Prng, family: Family): Pick<SimParams, 'synchronousMode' | 'synchronousModeStrict' | 'synchronousNodeCount' | 'checkCommitLoss'> {
  if (family !== 'sync' && family !== 'sync-leader-loss')
    return { synchronousMode: 'off', synchronousModeStrict: false, synchronousNodeCount: 1, checkCommitLoss: family === 'async-checked' };
  return {
    synchronousMode: rng.pick<SynchronousMode>(['on', 'on', 'quorum']),
    synchronousModeStrict: rng.chance(0.4),
    synchronousNodeCount: rng.pick([1, 1, 2]),
    checkCommitLoss: true,
  };
}

export function describeParams(p: SimParams): string {
  const rates = Object.entries(p.rates)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return (
    `seed=${p.seed} family=${p.family} nodes=${p.nodeCount} ttl=${p.ttlS} loop_wait=${p.loopWaitS} retry_timeout=${p.retryTimeoutS} ` +
    `max_lag=${p.maximumLagOnFailoverBytes} primary_start_timeout=${p.primaryStartTimeoutS} check_timeline=${p.checkTimeline} ` +
    `use_pg_rewind=${p.usePgRewind} failsafe=${p.failsafeMode} checksums=${p.checksums} rewind_grants_missing=${p.rewindGrantsMissing} ` +
    `watchdog=${p.watchdogMode}/${p.safetyMarginS}s clock_skew=${p.clockSkew} faults=[${p.faultStartMs},${p.faultEndMs}) ` +
    `rates/min={${rates}} slow_dcs=${p.slowDcsLatencyMs?.join('..') ?? 'no'} mutant=${p.mutant}` +
    (p.synchronousMode === 'off' ? '' : ` synchronous_mode=${p.synchronousMode} strict=${p.synchronousModeStrict} node_count=${p.synchronousNodeCount}`)
  );
}
