/**
 * The chaos scenarios of issue 10 on the chaos lab (chaos-lab.ts), each bounded in time and run
 * under the write-loss checker: a writer pinned to every node (the one on the leader is "the pinned
 * writer"; those on replicas see the first acknowledgement of any new primary) and a multi-host
 * writer. Each run records when the old leader last acknowledged, when another node first did,
 * how long two nodes acknowledged at once, the acknowledged writes lost (read back on the final
 * leader after the heal and the rejoin), the longest write gap, and how and when the faulted node
 * rejoined. Used by test/integration/hosts/chaos.test.ts (short) and bench/chaos.ts (soak).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../src/sandbox/etcd-cluster.js';
import { ackTimes, classifyRejoin, overlapMs, type RejoinMethod } from './chaos-measure.js';
import {
  CHAOS_TIMINGS,
  PG_PORT,
  fileSize,
  healthCheck,
  readFrom,
  setFailsafe,
  signalAgent,
  waitHealthy,
  type ChaosLab,
  type ChaosMode,
  type ChaosNode,
  type ChaosSystem,
  type HealthState,
} from './chaos-lab.js';
import { WriteLossRun, formatReport, monoMs, type WriteTarget } from './write-loss.js';

export const SCENARIOS = [
  /** the leader's cluster leg down (clients still reach it), then up */
  'leader-isolated',
  /** the leader's agent SIGSTOPped while PostgreSQL runs, then SIGCONT */
  'agent-frozen',
  /** one replica's cluster leg down (in synchronous mode the synchronous standby), then up */
  'replica-isolated',
  /** every etcd member SIGKILLed, restarted after the outage; failsafe_mode off */
  'etcd-down',
  /** the same with failsafe_mode on */
  'etcd-down-failsafe',
  /** nftables in the leader's host drops only its agent's TCP to etcd, then the rule is removed */
  'agent-etcd-cut',
  /** kill -9 of the leader's agent and postmaster, the agent restarted once another node writes; repeated */
  'leader-kill9',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ChaosDurations {
  /** Isolation, freeze and etcd-cut length. */
  faultMs: number;
  /** How long every etcd member stays down. */
  etcdOutageMs: number;
  /** kill -9 rounds in leader-kill9. */
  kills: number;
  /** Bound on the faulted node's rejoin after the heal. */
  rejoinTimeoutMs: number;
  /** Bound on the cluster's return to health (one leader, the others streaming). */
  healthyTimeoutMs: number;
}

/** `npm test`: one short round (a fault of 15 s is longer than ttl 10). */
export const CI_DURATIONS: ChaosDurations = { faultMs: 15_000, etcdOutageMs: 15_000, kills: 2, rejoinTimeoutMs: 90_000, healthyTimeoutMs: 120_000 };
/** bench/chaos: the issue's durations (a node not back within 2 min counts as not rejoined; Patroni once never was). */
export const SOAK_DURATIONS: ChaosDurations = { faultMs: 40_000, etcdOutageMs: 30_000, kills: 3, rejoinTimeoutMs: 120_000, healthyTimeoutMs: 180_000 };

/** Writers' period, and the gap that ends a node's tenure (well above the period, well below a failover). */
const WRITE_PERIOD_MS = 20;
const TENURE_GAP_MS = 1000;
const STEADY_MS = 2000;
const POLL_MS = 200;
const REJOIN_POLL_MS = 100;

export interface Rejoin {
  node: string;
  method: RejoinMethod;
  /** From the heal (link up, SIGCONT, etcd back, rule removed, agent restarted) to streaming; null for stayed-leader / not-rejoined. */
  afterHealMs: number | null;
}

/** One fault within a run (leader-kill9 has several). */
export interface FaultRecord {
  oldLeader: string;
  faultedNode: string;
  /** How long the fault lasted (fault to heal). */
  faultForMs: number;
  /** ms after the fault: the old leader's last acknowledgement in the tenure it held, another node's first. */
  oldLeaderLastAckMs: number | null;
  otherFirstAckMs: number | null;
  rejoin: Rejoin;
}

export interface ChaosRun {
  system: ChaosSystem;
  mode: ChaosMode;
  scenario: ScenarioName;
  startedAt: string;
  oldLeader: string;
  finalLeader: string | null;
  leaderChanged: boolean;
  faults: FaultRecord[];
  /** Total time two nodes acknowledged at once (union of overlapping tenures). */
  overlapMs: number;
  overlappingTenures: number;
  acknowledged: number;
  lost: number;
  lostByWriter: Record<string, number>;
  longestGapMs: number | null;
  /** The run ended with one leader and the others streaming (else why not). */
  healthy: boolean;
  unhealthy: string | null;
  /** The write-loss report, human-readable (for failure messages). */
  report: string;
}

interface Fault {
  node: ChaosNode;
  inject(): Promise<void>;
  heal(): Promise<void>;
  lengthMs: number;
}

/** The faulted node and its fault, for the single-fault scenarios. */
function faultFor(chaos: ChaosLab, scenario: Exclude<ScenarioName, 'leader-kill9'>, state: HealthState, d: ChaosDurations): Fault {
  const leader = chaos.node(state.leader);
  switch (scenario) {
    case 'leader-isolated':
      return {
        node: leader,
        lengthMs: d.faultMs,
        inject: () => chaos.lab.setLink(leader.host, 'cluster', false),
        heal: () => chaos.lab.setLink(leader.host, 'cluster', true),
      };
    case 'agent-frozen':
      return { node: leader, lengthMs: d.faultMs, inject: async () => signalAgent(leader, 'SIGSTOP'), heal: async () => signalAgent(leader, 'SIGCONT') };
    case 'replica-isolated': {
      // In synchronous mode the synchronous standby: the replica whose loss blocks commits.
      const name = state.syncStandbys[0] ?? chaos.nodes.find((n) => n.name !== state.leader)?.name;
      const replica = chaos.node(name ?? '');
      return {
        node: replica,
        lengthMs: d.faultMs,
        inject: () => chaos.lab.setLink(replica.host, 'cluster', false),
        heal: () => chaos.lab.setLink(replica.host, 'cluster', true),
      };
    }
    case 'etcd-down':
    case 'etcd-down-failsafe':
      return {
        node: leader,
        lengthMs: d.etcdOutageMs,
        inject: async () => {
          for (const pid of chaos.etcd.pids) if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
        },
        // Together: a lone member cannot become healthy without a quorum.
        heal: async () => {
          await Promise.all(chaos.nodes.map((_, i) => chaos.etcd.startMember(i)));
        },
      };
    case 'agent-etcd-cut':
      return { node: leader, lengthMs: d.faultMs, inject: () => chaos.cutAgentFromEtcd(leader, true), heal: () => chaos.cutAgentFromEtcd(leader, false) };
  }
}

/**
 * Polls until `node` is back: the healthy leader itself, or a replica to which WAL written on the
 * leader AFTER the heal has arrived. pg_stat_replication alone would lie here: a connection cut
 * by a pulled cable still shows 'streaming' on both ends until a timeout (wal_sender_timeout,
 * 60 s), and TCP may resume it seconds after the heal. So each poll samples the leader's current
 * LSN and the next poll asks whether the node has received it (resolution: one poll, 100 ms).
 */
async function measureRejoin(
  chaos: ChaosLab,
  mode: ChaosMode,
  node: ChaosNode,
  healAtMs: number,
  logOffset: number,
  postmasterBefore: number | null,
  timeoutMs: number,
): Promise<Rejoin> {
  const deadline = healAtMs + timeoutMs;
  let sample = null as { leader: string; lsn: string } | null;
  while (monoMs() < deadline) {
    try {
      const leader = (await chaos.view()).leader?.name;
      if (leader === node.name) {
        sample = null;
        const state = await healthCheck(chaos, mode);
        if (typeof state !== 'string' && state.leader === node.name) return { node: node.name, method: 'stayed-leader', afterHealMs: null };
      } else if (leader !== undefined) {
        if (sample?.leader === leader && (await receivedUpTo(chaos, node, sample.lsn))) {
          const afterHealMs = monoMs() - healAtMs;
          const log = await readFrom(node.logFile, logOffset);
          const postmasterNow = await chaos.postmasterPid(node);
          return { node: node.name, method: classifyRejoin(log, postmasterNow !== postmasterBefore), afterHealMs };
        }
        const rows = await chaos.sql<{ lsn: string }>(chaos.node(leader), 'SELECT pg_current_wal_lsn()::text AS lsn');
        sample = rows[0] === undefined ? null : { leader, lsn: rows[0].lsn };
      }
    } catch {
      // etcd or PostgreSQL not answering yet: ask again
    }
    await sleep(REJOIN_POLL_MS);
  }
  return { node: node.name, method: 'not-rejoined', afterHealMs: null };
}

/** Whether a replica's WAL receiver has received WAL up to `lsn` (false when it receives nothing). */
async function receivedUpTo(chaos: ChaosLab, node: ChaosNode, lsn: string): Promise<boolean> {
  const [row] = await chaos.sql<{ ok: boolean | null }>(node, 'SELECT pg_is_in_recovery() AND pg_last_wal_receive_lsn() >= $1::pg_lsn AS ok', [lsn]);
  return row?.ok === true;
}

function writeTargets(chaos: ChaosLab): WriteTarget[] {
  return chaos.nodes.map((n) => ({ name: n.name, host: n.host.clientAddress, port: PG_PORT }));
}

let tableCounter = 0;

/** Starts the writers on a fresh table and returns once the leader acknowledges steadily. */
async function startWriters(chaos: ChaosLab, leader: string, scenario: ScenarioName): Promise<WriteLossRun> {
  const run = new WriteLossRun({
    password: chaos.superuserPassword,
    table: `chaos_${scenario.replaceAll('-', '_')}_${++tableCounter}`,
    statementTimeoutMs: 1500,
    connectTimeoutMs: 1000,
  });
  const targets = writeTargets(chaos);
  await run.prepare(targets.find((t) => t.name === leader)!);
  run.addPinned(targets).addMultiHost(targets);
  run.start(WRITE_PERIOD_MS);
  const deadline = monoMs() + 30_000;
  while (!(run.acks.some((a) => a.node === leader && a.writer === 'multi') && run.acks.some((a) => a.node === leader && a.writer === `pinned:${leader}`))) {
    if (monoMs() > deadline) {
      await run.stop();
      throw new Error(`the writers got no acknowledgement from ${leader} within 30 s`);
    }
    await sleep(100);
  }
  await sleep(STEADY_MS);
  return run;
}

/** Runs one scenario once and measures it; the cluster is expected healthy in `mode` before. */
export async function runScenario(
  chaos: ChaosLab,
  scenario: ScenarioName,
  mode: ChaosMode,
  d: ChaosDurations,
  log: (line: string) => void = () => undefined,
): Promise<ChaosRun> {
  const startedAt = new Date().toISOString();
  const say = (line: string) => log(`[${chaos.system}/${mode}/${scenario}] ${line}`);
  let state = await waitHealthy(chaos, mode, d.healthyTimeoutMs);
  if (scenario === 'etcd-down' || scenario === 'etcd-down-failsafe') {
    await setFailsafe(chaos, scenario === 'etcd-down-failsafe', d.healthyTimeoutMs);
    // Every agent has read the setting (it is read each loop_wait) before etcd goes.
    await sleep(2 * CHAOS_TIMINGS.loopWaitS * 1000 + 1000);
    state = await waitHealthy(chaos, mode, d.healthyTimeoutMs);
  }
  const oldLeader = state.leader;
  const run = await startWriters(chaos, oldLeader, scenario);
  const faults: FaultRecord[] = [];
  const pending: Array<{ faultAtMs: number; oldLeader: string; record: Omit<FaultRecord, 'oldLeaderLastAckMs' | 'otherFirstAckMs'> }> = [];
  try {
    if (scenario === 'leader-kill9') {
      for (let k = 0; k < d.kills; k++) {
        const current = k === 0 ? state : await waitHealthy(chaos, mode, d.healthyTimeoutMs);
        const victim = chaos.node(current.leader);
        const logOffset = await fileSize(victim.logFile);
        const faultAtMs = monoMs();
        await chaos.killNode(victim);
        say(`kill -9 #${k + 1} of ${victim.name}`);
        const until = faultAtMs + d.rejoinTimeoutMs;
        while (monoMs() < until && !run.acks.some((a) => a.atMs > faultAtMs && a.node !== victim.name)) await sleep(POLL_MS);
        await chaos.startAgent(victim);
        const healAtMs = monoMs();
        const rejoin = await measureRejoin(chaos, mode, victim, healAtMs, logOffset, null, d.rejoinTimeoutMs);
        say(`${victim.name} rejoined: ${rejoin.method} ${rejoin.afterHealMs?.toFixed(0) ?? '-'} ms after its restart`);
        pending.push({
          faultAtMs,
          oldLeader: victim.name,
          record: { oldLeader: victim.name, faultedNode: victim.name, faultForMs: healAtMs - faultAtMs, rejoin },
        });
      }
    } else {
      const fault = faultFor(chaos, scenario, state, d);
      const logOffset = await fileSize(fault.node.logFile);
      const postmasterBefore = await chaos.postmasterPid(fault.node);
      const faultAtMs = monoMs();
      let healAtMs = faultAtMs;
      try {
        await fault.inject();
        say(`fault on ${fault.node.name} for ${fault.lengthMs} ms`);
        await sleep(Math.max(0, fault.lengthMs - (monoMs() - faultAtMs)));
      } finally {
        await fault.heal();
        healAtMs = monoMs();
      }
      const rejoin = await measureRejoin(chaos, mode, fault.node, healAtMs, logOffset, postmasterBefore, d.rejoinTimeoutMs);
      say(`healed; ${fault.node.name} rejoined: ${rejoin.method} ${rejoin.afterHealMs?.toFixed(0) ?? '-'} ms after the heal`);
      pending.push({ faultAtMs, oldLeader, record: { oldLeader, faultedNode: fault.node.name, faultForMs: healAtMs - faultAtMs, rejoin } });
    }
  } catch (error) {
    await run.stop();
    // A kill -9 round cut short leaves its victim's agent dead: the next scenario needs it.
    for (const n of chaos.nodes) if (n.agentPid === 0) await chaos.startAgent(n).catch(() => undefined);
    throw error;
  }
  let healthy = true;
  let unhealthy: string | null = null;
  try {
    await waitHealthy(chaos, mode, d.healthyTimeoutMs);
  } catch (error) {
    healthy = false;
    unhealthy = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  }
  await sleep(1000); // the final leader acknowledges for a while: the end of the last gap is seen
  await run.stop();
  const report = await run.verify(
    async () => {
      const leader = (await chaos.view()).leader?.name;
      if (leader === undefined) throw new Error('no leader');
      return { host: chaos.node(leader).host.clientAddress, port: PG_PORT };
    },
    { tenureGapMs: TENURE_GAP_MS, windowThresholdMs: 1000 },
    d.healthyTimeoutMs,
  );
  for (const p of pending) faults.push({ ...p.record, ...ackTimes(run.acks, report.tenures, p.oldLeader, p.faultAtMs, TENURE_GAP_MS) });
  const finalLeader = (await chaos.view().catch(() => null))?.leader?.name ?? null;
  if (scenario === 'etcd-down-failsafe')
    await setFailsafe(chaos, false, d.healthyTimeoutMs).catch((error: unknown) => say(`failsafe_mode off failed: ${String(error)}`));
  const lostByWriter: Record<string, number> = {};
  for (const l of report.lost) lostByWriter[l.writer] = (lostByWriter[l.writer] ?? 0) + 1;
  const result: ChaosRun = {
    system: chaos.system,
    mode,
    scenario,
    startedAt,
    oldLeader,
    finalLeader,
    leaderChanged: finalLeader !== oldLeader || faults.some((f) => f.otherFirstAckMs !== null),
    faults,
    overlapMs: overlapMs(report.tenures),
    overlappingTenures: report.overlappingPrimaries.length,
    acknowledged: report.acknowledged,
    lost: report.lost.length,
    lostByWriter,
    longestGapMs: report.longestGap?.lengthMs ?? null,
    healthy,
    unhealthy,
    report: formatReport(report),
  };
  say(summarize(result));
  return result;
}

/** One line per run: the numbers the issue asks for. */
export function summarize(r: ChaosRun): string {
  const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)}`);
  const first = r.faults[0];
  return [
    `old leader ${r.oldLeader} last ack ${ms(first?.oldLeaderLastAckMs ?? null)} ms, other first ack ${ms(first?.otherFirstAckMs ?? null)} ms`,
    `overlap ${r.overlapMs.toFixed(0)} ms (${r.overlappingTenures} pairs)`,
    `lost ${r.lost}/${r.acknowledged}`,
    `longest gap ${ms(r.longestGapMs)} ms`,
    `rejoin ${r.faults.map((f) => `${f.rejoin.node}:${f.rejoin.method}@${ms(f.rejoin.afterHealMs)}ms`).join(',')}`,
    `final leader ${r.finalLeader ?? '-'}${r.healthy ? '' : ` UNHEALTHY: ${r.unhealthy ?? ''}`}`,
  ].join('; ');
}
