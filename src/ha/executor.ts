/**
 * Applies a Decision: the actions in order, gates choosing their `then` or `else` plan, long
 * PostgreSQL procedures started as background tasks. It never decides anything itself; what
 * happened is visible to the next cycle's Observation.
 *
 * Ordering guarantees: an action completes (or fails) before the next starts; `fence` has
 * signalled PostgreSQL before the executor moves on; keepalive send times are recorded before
 * the request leaves, so the lease deadline computed from them is never optimistic.
 */
import type { NodeRuntime } from './runtime.js';
import type { Action, Decision, GateAction, Plan, TaskKind, Why } from './types.js';
import { isGate } from './decide.js';
import * as tasks from './tasks.js';
import { RetryableTaskError } from './tasks.js';
import { checkFailsafeTopology } from './failsafe.js';
import { buildMemberData } from './member-data.js';
import { readSwitchLsn } from './history.js';
import { armLeaseGuard } from './lease-guard.js';

export interface ExecutorHooks {
  /** Called for `exit`: stop the agent with this exit code. */
  requestExit(code: number): void;
  now(): number;
}

/** What every action of one decision shares: the hooks and the task generation its observation saw. */
interface ActionContext {
  hooks: ExecutorHooks;
  gateValidForMs: number;
  observedTaskGeneration: number;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts a background task unless one runs; its result lands in rt.task.lastResult. A demote
 * supersedes whatever runs: it starts as soon as the running task ends (PostgreSQL procedures
 * cannot be interrupted halfway safely), and it is the task the next observations report.
 * Any other task is refused when the plan was decided on a stale observation (a task started or
 * finished since it was gathered): the next cycle decides again on what is there now.
 */
function startTask(rt: NodeRuntime, kind: TaskKind, target: string | undefined, ctx: ActionContext, body: () => Promise<void>): void {
  const now = ctx.hooks.now;
  if (kind !== 'demote' && rt.task.generation !== ctx.observedTaskGeneration) {
    rt.log.info(`not starting ${kind}: a task started or finished while this cycle observed PostgreSQL; deciding again`);
    rt.wake();
    return;
  }
  if (rt.task.running !== null) {
    if (kind !== 'demote') {
      rt.log.warning(`not starting ${kind}: ${rt.task.running.kind} is still running`);
      return;
    }
    const previous = rt.task.promise ?? Promise.resolve();
    const run = body;
    body = async () => {
      await previous.catch(() => undefined);
      await run();
    };
  }
  rt.task.running = { kind, startedMs: now(), ...(target === undefined ? {} : { target }) };
  rt.task.lastResult = null;
  rt.task.generation += 1;
  const withTarget = target === undefined ? {} : { target };
  rt.task.promise = body().then(
    () => {
      rt.task.lastResult = { kind, ok: true, message: 'ok', finishedMs: now(), ...withTarget };
      rt.log.info(`${kind} finished`);
    },
    (error: unknown) => {
      const retryable = error instanceof RetryableTaskError;
      rt.task.lastResult = { kind, ok: false, message: message(error), finishedMs: now(), ...withTarget, ...(retryable ? { retryable } : {}) };
      rt.log.error(`${kind} failed${retryable ? ' (will retry)' : ''}: ${message(error)}`);
    },
  ).finally(() => {
    rt.task.running = null;
    rt.task.promise = null;
    rt.task.generation += 1;
    rt.wake();
  });
}

/** One keepalive, its send time recorded before the request leaves. */
export async function keepalive(rt: NodeRuntime, now: () => number): Promise<boolean> {
  const sentMs = now();
  try {
    const ok = await rt.dcs.refreshLease();
    rt.leaseAttemptFailed = !ok;
    if (ok) {
      rt.leaseConfirmedSentMs = sentMs;
      armLeaseGuard(rt, now);
    }
    return ok;
  } catch (error) {
    rt.leaseAttemptFailed = true;
    rt.log.warning(`lease keepalive failed: ${message(error)}`);
    return false;
  }
}

/**
 * Runs a gate's I/O. A success seen later than (send time + gateValidForMs) counts as a failure:
 * the process may have been stopped while the request was in flight, and the lease may have
 * expired since (found by the simulator: an agent paused between acquireLeaderKey and promote).
 */
async function runGate(rt: NodeRuntime, gate: GateAction, now: () => number, gateValidForMs: number): Promise<boolean> {
  const sentMs = now();
  const ok = await runGateIo(rt, gate, now);
  if (ok && now() > sentMs + gateValidForMs) {
    rt.log.warning(`${gate.kind} succeeded too late (${Math.round(now() - sentMs)} ms after it was sent): treating it as failed`);
    return false;
  }
  return ok;
}

async function runGateIo(rt: NodeRuntime, gate: GateAction, now: () => number): Promise<boolean> {
  try {
    switch (gate.kind) {
      case 'claimInitialize':
        return await rt.dcs.initialize('', true);
      case 'acquireLeaderKey': {
        if (rt.leaseConfirmedSentMs === null && !(await keepalive(rt, now))) return false;
        return await rt.dcs.attemptToAcquireLeader();
      }
      case 'updateLeaderKey': {
        if (!(await keepalive(rt, now))) return false;
        return await rt.dcs.updateLeader();
      }
      case 'confirmFailsafe': {
        const sentMs = now();
        const confirmed = await checkFailsafeTopology(rt);
        if (confirmed) {
          rt.failsafeConfirmedSentMs = sentMs;
          armLeaseGuard(rt, now);
        }
        return confirmed;
      }
    }
  } catch (error) {
    rt.log.warning(`${gate.kind} failed: ${message(error)}`);
    return false;
  }
}

async function applyAction(rt: NodeRuntime, action: Exclude<Action, GateAction>, ctx: ActionContext): Promise<void> {
  const now = ctx.hooks.now;
  const view = rt.view;
  switch (action.kind) {
    case 'refreshLease':
      await keepalive(rt, now);
      return;
    case 'touchMember':
      await rt.dcs.touchMember(buildMemberData(rt));
      return;
    case 'runBootstrap':
      startTask(rt, 'bootstrap', undefined, ctx, () => tasks.bootstrapNewCluster(rt));
      return;
    case 'writeInitialize':
      await rt.dcs.initialize(action.systemIdentifier, action.create);
      return;
    case 'writeBootstrapConfig':
      await rt.dcs.setConfig(rt.local.bootstrap.dcs, null);
      return;
    case 'cancelInitialization': {
      await rt.dcs.cancelInitialization();
      const aside = await tasks.setAsideFailedBootstrap(rt);
      if (aside !== null) rt.log.warning(`failed bootstrap kept in ${aside}`);
      return;
    }
    case 'cloneFrom':
      startTask(rt, 'clone', action.member, ctx, () => tasks.cloneAndStart(rt, action.member, action.follow));
      return;
    case 'startAsReplica':
      startTask(rt, 'start', action.follow ?? undefined, ctx, () => tasks.startAsReplica(rt, action.follow));
      return;
    case 'followLeader':
      rt.followTarget = action.member;
      rt.recovery = rt.recoveryFor(action.member);
      await tasks.writeConfigNow(rt);
      await rt.instance.reload();
      return;
    case 'fence':
      rt.fenced = true;
      await tasks.writeConfigNow(rt);
      await rt.instance.reload();
      return;
    case 'unfence':
      // Idempotent: decide asks for it whenever our authority was just confirmed (see leader.ts).
      if (!rt.fenced) return;
      rt.fenced = false;
      rt.log.info('lifting the fence: our authority to acknowledge commits is confirmed');
      await tasks.writeConfigNow(rt);
      await rt.instance.reload();
      return;
    case 'stopPostgres':
      startTask(rt, 'stop', undefined, ctx, () => tasks.stopPostgres(rt, 'fast'));
      return;
    case 'promote':
      startTask(rt, 'promote', undefined, ctx, () => tasks.promote(rt));
      return;
    case 'demote':
      startTask(rt, 'demote', undefined, ctx, () => tasks.demote(rt, action.mode));
      return;
    case 'rewind':
      startTask(rt, 'rewind', action.from, ctx, () => tasks.rewindAndStart(rt, action.from, action.follow));
      return;
    case 'reclone':
      startTask(rt, 'reinit', action.from, ctx, () => tasks.recloneAndStart(rt, action.from, action.follow));
      return;
    case 'restartCrashed':
      startTask(rt, 'start', undefined, ctx, () => tasks.restartCrashed(rt));
      return;
    case 'releaseLeaderKey':
      await rt.dcs.deleteLeader();
      return;
    case 'writeHistory': {
      const lsn = await readSwitchLsn(rt, action.endedTimeline);
      const previous = view?.history?.value ?? [];
      const entry = { timeline: action.endedTimeline, lsn, reason: action.reason, timestamp: new Date().toISOString().replace('Z', '+00:00'), newLeader: action.newLeader };
      let history = [...previous.filter((h) => h.timeline !== action.endedTimeline), entry];
      const keep = rt.dynamic.maxTimelinesHistory;
      if (keep > 0 && history.length > keep) history = history.slice(history.length - keep);
      await rt.dcs.setHistory(history);
      return;
    }
    case 'writeStatus':
      await rt.dcs.writeStatus({ optime: action.optimeBytes, slots: {} });
      return;
    case 'deleteFailoverKey':
      await rt.dcs.deleteFailover(view?.failover?.modRevision ?? null);
      return;
    case 'writeFailsafe': {
      const members = Object.fromEntries((view?.members ?? []).filter((m) => m.apiUrl !== null).map((m) => [m.name, m.apiUrl ?? '']));
      await rt.dcs.writeFailsafe(members);
      return;
    }
    case 'watchdog':
      if (action.op === 'arm') rt.watchdog.arm();
      else if (action.op === 'keepalive') rt.watchdog.keepalive();
      else rt.watchdog.disable();
      return;
    case 'exit':
      ctx.hooks.requestExit(action.code);
      return;
  }
}

/**
 * Runs a plan's actions in order. Returns the `why` of the deepest plan reached (a gate's
 * branch replaces its parent's reason). A failing non-gate action is logged and the plan goes on:
 * the next observation shows its effect (or its absence).
 */
export async function executePlan(rt: NodeRuntime, plan: Plan, ctx: ActionContext): Promise<Why> {
  for (const action of plan.actions) {
    if (isGate(action)) {
      const ok = await runGate(rt, action, ctx.hooks.now, ctx.gateValidForMs);
      return executePlan(rt, ok ? action.then : action.else, ctx);
    }
    try {
      await applyAction(rt, action, ctx);
    } catch (error) {
      rt.log.error(`${action.kind} failed: ${message(error)}`);
    }
  }
  return plan.why;
}

/**
 * Applies a decision. `observedTaskGeneration` is rt.task.generation as it was when the decision's
 * observation was gathered (see TaskState.generation).
 */
export async function executeDecision(rt: NodeRuntime, decision: Decision, hooks: ExecutorHooks, observedTaskGeneration: number): Promise<Why> {
  rt.leaseGuard = decision.leaseGuard;
  armLeaseGuard(rt, hooks.now);
  return executePlan(rt, decision, { hooks, gateValidForMs: decision.gateValidForMs, observedTaskGeneration });
}
