/**
 * POST /switchover, POST /failover and DELETE /switchover with Patroni 3.0.2's semantics, bodies,
 * messages and status codes (patroni/api.py do_POST_failover, parse_schedule,
 * is_failover_possible, poll_failover_result, do_DELETE_switchover). The REST handler validates,
 * checks the candidates over their REST APIs, writes the `failover` key and wakes the HA loop;
 * the leader's cycle does the rest (core/rules/switchover.ts). The handler then polls the DCS
 * until the leader changed, the request vanished, or time ran out.
 *
 * keel's differences: a refused candidate is named with the reason (not streaming, lagging,
 * nofailover, ...) instead of Patroni's bare "no good candidates have been found"; the DCS is
 * polled every 100 ms instead of every second, so the answer comes as soon as it is known.
 */
import type { OperationResult } from '../api/routes.js';
import type { SynchronousMode } from '../config/types.js';
import type { ClusterView, FailoverRequest } from '../dcs/types.js';
import type { AgentContext } from './context.js';
import { clusterTimeline } from './core/rules/context.js';
import { isPending, takeOverLimitation } from './core/rules/switchover.js';
import type { PeerStatus } from './core/types.js';
import { fetchPeers } from './peers.js';

export type FailoverAction = 'switchover' | 'failover';

const POLL_EVERY_MS = 100;

type Parsed = { ok: true; leader: string | null; candidate: string | null; scheduledAt: string | null } | { ok: false; result: OperationResult };

function refuse(code: number, text: string): Parsed {
  return { ok: false, result: { code, text } };
}

function nameField(body: Record<string, unknown>, key: string): string | null {
  const value = body[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * Patroni's parse_schedule: an ISO-8601 time with a zone, not in the past. Returns the
 * normalised text, or the refusal. A bare date-time without an offset is ambiguous: refused.
 */
export function parseSchedule(text: string, action: FailoverAction, nowWallMs: number): { ok: true; at: string } | { ok: false; result: OperationResult } {
  const iso = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i.exec(text.trim());
  const ms = iso === null ? NaN : Date.parse(text.trim().replace(' ', 'T'));
  if (iso === null || Number.isNaN(ms)) {
    return { ok: false, result: { code: 422, text: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601' } };
  }
  if (iso[3] === undefined) return { ok: false, result: { code: 400, text: `Timezone information is mandatory for the scheduled ${action}` } };
  if (ms < nowWallMs) return { ok: false, result: { code: 422, text: `Cannot schedule ${action} in the past` } };
  return { ok: true, at: text.trim().replace(' ', 'T') };
}

/** The body checks of do_POST_failover, in Patroni's order (all 400 unless said otherwise). */
export function parseFailoverBody(action: FailoverAction, body: Record<string, unknown>, paused: boolean, nowWallMs: number): Parsed {
  const leader = nameField(body, 'leader');
  const candidate = nameField(body, 'candidate') ?? nameField(body, 'member');
  const scheduled = typeof body['scheduled_at'] === 'string' && body['scheduled_at'] !== '' ? body['scheduled_at'] : null;
  if (action === 'failover' && candidate === null) return refuse(400, 'Failover could be performed only to a specific candidate');
  if (action === 'switchover' && leader === null) return refuse(400, 'Switchover could be performed only from a specific leader');
  let scheduledAt: string | null = null;
  if (scheduled !== null) {
    if (action === 'failover') return refuse(400, "Failover can't be scheduled");
    if (paused) return refuse(400, "Can't schedule switchover in the paused state");
    const parsed = parseSchedule(scheduled, action, nowWallMs);
    if (!parsed.ok) return parsed;
    scheduledAt = parsed.at;
  }
  if (paused && candidate === null) return refuse(400, 'Switchover is possible only to a specific candidate in a paused state');
  if (leader !== null && leader === candidate) return refuse(400, 'Switchover target and source are the same');
  return { ok: true, leader, candidate, scheduledAt };
}

/**
 * Patroni's is_failover_possible, with the reason for a named candidate: null when the request
 * can be served, else the refusal text (answered with 412).
 */
export function failoverImpossible(
  view: ClusterView,
  request: { leader: string | null; candidate: string | null },
  action: FailoverAction,
  statuses: PeerStatus[],
  limits: { primaryWalBytes: number | null; maximumLagBytes: number; checkTimeline: boolean; synchronousMode: SynchronousMode },
): string | null {
  if (request.leader !== null && (view.leader === null || view.leader.name !== request.leader)) return 'leader name does not match';
  const leaderName = view.leader?.name ?? null;
  // Synchronous mode: only a standby the sync key lists holds every acknowledged commit (keel
  // refuses a failover to another one too, where Patroni only asks patronictl to confirm).
  const sync = limits.synchronousMode !== 'off' && view.sync !== null && view.sync.value.leader !== null ? view.sync.value.syncStandbys : null;
  if (sync !== null && request.candidate !== null && !sync.includes(request.candidate)) return 'candidate name does not match with sync_standby';
  const candidates =
    request.candidate !== null
      ? view.members.filter((m) => m.name === request.candidate)
      : view.members.filter((m) => m.name !== leaderName && m.apiUrl !== null && (sync === null || sync.includes(m.name)));
  if (request.candidate !== null && candidates.length === 0) return 'candidate does not exists';
  if (candidates.length === 0 && sync !== null) return `${action} is not possible: can not find sync_standby`;
  if (candidates.length === 0) return `${action} is not possible: cluster does not have members except leader`;
  // With a running leader, the candidates must stream from it; a failover with the leader gone
  // judges only what Patroni does (reachable, allowed to promote, watchdog), and the lag.
  const leaderRuns = statuses.some((s) => s.name === leaderName && s.reachable && s.running && s.role === 'primary');
  const judged = {
    primaryWalBytes: limits.primaryWalBytes,
    maximumLagBytes: limits.maximumLagBytes,
    minTimeline: limits.checkTimeline ? clusterTimeline(view) : null,
    requireStreamingReplica: leaderRuns,
  };
  const reasons = candidates.map((m) => {
    const status = statuses.find((s) => s.name === m.name);
    return { name: m.name, why: status === undefined ? 'not reachable' : takeOverLimitation(status, judged) };
  });
  if (reasons.some((r) => r.why === null)) return null;
  if (request.candidate !== null) return `${action} is not possible: candidate ${request.candidate} is ${reasons[0]?.why ?? 'not reachable'}`;
  return `${action} is not possible: no good candidates have been found (${reasons.map((r) => `${r.name}: ${r.why ?? ''}`).join('; ')})`;
}

function titled(action: FailoverAction): string {
  return action === 'switchover' ? 'Switchover' : 'Failover';
}

/** The stem Patroni builds with action[:-4]: "switch" / "fail". */
function stem(action: FailoverAction): string {
  return action === 'switchover' ? 'switch' : 'fail';
}

/** The REST operations on the `failover` key, bound to one agent. */
export function failoverOperations(a: AgentContext): {
  post(action: FailoverAction, body: Record<string, unknown>): Promise<OperationResult>;
  deleteScheduled(): Promise<OperationResult>;
} {
  const dcs = a.ports.dcs;
  const clock = a.ports.clock;

  /** Patroni's poll_failover_result: up to 2 × max(10 s, loop_wait). */
  async function pollResult(formerLeader: string | null, candidate: string | null, action: FailoverAction): Promise<OperationResult> {
    const deadline = clock.now() + 2 * Math.max(10_000, a.cluster.dynamic.loopWaitMs);
    while (clock.now() < deadline) {
      await clock.sleep(POLL_EVERY_MS);
      let view: ClusterView;
      try {
        view = await dcs.loadCluster();
      } catch {
        continue;
      }
      if (view.leader !== null && view.leader.name !== formerLeader) {
        if (candidate === null || candidate === view.leader.name) return { code: 200, text: `Successfully ${stem(action)}ed over to "${view.leader.name}"` };
        const upper = stem(action).charAt(0).toUpperCase() + stem(action).slice(1);
        return { code: 200, text: `${upper}ed over to "${view.leader.name}" instead of "${candidate}"` };
      }
      if (view.failover === null || !isPending(view.failover.value)) return { code: 503, text: `${titled(action)} failed` };
    }
    return { code: 503, text: `${titled(action)} status unknown` };
  }

  /** The cluster now, or the 503 to answer when etcd cannot be read. */
  async function readCluster(): Promise<ClusterView | OperationResult> {
    try {
      return await dcs.loadCluster();
    } catch (error) {
      return { code: 503, text: `cannot read the cluster from the DCS: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  return {
    async post(requested, body) {
      const view = await readCluster();
      if ('code' in view) return view;
      const paused = a.cluster.dynamic.pause;
      const parsed = parseFailoverBody(requested, body, paused, clock.wallMs());
      if (!parsed.ok) return parsed.result;
      // Patroni: a failover naming the current leader is a switchover.
      const action: FailoverAction = requested === 'failover' && parsed.leader !== null ? 'switchover' : requested;
      a.log.info(
        `received ${action} request with leader=${parsed.leader ?? 'None'} candidate=${parsed.candidate ?? 'None'} scheduled_at=${parsed.scheduledAt ?? 'None'}`,
      );
      if (parsed.scheduledAt === null) {
        const statuses = await fetchPeers(a.ports.peers, view.members, '');
        const probe = a.pg.probe;
        const ownWal = view.leader?.name === a.local().name && probe !== null && !probe.inRecovery ? probe.currentLsn : null;
        const refusal = failoverImpossible(view, parsed, action, statuses, {
          primaryWalBytes: ownWal ?? view.status?.optime ?? null,
          maximumLagBytes: a.cluster.dynamic.maximumLagOnFailoverBytes,
          checkTimeline: a.cluster.dynamic.checkTimeline,
          synchronousMode: a.cluster.dynamic.synchronousMode,
        });
        if (refusal !== null) return { code: 412, text: refusal };
      }
      const request: FailoverRequest = {};
      if (parsed.leader !== null) request.leader = parsed.leader;
      if (parsed.candidate !== null) request.candidate = parsed.candidate;
      if (parsed.scheduledAt !== null) request.scheduledAt = parsed.scheduledAt;
      let written = false;
      try {
        written = await dcs.setFailover(request, view.failover?.modRevision ?? null);
      } catch (error) {
        a.log.warning(`writing the failover key failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!written) return { code: 503, text: 'failed to write failover key into DCS' };
      a.wake();
      if (parsed.scheduledAt !== null) return { code: 202, text: `${titled(action)} scheduled` };
      return pollResult(view.leader?.name ?? null, parsed.candidate, action);
    },

    async deleteScheduled() {
      const view = await readCluster();
      if ('code' in view) return view;
      const failover = view.failover;
      if (failover === null || !isPending(failover.value) || failover.value.scheduledAt === undefined) return { code: 404, text: 'no switchover is scheduled' };
      const deleted = await dcs.deleteFailover(failover.modRevision).catch(() => false);
      if (!deleted) return { code: 409, text: 'the scheduled switchover changed meanwhile (or the DCS did not answer); nothing deleted' };
      return { code: 200, text: 'scheduled switchover deleted' };
    },
  };
}
