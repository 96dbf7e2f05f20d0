/**
 * The simulated world's data: parameters drawn from a seed (swarm testing: the seed also picks the
 * fault rates), the fake PostgreSQL of each node (an LSN, a role, a timeline lineage, a fence flag and
 * a count of acknowledged commits) and the agent's executor state.
 */
import type { DynamicConfig, Tags, WatchdogMode } from '../../src/config/types.js';
import type { LeaseGuard, RunningTask, TaskResult } from '../../src/ha/types.js';
import { Prng } from './prng.js';

/** One timeline of a data directory's history; `uid` tells apart equal timeline numbers from different primaries. */
export interface Segment {
  tl: number;
  fromLsn: number;
  uid: number;
}

export interface PgState {
  dataDir: 'empty' | 'initialized';
  sysid: string | null;
  running: boolean;
  role: 'primary' | 'replica';
  lineage: Segment[];
  lsn: number;
  fenced: boolean;
  followTarget: string | null;
  crashedSinceMs: number | null;
  rewindCapable: boolean;
  replayPausedUntilMs: number;
  /** Probability per replication tick that this replica catches up fully. */
  catchUpChance: number;
}

export interface AgentState {
  incarnation: number;
  leaseId: string | null;
  lastConfirmedSentMs: number | null;
  lastAttemptFailed: boolean;
  dcsFailSinceMs: number | null;
  guard: LeaseGuard | null;
  task: RunningTask | null;
  lastResult: TaskResult | null;
  watchdogArmed: boolean;
  lastWhy: string;
}

export interface SimNode {
  name: string;
  tags: Tags;
  canBootstrap: boolean;
  watchdogAvailable: boolean;
  pg: PgState;
  agent: AgentState | null;
  incarnation: number;
  paused: boolean;
  pending: Array<() => void>;
  /** Kernel watchdog: the instant it resets the node unless pinged, or null when disabled. */
  watchdogDeadlineMs: number | null;
  /** slow: each DCS hop takes 1/4..3/4 of retry_timeout (many calls time out, some succeed late). */
  dcsLink: 'ok' | 'cut' | 'responses-lost' | 'slow';
  removeOnRewindFailure: boolean;
  removeOnDiverged: boolean;
}

export type Mutant = 'none' | 'no-fence' | 'no-watchdog' | 'ignore-lag' | 'no-guard' | 'stale-gate';

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
}

export interface SimParams {
  seed: number;
  nodeCount: number;
  config: DynamicConfig;
  watchdogMode: WatchdogMode;
  safetyMarginMs: number;
  /** Faults happen in [faultStartMs, faultEndMs); everything is healed at faultEndMs. */
  faultStartMs: number;
  faultEndMs: number;
  rates: FaultRates;
  writeIntervalMs: [number, number];
  writeBytes: [number, number];
  dcsLatencyMs: [number, number];
  /** During the fault phase only: a slow DCS. */
  slowDcsLatencyMs: [number, number] | null;
  mutant: Mutant;
}

function pickRate(rng: Prng, high: number): number {
  const r = rng.float();
  return r < 0.4 ? 0 : r < 0.75 ? high / 4 : high;
}

export function drawParams(seed: number, mutant: Mutant = 'none'): SimParams {
  const rng = new Prng(seed ^ 0x5eed);
  const nodeCount = rng.pick([2, 3, 3, 3, 3, 4, 5]);
  const ttlMs = rng.pick([5000, 10000, 20000, 30000]);
  const loopWaitMs = rng.int(500, Math.floor(ttlMs / 3));
  // 30%: exactly at Patroni's limit loop_wait + 2*retry_timeout = ttl (what the config parser adjusts to).
  const retryMaxMs = Math.floor((ttlMs - loopWaitMs) / 2);
  const retryTimeoutMs = rng.chance(0.3) ? retryMaxMs : rng.int(Math.min(500, retryMaxMs), retryMaxMs);
  const watchdogMode = rng.pick<WatchdogMode>(['off', 'automatic', 'automatic', 'required']);
  const withWatchdog = watchdogMode !== 'off';
  const config: DynamicConfig = {
    ttlMs,
    loopWaitMs,
    retryTimeoutMs,
    maximumLagOnFailoverBytes: rng.pick([256 * 1024, 1 << 20, 16 << 20]),
    maximumLagOnSyncnodeBytes: -1,
    primaryStartTimeoutMs: rng.pick([0, 2000, 30000, 300000]),
    primaryStopTimeoutMs: 300000,
    checkTimeline: rng.chance(0.5),
    synchronousMode: false,
    synchronousModeStrict: false,
    synchronousNodeCount: 1,
    failsafeMode: false,
    pause: false,
    maxTimelinesHistory: 0,
    usePgRewind: rng.chance(0.7),
    useSlots: true,
    parameters: {},
    raw: {},
  };
  const faultStartMs = 30000;
  const faultEndMs = faultStartMs + rng.int(30000, 120000);
  const rates: FaultRates = {
    pgCrash: pickRate(rng, 2),
    nodeKill: pickRate(rng, 1.5),
    agentCrash: withWatchdog ? pickRate(rng, 1.5) : 0,
    longPause: withWatchdog ? pickRate(rng, 1.5) : 0,
    shortPause: pickRate(rng, 3),
    dcsCut: pickRate(rng, 2),
    dcsOneWay: pickRate(rng, 1.5),
    dcsSlow: pickRate(rng, 2),
    netCut: pickRate(rng, 2),
    replayPause: pickRate(rng, 2),
    dcsDown: pickRate(rng, 0.5),
  };
  const slowDcs = rng.chance(0.2);
  return {
    seed,
    nodeCount,
    config,
    watchdogMode,
    safetyMarginMs: rng.int(200, Math.min(5000, Math.floor(ttlMs / 4))),
    faultStartMs,
    faultEndMs,
    rates,
    writeIntervalMs: [50, rng.pick([200, 500, 1000])],
    writeBytes: [8192, rng.pick([16384, 65536, 262144])],
    dcsLatencyMs: [1, 30],
    slowDcsLatencyMs: slowDcs ? [1, Math.max(30, Math.floor(retryTimeoutMs / 4))] : null,
    mutant,
  };
}

export function describeParams(p: SimParams): string {
  const c = p.config;
  const rates = Object.entries(p.rates).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`).join(',');
  return `seed=${p.seed} nodes=${p.nodeCount} ttl=${c.ttlMs} loop_wait=${c.loopWaitMs} retry_timeout=${c.retryTimeoutMs} ` +
    `max_lag=${c.maximumLagOnFailoverBytes} primary_start_timeout=${c.primaryStartTimeoutMs} check_timeline=${c.checkTimeline} ` +
    `use_pg_rewind=${c.usePgRewind} watchdog=${p.watchdogMode}/${p.safetyMarginMs} faults=[${p.faultStartMs},${p.faultEndMs}) ` +
    `rates/min={${rates}} slow_dcs=${p.slowDcsLatencyMs?.join('..') ?? 'no'} mutant=${p.mutant}`;
}
