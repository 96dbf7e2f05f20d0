/**
 * The cluster as Patroni 3.0.2 describes it on GET /cluster and GET /history, built from one DCS
 * snapshot. patronictl's `list` is rendered from the same JSON (src/cli/list-render.ts), as in Patroni.
 *
 * Facts this reproduces (Patroni 3.0.2, utils.cluster_as_json and dcs/etcd3.py):
 *  - members are sorted by name (code-point order);
 *  - role: the leader key's holder is 'leader' ('standby_leader' when the config key has a
 *    standby_cluster section with host, port or restore_command); names in the sync key's
 *    sync_standby list are 'sync_standby', or 'quorum_standby' when the config key says
 *    `synchronous_mode: quorum` (Patroni 4); everyone else is 'replica';
 *  - lag is only given for non-leaders: (cluster optime - member xlog_location), 0 when the
 *    member is ahead, 'unknown' when it publishes no xlog_location. The cluster optime is the
 *    status key's "optime" (0 when there is no status key) — never the leader member's own
 *    xlog_location;
 *  - host/port come from the member's conn_kwargs, else from its conn_url (host lower-cased,
 *    port 5432 when the URL has none); members without either have no host or port;
 *  - state: the member's published state, except that a non-leader publishing replication_state
 *    shows that ('streaming'), as Patroni >= 3.1 does (keel members publish it only while their
 *    WAL receiver streams; Patroni 3.0.2 members never publish it, so their rows are unchanged);
 *  - timeline, pending_restart, scheduled_restart and tags are copied as published, when present;
 *  - `pause: true` only when the config key's `pause` parses as true; `scheduled_switchover`
 *    only when the failover key has scheduled_at, printed as Python's isoformat().
 * Field order matches Patroni's so a serialised response is byte-identical.
 */
import type { ClusterView, Member } from '../dcs/types.js';
import { pythonIsoformat } from './iso-datetime.js';
import { asJsonValue, compareCodePoints, isPlainObject, parseBool, pyInt, pyTruthy, pyUrlHostPort, type JsonValue } from './python-compat.js';

export type ClusterRole = 'leader' | 'replica' | 'sync_standby' | 'quorum_standby' | 'standby_leader';

/** One entry of GET /cluster's `members`, keys in Patroni's order. */
export interface ClusterJsonMember {
  name: string;
  role: ClusterRole;
  /** The member's published `state` ('' when it publishes none). */
  state: JsonValue;
  /** The member's published `api_url` (null when none). */
  api_url: JsonValue;
  host?: JsonValue;
  port?: number;
  timeline?: JsonValue;
  pending_restart?: JsonValue;
  scheduled_restart?: JsonValue;
  tags?: JsonValue;
  /** Bytes behind the cluster optime, or 'unknown'; absent for the leader. */
  lag?: number | 'unknown';
}

export interface ScheduledSwitchoverJson {
  /** Python isoformat() of the failover key's scheduled_at. */
  at: string;
  from?: string;
  to?: string;
}

/** GET /cluster's body. */
export interface ClusterJson {
  members: ClusterJsonMember[];
  pause?: true;
  scheduled_switchover?: ScheduledSwitchoverJson;
}

/** One line of GET /history: [timeline, lsn, reason, timestamp?, new leader?]. */
export type HistoryJsonLine = [number, number, string, ...(string | null)[]];

const OPTIONAL_ATTRIBUTES = ['timeline', 'pending_restart', 'scheduled_restart', 'tags'] as const;

/** Whether maintenance mode is on: the config key's `pause`, parsed like Patroni's parse_bool. */
export function isPaused(view: ClusterView): boolean {
  return view.config !== null && parseBool(view.config.value['pause']) === true;
}

function isStandbyClusterConfig(value: unknown): boolean {
  return isPlainObject(value) && (pyTruthy(value['host']) || pyTruthy(value['port']) || pyTruthy(value['restore_command']));
}

function syncStandbyNames(view: ClusterView): Set<string> {
  const names = (view.sync?.value.syncStandbys ?? []).map((name) => name.trim()).filter((name) => name !== '');
  return new Set(names);
}

function roleOf(member: Member, view: ClusterView, syncNames: Set<string>): ClusterRole {
  if (member.name === view.leader?.name) {
    // Patroni ignores a config key it could not parse (modify_index 0).
    const config = view.config !== null && view.config.modRevision !== 0 ? view.config.value : {};
    return isStandbyClusterConfig(config['standby_cluster']) ? 'standby_leader' : 'leader';
  }
  if (!syncNames.has(member.name)) return 'replica';
  const mode = view.config?.value['synchronous_mode'];
  return typeof mode === 'string' && mode.trim().toLowerCase() === 'quorum' ? 'quorum_standby' : 'sync_standby';
}

/** Patroni's Member.conn_kwargs(): host and port, from conn_kwargs or else from conn_url. */
function endpointOf(member: Member): { host?: JsonValue; port?: number } {
  const connKwargs = member.data['conn_kwargs'];
  if (isPlainObject(connKwargs) && pyTruthy(connKwargs)) {
    if (!pyTruthy(connKwargs['host'])) return {};
    const port = pyTruthy(connKwargs['port']) ? pyInt(connKwargs['port']) : undefined;
    return port === undefined ? { host: asJsonValue(connKwargs['host']) } : { host: asJsonValue(connKwargs['host']), port };
  }
  const published = member.data['conn_url'];
  const connUrl = typeof published === 'string' && published !== '' ? published : member.connUrl;
  if (connUrl === null || connUrl === '') return {};
  const { hostname, port } = pyUrlHostPort(connUrl);
  if (hostname === null) return {};
  // Python: `r.port or 5432` (a port of 0 or none means 5432).
  return { host: hostname, port: port === undefined || port === null || port === 0 ? 5432 : port };
}

function lagOf(member: Member, clusterLsn: number): number | 'unknown' {
  const published = member.data['xlog_location'];
  const lsn = typeof published === 'number' ? published : member.xlogLocation;
  if (lsn === null || lsn === undefined) return 'unknown';
  return clusterLsn >= lsn ? clusterLsn - lsn : 0;
}

/**
 * Patroni >= 3.1: a non-leader shows its replication_state ('streaming') when it publishes one,
 * else its state; so a streaming replica reads 'streaming' and one that receives nothing 'running'.
 */
function memberStateJson(member: Member, view: ClusterView): JsonValue {
  const data = member.data;
  const replicationState = member.name === view.leader?.name ? undefined : data['replication_state'];
  if (typeof replicationState === 'string' && replicationState !== '') return replicationState;
  return 'state' in data ? asJsonValue(data['state']) : '';
}

function memberJson(member: Member, view: ClusterView, syncNames: Set<string>, clusterLsn: number): ClusterJsonMember {
  const data = member.data;
  const entry: ClusterJsonMember = {
    name: member.name,
    role: roleOf(member, view, syncNames),
    state: memberStateJson(member, view),
    api_url: 'api_url' in data ? asJsonValue(data['api_url']) : member.apiUrl,
  };
  const { host, port } = endpointOf(member);
  if (host !== undefined) {
    entry.host = host;
    if (port !== undefined) entry.port = port;
  }
  for (const attribute of OPTIONAL_ATTRIBUTES) {
    if (attribute in data) entry[attribute] = asJsonValue(data[attribute]);
  }
  if (member.name !== view.leader?.name) entry.lag = lagOf(member, clusterLsn);
  return entry;
}

function scheduledSwitchover(view: ClusterView): ScheduledSwitchoverJson | undefined {
  const failover = view.failover?.value;
  if (failover === undefined || failover.scheduledAt === undefined || failover.scheduledAt === '') return undefined;
  const result: ScheduledSwitchoverJson = { at: pythonIsoformat(failover.scheduledAt) };
  if (failover.leader !== undefined && failover.leader !== '') result.from = failover.leader;
  if (failover.candidate !== undefined && failover.candidate !== '') result.to = failover.candidate;
  return result;
}

/**
 * GET /cluster as Patroni 3.0.2 answers it. `options.paused` overrides the config key's `pause`
 * (e.g. when the caller already knows the dynamic config); by default it is read from view.config.
 */
export function clusterAsJson(view: ClusterView, options: { paused?: boolean } = {}): ClusterJson {
  const syncNames = syncStandbyNames(view);
  const clusterLsn = Math.trunc(view.status?.optime ?? 0);
  const members = view.members.map((member) => memberJson(member, view, syncNames, clusterLsn)).sort((a, b) => compareCodePoints(a.name, b.name));
  const result: ClusterJson = { members };
  if (options.paused ?? isPaused(view)) result.pause = true;
  const switchover = scheduledSwitchover(view);
  if (switchover !== undefined) result.scheduled_switchover = switchover;
  return result;
}

/** GET /history as Patroni 3.0.2 answers it: the history key's lines, [] when there is none. */
export function historyAsJson(view: ClusterView): HistoryJsonLine[] {
  return (view.history?.value ?? []).map((entry) => {
    const line: HistoryJsonLine = [entry.timeline, entry.lsn, entry.reason];
    if (entry.newLeader !== undefined) line.push(entry.timestamp ?? null, entry.newLeader);
    else if (entry.timestamp !== undefined) line.push(entry.timestamp);
    return line;
  });
}
