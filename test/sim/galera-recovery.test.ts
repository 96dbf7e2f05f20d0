/**
 * A simulator for Galera recovery after a total outage: N agents run the pure planner on views of
 * etcd that may be stale by several steps, take the bootstrap lock as the real agent does (a
 * create-only key whose transaction also fails when a member is in a Primary component), crash
 * while bootstrapping, never report, or get an operator's override (honest or careless).
 * The seed picks every parameter, including the fault rates (calm runs and storms); a failure
 * prints the seed and the parameters, and `KEEL_GALERA_SIM_SEED=<seed>` replays one.
 *
 * Checkers (never in the planner):
 *  - never two bootstraps alive at once (two Primary components = a split cluster);
 *  - never a bootstrap from the all-zero UUID, another history, or an unknown seqno;
 *  - never a bootstrap behind a peer that had reported; without an override, never behind any
 *    node at all (no acknowledged transaction lost);
 *  - liveness: when every node reports and nothing crashes any more, a Primary component forms
 *    within a bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';
import { type ReportedPosition, planRecovery } from '../../src/galera/core/recovery-plan.js';
import { ZERO_UUID } from '../../src/galera/core/position.js';

const U = '066d30c3-ee0c-11f1-9bd3-36e714e8bf10';
const OTHER = '7a1f0000-ee0c-11f1-9bd3-36e714e8bf10';
const STEP_MS = 1_000;
const REPORT_TIMEOUT_MS = 20_000;
const MAX_STEPS = 400;
const LIVENESS_BOUND_STEPS = 120;

interface EtcdState {
  positions: Record<string, ReportedPosition>;
  primary: string[];
  lock: string | null;
  override: string | null;
}

type NodeState = 'down' | 'bootstrapping' | 'primary' | 'joining';

interface SimNode {
  name: string;
  truth: ReportedPosition;
  state: NodeState;
  /** Never reports (its agent is gone for good) unless the storm ends. */
  silent: boolean;
  reportAtStep: number;
  doneAtStep: number;
  crashesDuringBootstrap: boolean;
  firstSawReportStep: number | null;
}

function shuffled<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function clone(state: EtcdState): EtcdState {
  return { positions: { ...state.positions }, primary: [...state.primary], lock: state.lock, override: state.override };
}

function simulate(seed: number): { ok: true } | { ok: false; message: string; params: string } {
  const prng = new Prng(seed);
  const size = prng.int(1, 5);
  const silentRate = prng.chance(0.5) ? 0 : prng.float() * 0.6;
  const crashRate = prng.chance(0.5) ? 0 : prng.float() * 0.5;
  const staleMax = prng.int(0, 6);
  const operator = prng.chance(0.3) ? 'none' : prng.chance(0.5) ? 'honest' : 'careless';
  const stormEndsAt = prng.chance(0.5) ? prng.int(30, 150) : MAX_STEPS;
  const names = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
  const nodes: SimNode[] = names.map((name) => {
    const kind = prng.int(0, 9);
    const truth: ReportedPosition =
      kind === 0
        ? { uuid: ZERO_UUID, seqno: -1, safeToBootstrap: false }
        : kind === 1
          ? { uuid: OTHER, seqno: prng.int(0, 500), safeToBootstrap: false }
          : kind === 2
            ? { uuid: U, seqno: -1, safeToBootstrap: false }
            : { uuid: U, seqno: prng.int(0, 30), safeToBootstrap: false };
    return {
      name,
      truth,
      state: 'down',
      silent: prng.chance(silentRate),
      reportAtStep: prng.int(0, 15),
      doneAtStep: 0,
      crashesDuringBootstrap: false,
      firstSawReportStep: null,
    };
  });
  // a clean last shutdown leaves safe_to_bootstrap=1 on the most advanced node, sometimes
  const known = nodes.filter((n) => n.truth.uuid === U && n.truth.seqno >= 0);
  const top = known.sort((x, y) => y.truth.seqno - x.truth.seqno)[0];
  if (top !== undefined && prng.chance(0.3)) top.truth = { ...top.truth, safeToBootstrap: true };
  const params = `seed=${seed} size=${size} silentRate=${silentRate.toFixed(2)} crashRate=${crashRate.toFixed(2)} staleMax=${staleMax} operator=${operator} stormEndsAt=${stormEndsAt} truth=${nodes.map((n) => `${n.name}:${n.truth.uuid === U ? 'U' : n.truth.uuid === ZERO_UUID ? '0' : 'X'}:${n.truth.seqno}${n.truth.safeToBootstrap ? '*' : ''}${n.silent ? '(silent)' : ''}`).join(',')}`;
  const bad = (message: string) => ({ ok: false as const, message, params });

  const history: EtcdState[] = [];
  const etcd: EtcdState = { positions: {}, primary: [], lock: null, override: null };
  const trueMax = Math.max(-1, ...nodes.filter((n) => n.truth.uuid === U).map((n) => n.truth.seqno));
  const canRecover = nodes.some((n) => n.truth.uuid === U && n.truth.seqno >= 0);
  let primaryAt: number | null = null;

  for (let step = 0; step < MAX_STEPS; step++) {
    const calm = step >= stormEndsAt;
    history.push(clone(etcd));
    // reports: a silent node reports only once the storm is over
    for (const node of nodes) {
      if (node.state === 'down' && etcd.positions[node.name] === undefined && step >= node.reportAtStep && (!node.silent || calm)) {
        etcd.positions[node.name] = node.truth;
      }
    }
    // the operator looks at the reports after the timeout
    if (operator !== 'none' && etcd.override === null && step * STEP_MS > REPORT_TIMEOUT_MS + 5_000 && prng.chance(0.2)) {
      const reported = Object.entries(etcd.positions);
      if (operator === 'honest') {
        const best = reported.filter(([, p]) => p.uuid === U && p.seqno >= 0).sort((x, y) => y[1].seqno - x[1].seqno || (x[0] < y[0] ? -1 : 1))[0];
        if (best !== undefined) etcd.override = best[0];
      } else {
        etcd.override = names[prng.int(0, names.length - 1)] ?? null;
      }
    }
    // progress of the bootstrap and the joins
    for (const node of nodes) {
      if (node.state === 'bootstrapping' && step >= node.doneAtStep) {
        if (node.crashesDuringBootstrap && !calm) {
          node.state = 'down';
          // its lease expires: the lock is freed; its position is still in etcd, unchanged
          etcd.lock = null;
        } else {
          node.state = 'primary';
          etcd.primary.push(node.name);
          delete etcd.positions[node.name];
          etcd.lock = null;
        }
      } else if (node.state === 'joining' && step >= node.doneAtStep) {
        node.state = 'primary';
        etcd.primary.push(node.name);
        delete etcd.positions[node.name];
      }
    }
    if (etcd.primary.length > 0 && primaryAt === null) primaryAt = step;
    // every down agent decides on a possibly stale view, then acts on the real etcd
    for (const node of shuffled(prng, nodes)) {
      if (node.state !== 'down' || (node.silent && !calm)) continue;
      const lag = Math.min(prng.int(0, staleMax), history.length - 1);
      const view = history[history.length - 1 - lag] as EtcdState;
      if (node.firstSawReportStep === null && Object.keys(view.positions).length > 0) node.firstSawReportStep = step;
      const decision = planRecovery({
        nodes: names,
        primaryMembers: view.primary,
        positions: view.positions,
        clusterUuid: U,
        bootstrapLockHolder: view.lock,
        override: view.override,
        waitingMs: node.firstSawReportStep === null ? 0 : (step - node.firstSawReportStep) * STEP_MS,
        reportTimeoutMs: REPORT_TIMEOUT_MS,
      });
      if (decision.kind === 'join' && etcd.primary.length > 0) {
        node.state = 'joining';
        node.doneAtStep = step + prng.int(1, 5);
      } else if (decision.kind === 'bootstrap' && decision.node === node.name) {
        // the lock transaction (as the agent's): the lock is free and no position or member key
        // was written after the revision the decision was made on (a range compare on mod_revision)
        const changed =
          Object.entries(etcd.positions).some(([name, p]) => view.positions[name] !== p) || etcd.primary.some((name) => !view.primary.includes(name));
        if (etcd.lock !== null || changed) continue;
        etcd.lock = node.name;
        // checkers at the moment a bootstrap starts
        const p = node.truth;
        if (p.uuid !== U) return bad(`step ${step}: ${node.name} bootstraps from history ${p.uuid}`);
        if (p.seqno < 0) return bad(`step ${step}: ${node.name} bootstraps from an unknown seqno`);
        for (const [peer, reported] of Object.entries(etcd.positions)) {
          if (reported.uuid === U && reported.seqno > p.seqno)
            return bad(`step ${step}: ${node.name} (seqno ${p.seqno}) bootstraps behind reported ${peer} (${reported.seqno})`);
        }
        if (decision.by === 'all_reported' && p.seqno < trueMax)
          return bad(`step ${step}: ${node.name} bootstraps at ${p.seqno} without an override, the most advanced node has ${trueMax}`);
        const alive = nodes.filter((n) => n.state === 'bootstrapping' || (n.state === 'primary' && n !== node));
        if (alive.length > 0)
          return bad(`step ${step}: ${node.name} bootstraps while ${alive.map((n) => `${n.name}(${n.state})`).join(',')} is up: two components`);
        node.state = 'bootstrapping';
        node.doneAtStep = step + prng.int(1, 8);
        node.crashesDuringBootstrap = prng.chance(crashRate);
      }
    }
    const roots = nodes.filter((n) => n.state === 'bootstrapping').length;
    if (roots > 1) return bad(`step ${step}: ${roots} bootstraps at once`);
  }
  // liveness: once calm, every node reports; recovery must then finish when a history exists
  if (canRecover && stormEndsAt + LIVENESS_BOUND_STEPS < MAX_STEPS && primaryAt === null) {
    return bad(`no Primary component ${MAX_STEPS - stormEndsAt} steps after the storm ended`);
  }
  return { ok: true };
}

test('galera recovery simulator: safety under faults, liveness once calm', () => {
  const only = process.env['KEEL_GALERA_SIM_SEED'];
  const count = Number(process.env['KEEL_GALERA_SIM_SEEDS'] ?? 5_000);
  const base = Number(process.env['KEEL_GALERA_SIM_BASE'] ?? 1);
  const seeds = only === undefined ? Array.from({ length: count }, (_, i) => base + i) : [Number(only)];
  const failures: string[] = [];
  for (const seed of seeds) {
    const result = simulate(seed);
    if (!result.ok)
      failures.push(
        `FAIL seed ${seed}: ${result.message}\n  ${result.params}\n  replay: KEEL_GALERA_SIM_SEED=${seed} node --test dist/test/sim/galera-recovery.test.js`,
      );
    if (failures.length >= 5) break;
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});
