/**
 * What this agent publishes in members/<name>, in Patroni's vocabulary: state, role,
 * WAL position, timeline, tags (boolean tags that are false are omitted, as Patroni does).
 */
import type { MemberData } from '../dcs/types.js';
import type { NodeRuntime } from './runtime.js';
import { formatConnUrl } from '../postgres/conn-url.js';
import { KEEL_VERSION } from '../version.js';

const BOOLEAN_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

export function effectiveTags(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([key, value]) => !BOOLEAN_TAGS.has(key) || value === true));
}

/** Patroni's member `state` for what PostgreSQL and our background task are doing now. */
export function memberState(rt: NodeRuntime): string {
  const task = rt.task.running?.kind;
  if (task === 'bootstrap') return 'initializing new cluster';
  if (task === 'clone' || task === 'reinit') return 'creating replica';
  if (task === 'rewind') return 'rewinding';
  if (task === 'demote' || task === 'promote') return rt.probe !== null ? 'running' : 'starting';
  if (rt.probe !== null) return 'running';
  if (task === 'start') return 'starting';
  if (rt.crashedSinceMs !== null) return 'crashed';
  return 'stopped';
}

/** The role PostgreSQL has now (probe), or is configured for when it does not answer. */
export function currentRole(rt: NodeRuntime): 'primary' | 'replica' | 'uninitialized' {
  if (rt.probe !== null) return rt.probe.inRecovery ? 'replica' : 'primary';
  if (rt.systemIdentifier === null && rt.task.running?.kind !== 'bootstrap') return 'uninitialized';
  return rt.recovery === null ? 'primary' : 'replica';
}

/** The member key spells a primary 'master', as Patroni 3.0.2 does. */
export function memberRole(rt: NodeRuntime): string {
  const role = currentRole(rt);
  return role === 'primary' ? 'master' : role;
}

export function buildMemberData(rt: NodeRuntime): MemberData {
  const pgc = rt.local.postgresql;
  const api = rt.local.restapi.connectAddress;
  const probe = rt.probe;
  const data: MemberData = {
    connUrl: formatConnUrl(pgc.connectAddress.host, pgc.connectAddress.port),
    apiUrl: `http://${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}/patroni`,
    state: memberState(rt),
    role: memberRole(rt),
    version: KEEL_VERSION,
    tags: effectiveTags(rt.local.tags.raw),
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
  if (rt.dynamic.pause) data.extra = { pause: true };
  return data;
}
