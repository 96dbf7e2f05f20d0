/**
 * What this agent publishes in members/<name>, in Patroni's vocabulary: state, role,
 * WAL position, timeline, tags (boolean tags that are false are omitted, as Patroni does).
 */
import type { MemberData } from '../dcs/types.js';
import type { PendingParameter } from '../postgres/probe.js';
import type { AgentContext } from './context.js';
import { formatConnUrl } from './core/conn-url.js';
import { KEEL_VERSION } from '../version.js';

const BOOLEAN_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

export function effectiveTags(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([key, value]) => !BOOLEAN_TAGS.has(key) || value === true));
}

/** Patroni's member `state` for what PostgreSQL and our background task are doing now. */
export function memberState(a: AgentContext): string {
  const task = a.tasks.current()?.kind;
  const probe = a.pg.probe;
  if (task === 'bootstrap') return 'initializing new cluster';
  if (task === 'clone' || task === 'reinit') return 'creating replica';
  if (task === 'rewind') return 'rewinding';
  if (task === 'stop') return 'stopping';
  if (task === 'restart') return 'restarting';
  if (task === 'demote' || task === 'promote') return probe !== null ? 'running' : 'starting';
  if (probe !== null) return 'running';
  if (task === 'start') return 'starting';
  if (a.pg.crashedSinceMs !== null) return 'crashed';
  return 'stopped';
}

/**
 * Patroni's pending_restart_reason: for each parameter PostgreSQL says waits for a restart, the
 * value it runs with and the one postgresql.conf now has ('' when the file no longer sets it).
 */
export function pendingRestartReason(
  pending: PendingParameter[],
  written: Record<string, string> | null,
): Record<string, { old_value: string; new_value: string }> {
  const reason: Record<string, { old_value: string; new_value: string }> = {};
  for (const p of pending) reason[p.name] = { old_value: p.runningValue, new_value: written?.[p.name.toLowerCase()] ?? '' };
  return reason;
}

/** The role PostgreSQL has now (probe), or is configured for when it does not answer. */
export function currentRole(a: AgentContext): 'primary' | 'replica' | 'uninitialized' {
  const probe = a.pg.probe;
  if (probe !== null) return probe.inRecovery ? 'replica' : 'primary';
  if (a.pg.systemIdentifier === null && !a.tasks.isRunning('bootstrap')) return 'uninitialized';
  return a.pg.recovery === null ? 'primary' : 'replica';
}

/** The member key spells a primary 'master', as Patroni 3.0.2 does. */
export function memberRole(a: AgentContext): string {
  const role = currentRole(a);
  return role === 'primary' ? 'master' : role;
}

/** Our REST API's /patroni URL as the member key publishes it. */
export function ownApiUrl(a: AgentContext): string {
  const local = a.local();
  const api = local.restapi.connectAddress;
  // Patroni: https exactly when restapi.certfile is set (RestApiServer.connection_string)
  return `${local.restapi.certfile === undefined ? 'http' : 'https'}://${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}/patroni`;
}

export function buildMemberData(a: AgentContext): MemberData {
  const local = a.local();
  const pgc = local.postgresql;
  const probe = a.pg.probe;
  const data: MemberData = {
    connUrl: formatConnUrl(pgc.connectAddress.host, pgc.connectAddress.port),
    apiUrl: ownApiUrl(a),
    state: memberState(a),
    role: memberRole(a),
    version: KEEL_VERSION,
    tags: effectiveTags(local.tags.raw),
  };
  if (probe !== null) {
    if (probe.inRecovery) {
      data.xlogLocation = Math.max(probe.receiveLsn ?? 0, probe.replayLsn ?? 0);
      if (probe.receiveLsn !== null) data.receiveLsn = probe.receiveLsn;
      if (probe.replayLsn !== null) data.replayLsn = probe.replayLsn;
      // Patroni >= 3.1: 'streaming' only while the WAL receiver streams; absent otherwise (no
      // restore_command), so `keel list` shows a replica that receives nothing as 'running'.
      if (probe.walReceiverStatus === 'streaming') data.replicationState = 'streaming';
    } else if (probe.currentLsn !== null) {
      data.xlogLocation = probe.currentLsn;
    }
    data.timeline = probe.timeline;
  }
  const extra: Record<string, unknown> = {};
  if (probe !== null && probe.pendingRestart.length > 0) {
    extra['pending_restart'] = true;
    extra['pending_restart_reason'] = pendingRestartReason(probe.pendingRestart, a.pg.written);
  }
  const scheduled = a.scheduledRestart;
  if (scheduled !== null) extra['scheduled_restart'] = { ...scheduled.raw, postmaster_start_time: scheduled.postmasterStartTime };
  if (a.cluster.dynamic.pause) extra['pause'] = true;
  if (Object.keys(extra).length > 0) data.extra = extra;
  return data;
}
