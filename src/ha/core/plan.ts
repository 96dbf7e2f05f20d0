/**
 * Plans as values: walking them the way the executor does, and the contracts every plan decide()
 * returns must keep. A broken contract is a bug in the core, never an operational condition:
 * `assertWellFormed` throws PlanContractError, and the agent then executes nothing that cycle.
 */
import type { Action, GateAction, Plan, Why } from './types.js';

export class PlanContractError extends Error {
  constructor(message: string) {
    super(`plan contract broken: ${message}`);
    this.name = 'PlanContractError';
  }
}

export function isGate(action: Action): action is GateAction {
  return (
    action.kind === 'claimInitialize' ||
    action.kind === 'acquireLeaderKey' ||
    action.kind === 'updateLeaderKey' ||
    action.kind === 'confirmFailsafe' ||
    action.kind === 'writeSyncKey'
  );
}

/** Actions that start a background PostgreSQL task: at most one may run per cycle. */
const TASK_ACTIONS: ReadonlySet<Action['kind']> = new Set([
  'runBootstrap',
  'cloneFrom',
  'startAsReplica',
  'promote',
  'demote',
  'rewind',
  'reclone',
  'restartCrashed',
  'stopPostgres',
  'checkpoint',
  'stepDown',
]);

export function startsTask(action: Action): boolean {
  return TASK_ACTIONS.has(action.kind);
}

/**
 * The contracts: a gate is the last action of its list (what follows it lives in its branches);
 * `exit` is the last action of its list; along any path through the gates at most one action
 * starts a background task (a second would be refused while the first runs).
 */
export function assertWellFormed(plan: Plan, tasksBefore = 0): void {
  let tasks = tasksBefore;
  plan.actions.forEach((action, index) => {
    const last = index === plan.actions.length - 1;
    if (isGate(action)) {
      if (!last) throw new PlanContractError(`${action.kind} is followed by ${plan.actions[index + 1]?.kind ?? '?'} (why: ${plan.why.kind})`);
      assertWellFormed(action.then, tasks);
      assertWellFormed(action.else, tasks);
      return;
    }
    if (action.kind === 'exit' && !last) throw new PlanContractError(`exit is followed by ${plan.actions[index + 1]?.kind ?? '?'} (why: ${plan.why.kind})`);
    if (startsTask(action) && ++tasks > 1) throw new PlanContractError(`a second background task (${action.kind}) on one path (why: ${plan.why.kind})`);
  });
}

/** Whether some path of the plan may acquire the key or promote. */
export function planMayPromote(p: Plan): boolean {
  return p.actions.some((a) => a.kind === 'promote' || a.kind === 'acquireLeaderKey' || (isGate(a) && (planMayPromote(a.then) || planMayPromote(a.else))));
}

/**
 * Walks a plan the way the executor does, given the outcome of each gate in order (missing
 * outcomes count as failures). Returns the actions executed (gates included) and the why of the
 * deepest plan taken. Used by tests and the golden rule files; the executor follows the same rule.
 */
export function resolvePlan(p: Plan, outcomes: boolean[]): { actions: Action['kind'][]; steps: Action[]; why: Why } {
  const kinds: Action['kind'][] = [];
  const steps: Action[] = [];
  let current: Plan = p;
  let gateIndex = 0;
  for (;;) {
    let next: Plan | null = null;
    for (const action of current.actions) {
      kinds.push(action.kind);
      steps.push(action);
      if (isGate(action)) {
        next = outcomes[gateIndex++] === true ? action.then : action.else;
        break;
      }
    }
    if (next === null) return { actions: kinds, steps, why: current.why };
    current = next;
  }
}
