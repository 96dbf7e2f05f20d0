/**
 * Applies a Decision: the actions in order, gates choosing their `then` or `else` plan, long
 * PostgreSQL procedures started as background tasks. It decides nothing itself — every action
 * carries what it needs — and what happened is visible to the next cycle's Observation.
 *
 * Ordering guarantees: an action completes (or fails) before the next starts; `fence` has
 * signalled PostgreSQL before the executor moves on; keepalive and failsafe send times are
 * recorded before the requests leave, so the lease deadline computed from them is never optimistic.
 */
import type { AgentContext } from './context.js';
import { keepaliveBackstopAfterSentMs, keepaliveTimingAllowsWait } from './core/lease-renewal.js';
import { isGate } from './core/plan.js';
import { watchdogPingTimeoutMs } from './core/watchdog-logic.js';
import type { Action, Decision, GateAction, Plan, TaskKind, Why } from './core/types.js';
import { runFailsafeRound } from './failsafe-round.js';
import { buildMemberData } from './member-data.js';
import { isFenceSetting } from './postgres-tracker.js';
import * as tasks from './tasks.js';
import { announceRoleChange } from './routing.js';

export interface ExecutorHooks {
  /** Called for `exit`: stop the agent with this exit code. */
  requestExit(code: number): void;
}

/** What every action of one decision shares. */
interface Step {
  a: AgentContext;
  hooks: ExecutorHooks;
  gateValidForMs: number;
  /** When the decision's observation was taken (monotonic). */
  observedAtMs: number;
  /** The task generation the decision's observation saw (see TaskRunner). */
  observedTaskGeneration: number;
  /** Decision.keepaliveMayWait: this cycle's refreshLease is left out. */
  keepaliveMayWait: boolean;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The send time of a keepalive sent since the decision's observation began and confirmed, or
 * null: the leader's cycle sends one as the proof of its view (ClusterState.read), and a second
 * one a few milliseconds later would renew nothing more.
 */
function renewedSinceObservedMs(s: Step): number | null {
  const sent = s.a.lease.lastConfirmedSentMs;
  return sent !== null && sent >= s.observedAtMs ? sent : null;
}

function startTask(s: Step, kind: TaskKind, target: string | undefined, body: () => Promise<void>): void {
  if (s.a.tasks.start(kind, target, s.observedTaskGeneration, body) === 'stale') s.a.wake();
}

/**
 * Runs a gate's I/O. A success seen later than (send time + gateValidForMs) counts as a failure:
 * the process may have been stopped while the request was in flight, and the lease may have
 * expired since (found by the simulator: an agent paused between acquireLeaderKey and promote).
 */
async function runGate(s: Step, gate: GateAction): Promise<boolean> {
  const clock = s.a.ports.clock;
  const sentMs = clock.now();
  // Nor is a gate sent on a decision whose observation is that old: the agent was stopped between
  // looking and acting, and what it saw (no leader, its own lag) may have changed since — a
  // leader may have come and gone (simulator, seed 325 of the standard family once keel-fence let
  // every agent be frozen: a replica frozen mid-cycle for 31 s raced on its old view and promoted
  // 2.8 MB behind the last leader).
  if (sentMs > s.observedAtMs + s.gateValidForMs) {
    s.a.log.warning(`not running ${gate.kind}: decided on an observation ${Math.round(sentMs - s.observedAtMs)} ms old (the agent was stopped meanwhile)`);
    return false;
  }
  // The leader's keepalive went out with the cycle's read (ClusterState.read): the key is kept on
  // the lease that keepalive renewed, so the gate counts from its send time, not from now.
  const renewedMs = gate.kind === 'updateLeaderKey' ? renewedSinceObservedMs(s) : null;
  const validFromMs = renewedMs ?? sentMs;
  const ok = await runGateIo(s, gate, renewedMs !== null);
  if (ok && clock.now() > validFromMs + s.gateValidForMs) {
    s.a.log.warning(
      `${gate.kind} succeeded too late (${Math.round(clock.now() - validFromMs)} ms after ${renewedMs === null ? 'it' : 'its keepalive'} was sent): treating it as failed`,
    );
    return false;
  }
  if (ok && gate.kind === 'acquireLeaderKey') s.a.recovery.leaderKeyTaken(clock.now(), s.a.pg.probe !== null && !s.a.pg.probe.inRecovery);
  return ok;
}

/** A gate's I/O; `renewed`: updateLeaderKey's keepalive was sent already, this cycle (renewedSinceObservedMs). */
async function runGateIo(s: Step, gate: GateAction, renewed: boolean): Promise<boolean> {
  const { a } = s;
  const dcs = a.ports.dcs;
  try {
    switch (gate.kind) {
      case 'claimInitialize':
        return await dcs.initialize('', true);
      case 'acquireLeaderKey':
        // failsafe_mode: a member that accepted a leader's POST /failsafe promised not to race. One
        // accepted after this cycle looked means no race; from here on it refuses them (simulator,
        // seed 1457: a member accepted while its acquire was in flight, then promoted).
        if (a.failsafe.heardSince(s.observedAtMs)) {
          a.log.info('not racing for the leader key: a leader running in failsafe mode reached us meanwhile');
          return false;
        }
        a.failsafe.racing = true;
        // A keepalive first, always: the key lives only as long as our lease, and a lease last
        // confirmed long ago (etcd unreachable for a while) could expire before the promotion this
        // acquisition leads to (simulator, standard seed 9437: a key taken on a lease confirmed 19 s
        // earlier vanished 0.6 s later, and the promotion came 4.5 s after that).
        if (!(await a.lease.keepalive())) return false;
        return await dcs.attemptToAcquireLeader();
      case 'updateLeaderKey':
        if (!renewed && !(await a.lease.keepalive())) return false;
        return await dcs.updateLeader();
      case 'confirmFailsafe':
        return await runFailsafeRound(a);
      case 'writeSyncKey':
        return await writeSyncKey(s, gate);
    }
  } catch (error) {
    a.log.warning(`${gate.kind} failed: ${message(error)}`);
    return false;
  }
}

/** The `sync` key, compare-and-swap (Patroni's write_sync_state); a lost race is said, not thrown. */
async function writeSyncKey(s: Step, gate: Extract<GateAction, { kind: 'writeSyncKey' }>): Promise<boolean> {
  const { a } = s;
  const value = gate.value;
  const ok = value === null ? await a.ports.dcs.deleteSync(gate.modRevision) : await a.ports.dcs.setSync(value, gate.modRevision);
  if (!ok) {
    a.log.info('Synchronous replication key updated by someone else');
    return false;
  }
  if (value === null) a.log.info('synchronous replication key removed (synchronous_mode is off)');
  else {
    const standbys = value.syncStandbys.length === 0 ? 'none' : value.syncStandbys.join(', ');
    const quorum = value.quorum > 0 ? `, quorum ${value.quorum}` : '';
    a.log.info(`synchronous replication key: leader ${value.leader ?? '?'}, may be promoted: ${standbys}${quorum}`);
  }
  return true;
}

async function applyAction(s: Step, action: Exclude<Action, GateAction>): Promise<void> {
  const { a } = s;
  const dcs = a.ports.dcs;
  switch (action.kind) {
    case 'refreshLease': {
      // decide allowed leaving it out as of the observation; the timing is checked again now
      // (a slow observation moves the next cycle's keepalive later: core/lease-renewal.ts).
      const sent = a.lease.lastConfirmedSentMs;
      const mayWait = s.keepaliveMayWait && sent !== null && keepaliveTimingAllowsWait(a.cluster.dynamic, sent, s.observedAtMs, a.ports.clock.now());
      if (!mayWait && renewedSinceObservedMs(s) === null) await a.lease.keepalive();
      return;
    }
    case 'touchMember':
      await dcs.touchMember(buildMemberData(a));
      return;
    case 'runBootstrap':
      startTask(s, 'bootstrap', undefined, () => tasks.bootstrapNewCluster(a));
      return;
    case 'writeInitialize':
      await dcs.initialize(action.systemIdentifier, action.create);
      return;
    case 'writeBootstrapConfig':
      await dcs.setConfig(a.local().bootstrap.dcs, null);
      return;
    case 'cancelInitialization': {
      await dcs.cancelInitialization();
      const aside = await tasks.setAsideFailedBootstrap(a);
      if (aside !== null) a.log.warning(`failed bootstrap kept in ${aside}`);
      return;
    }
    case 'cloneFrom':
      startTask(s, 'clone', action.source.name, () => tasks.cloneAndStart(a, action.source, action.follow));
      return;
    case 'startAsReplica':
      startTask(s, 'start', action.follow?.name, () => tasks.startAsReplica(a, action.follow));
      return;
    case 'followLeader':
      await a.pg.applyAndReload({ followTarget: action.member?.name ?? null, recovery: a.pg.recoveryFor(action.member) });
      a.pg.notStreamingSinceMs = null;
      return;
    case 'fence':
      await tasks.fence(a, 'the decision of this cycle');
      announceRoleChange(a, 'fenced');
      return;
    case 'unfence':
      // Idempotent: decide asks for it whenever our authority was just confirmed (see leader.ts);
      // a no-op only when neither our state nor the server (the last probe) shows a fence.
      if (!a.pg.fenced && !(a.pg.probe !== null && isFenceSetting(a.pg.probe.synchronousStandbyNames))) return;
      if (a.isolation.isolatedSinceMs !== null) {
        a.log.warning('not lifting the fence: this leader is isolated (neither etcd nor any member answers)');
        return;
      }
      if (a.lease.authorityExpired()) {
        a.log.warning('not lifting the fence: the lease confirmation it relied on is too old by now');
        return;
      }
      a.log.info('lifting the fence: our authority to acknowledge commits is confirmed');
      // keel-fence is armed again before the first commit can be acknowledged again.
      a.lease.setFenceInPlace(false);
      await a.pg.applyAndReload({ fenced: false });
      announceRoleChange(a, 'promoted');
      return;
    case 'setSyncStandbyNames':
      await a.pg.setSyncStandbyNames(action.value);
      if (action.value === '') a.log.warning(`synchronous replication: ${action.reason} (synchronous_mode_strict is off)`);
      else a.log.info(`synchronous replication: ${action.reason} (synchronous_standby_names = ${action.value ?? 'as configured'})`);
      return;
    case 'stopPostgres':
      startTask(s, 'stop', undefined, () => tasks.stopPostgres(a, 'fast'));
      return;
    case 'promote':
      startTask(s, 'promote', undefined, () => tasks.promote(a)); // announces itself to HAProxy once PostgreSQL is out of recovery
      return;
    case 'checkpoint':
      startTask(s, 'checkpoint', undefined, () => a.pg.node.checkpoint(a.local().postgresql.pgCtlTimeoutMs));
      return;
    case 'demote':
      announceRoleChange(a, 'demoted');
      startTask(s, 'demote', undefined, () => tasks.demote(a));
      return;
    case 'stepDown':
      announceRoleChange(a, 'demoted');
      startTask(s, 'stepdown', String(action.failoverRevision), () => tasks.stepDown(a));
      return;
    case 'rewind':
      startTask(s, 'rewind', action.from.name, () => tasks.rewindAndStart(a, action.from, action.follow));
      return;
    case 'reclone':
      startTask(s, 'reinit', action.from.name, () => tasks.recloneAndStart(a, action.from, action.follow));
      return;
    case 'restartCrashed':
      startTask(s, 'start', undefined, () => tasks.restartCrashed(a));
      return;
    case 'recordTimelineOrigin':
      await a.pg.node.writeTimelineOrigin({ timeline: action.timeline, member: action.member });
      return;
    case 'releaseLeaderKey':
      await dcs.deleteLeader();
      return;
    case 'writeHistory':
      await dcs.setHistory(action.entries);
      return;
    case 'writeStatus':
      await dcs.writeStatus({ optime: action.optimeBytes, slots: {} });
      return;
    case 'deleteFailoverKey':
      await dcs.deleteFailover(action.modRevision);
      return;
    case 'writeFailsafe':
      a.cluster.noteFailsafeWriting(action.members);
      await dcs.writeFailsafe(action.members);
      a.cluster.noteFailsafeWritten(action.members);
      return;
    case 'syncSlots': {
      const { created, dropped } = await a.pg.node.syncSlots(action.slots, action.ignore ?? []);
      if (created.length > 0) a.log.info(`created replication slots: ${created.join(', ')}`);
      if (dropped.length > 0) a.log.info(`dropped replication slots: ${dropped.join(', ')}`);
      return;
    }
    case 'watchdog':
      if (!(await pingWatchdog(s, action.op)) && s.a.local().watchdog.mode === 'required') {
        // Patroni: "Not promoting self because watchdog could not be activated" (a later cycle
        // sees the device unavailable and releases the key or demotes: core/rules/leader.ts)
        throw new PlanHalted({ kind: 'watchdogActivationFailed', promoting: s.a.pg.probe?.inRecovery !== false });
      }
      return;
    case 'exit':
      s.hooks.requestExit(action.code);
      return;
  }
}

/**
 * arm/keepalive program a timeout that fires before the key can expire (core/watchdog-logic.ts);
 * too late: no ping. False only when an arm failed (the device cannot be used).
 */
async function pingWatchdog(s: Step, op: 'arm' | 'keepalive' | 'disable'): Promise<boolean> {
  const { a } = s;
  if (op === 'disable') {
    a.ports.watchdog.disable();
    a.watchdogDueMs = null;
    return true;
  }
  const sent = a.lease.authoritySentMs();
  const local = a.local();
  const timeoutMs = sent === null ? null : watchdogPingTimeoutMs(a.ports.clock.now(), sent, a.cluster.dynamic.ttlMs, local.watchdog.safetyMarginMs);
  if (timeoutMs === null) return true;
  if (op === 'arm') {
    if (!(await a.ports.watchdog.arm(timeoutMs))) return false;
  } else a.ports.watchdog.keepalive(timeoutMs);
  a.watchdogDueMs = a.ports.clock.now() + timeoutMs;
  return true;
}

/** Thrown by an action after which the rest of its plan must not run; the plan's reason becomes `why`. */
class PlanHalted extends Error {
  constructor(readonly why: Why) {
    super(why.kind);
  }
}

/**
 * Runs a plan's actions in order. Returns the `why` of the deepest plan reached (a gate's
 * branch replaces its parent's reason). A failing non-gate action is logged and the plan goes on:
 * the next observation shows its effect (or its absence); except a watchdog that cannot be armed
 * in required mode, which stops the plan before it promotes.
 */
async function executePlan(s: Step, plan: Plan): Promise<Why> {
  for (const action of plan.actions) {
    if (isGate(action)) return executePlan(s, (await runGate(s, action)) ? action.then : action.else);
    try {
      await applyAction(s, action);
    } catch (error) {
      if (error instanceof PlanHalted) return error.why;
      s.a.log.error(`${action.kind} failed: ${message(error)}`);
    }
  }
  return plan.why;
}

/**
 * Applies a decision made on an observation taken at `observed.atMs` with task generation
 * `observed.taskGeneration`. The lease guard is set first: it applies from the start of the cycle.
 */
export async function executeDecision(
  a: AgentContext,
  decision: Decision,
  hooks: ExecutorHooks,
  observed: { atMs: number; taskGeneration: number },
): Promise<Why> {
  a.lease.setGuard(decision.leaseGuard);
  a.lease.setBackstop(decision.keepaliveMayWait === true ? keepaliveBackstopAfterSentMs(a.cluster.dynamic) : null);
  try {
    return await executePlan(
      {
        a,
        hooks,
        gateValidForMs: decision.gateValidForMs,
        observedTaskGeneration: observed.taskGeneration,
        observedAtMs: observed.atMs,
        keepaliveMayWait: decision.keepaliveMayWait === true,
      },
      decision,
    );
  } finally {
    a.failsafe.racing = false;
  }
}
