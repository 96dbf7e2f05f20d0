/**
 * Patroni 3.0.2's key layout in etcd and the exact values it writes and reads, as pure functions.
 *
 * Layout: every key of a cluster lives under `/<namespace>/<scope>/` (slashes collapsed, as
 * Patroni builds `_base_path`): initialize, config, leader, members/<name>, history, failover,
 * sync, status, failsafe, and the legacy optime/leader.
 * Values: `leader` and `initialize` are plain text; everything else is JSON written compactly
 * (Python's json.dumps with separators=(',', ':')), so keel's writes are byte-for-byte what
 * Patroni would write for the same data and Patroni reads keel's keys unchanged.
 * Parsers are as tolerant as Patroni's: malformed JSON gives an empty/absent value, never a throw.
 * Not supported: Citus groups (`/<namespace>/<scope>/<group>/...`).
 */
import type { ClusterStatus, ClusterView, FailoverRequest, HistoryEntry, LeaderKey, Member, MemberData, SyncState, Versioned } from '../dcs/types.js';
import { parseJsonOr, pythonJsonDumps } from './python-json.js';

/** Key names relative to the cluster prefix (Patroni's AbstractDCS constants). */
export const KEY_NAMES = {
  initialize: 'initialize',
  config: 'config',
  leader: 'leader',
  failover: 'failover',
  history: 'history',
  members: 'members/',
  status: 'status',
  leaderOptime: 'optime/leader',
  sync: 'sync',
  failsafe: 'failsafe',
} as const;

export interface ClusterKeys {
  /** `/<namespace>/<scope>/`, with a trailing slash: the prefix every key of the cluster has. */
  prefix: string;
  initialize: string;
  config: string;
  leader: string;
  failover: string;
  history: string;
  membersPrefix: string;
  status: string;
  leaderOptime: string;
  sync: string;
  failsafe: string;
  member(name: string): string;
}

/** Namespace as Patroni's config loader normalises it: one leading and one trailing slash. */
export function normalizeNamespace(namespace: string): string {
  const trimmed = namespace.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '/' : `/${trimmed}/`;
}

/** `/<namespace>/<scope>/` with runs of slashes collapsed (Patroni: re.sub('/+', '/', ...)). */
export function clusterPrefix(namespace: string, scope: string): string {
  return `${['', namespace, scope].join('/').replace(/\/+/g, '/')}/`.replace(/\/+$/, '/');
}

export function clusterKeys(namespace: string, scope: string): ClusterKeys {
  const prefix = clusterPrefix(namespace, scope);
  return {
    prefix,
    initialize: prefix + KEY_NAMES.initialize,
    config: prefix + KEY_NAMES.config,
    leader: prefix + KEY_NAMES.leader,
    failover: prefix + KEY_NAMES.failover,
    history: prefix + KEY_NAMES.history,
    membersPrefix: prefix + KEY_NAMES.members,
    status: prefix + KEY_NAMES.status,
    leaderOptime: prefix + KEY_NAMES.leaderOptime,
    sync: prefix + KEY_NAMES.sync,
    failsafe: prefix + KEY_NAMES.failsafe,
    member: (name: string) => prefix + KEY_NAMES.members + name,
  };
}

// ---- small tolerant readers ----

type JsonRecord = Record<string, unknown>;

function asRecord(value: unknown): JsonRecord | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** An integer given as a JSON number or a decimal string (Patroni calls int() on these). */
function integerOrNull(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return null;
}

// ---- member keys ----

/**
 * Field order of the member JSON as Patroni's Ha.touch_member builds it (3.0.2, plus fields later
 * Patroni versions insert: pending_restart_reason, replay_lsn, receive_lsn, replication_state).
 * Fields outside this list (keel's own extras) follow in the order given.
 */
export const MEMBER_FIELD_ORDER = [
  'conn_url',
  'api_url',
  'state',
  'role',
  'version',
  'proxy_url',
  'checkpoint_after_promote',
  'tags',
  'pending_restart',
  'pending_restart_reason',
  'xlog_location',
  'replay_lsn',
  'receive_lsn',
  'replication_state',
  'timeline',
  'scheduled_restart',
  'pause',
] as const;

/**
 * The member object Patroni would publish for `data`: tags only when non-empty, WAL positions
 * only when known, timeline / receive / replay / replication_state only when truthy (Patroni's
 * `if timeline:` etc.).
 */
export function memberObject(data: MemberData): JsonRecord {
  const fields: JsonRecord = { ...(data.extra ?? {}) };
  fields['conn_url'] = data.connUrl;
  fields['api_url'] = data.apiUrl;
  fields['state'] = data.state;
  fields['role'] = data.role;
  fields['version'] = data.version;
  setOrDelete(fields, 'tags', Object.keys(data.tags).length > 0 ? data.tags : undefined);
  setOrDelete(fields, 'xlog_location', data.xlogLocation);
  setOrDelete(fields, 'replay_lsn', data.replayLsn || undefined);
  setOrDelete(fields, 'receive_lsn', data.receiveLsn || undefined);
  setOrDelete(fields, 'replication_state', data.replicationState || undefined);
  setOrDelete(fields, 'timeline', data.timeline || undefined);
  const ordered: JsonRecord = {};
  for (const name of MEMBER_FIELD_ORDER) if (fields[name] !== undefined) ordered[name] = fields[name];
  for (const [name, value] of Object.entries(fields)) if (!(name in ordered) && value !== undefined) ordered[name] = value;
  return ordered;
}

function setOrDelete(fields: JsonRecord, name: string, value: unknown): void {
  if (value === undefined) delete fields[name];
  else fields[name] = value;
}

/** The member key's value, byte for byte as Patroni writes it. */
export function renderMemberValue(data: MemberData): string {
  return pythonJsonDumps(memberObject(data));
}

/**
 * A member key's value as Patroni's Member.from_node reads it: JSON object, or the legacy
 * Governor form `postgres://user:pass@host:port/db?application_name=<api_url>`; anything else
 * gives an empty object.
 */
export function parseMemberData(value: string): JsonRecord {
  if (value.startsWith('postgres')) {
    const queryAt = value.indexOf('?');
    if (queryAt < 0) return { conn_url: value, api_url: null };
    const hashAt = value.indexOf('#', queryAt);
    const query = value.slice(queryAt + 1, hashAt < 0 ? undefined : hashAt);
    const fragment = hashAt < 0 ? '' : value.slice(hashAt);
    return { conn_url: value.slice(0, queryAt) + fragment, api_url: new URLSearchParams(query).get('application_name') };
  }
  return asRecord(parseJsonOr(value, null)) ?? {};
}

/** conn_url, or one built from conn_kwargs like Patroni's Member.conn_url. */
function memberConnUrl(data: JsonRecord): string | null {
  const connUrl = data['conn_url'];
  if (typeof connUrl === 'string' && connUrl !== '') return connUrl;
  const kwargs = asRecord(data['conn_kwargs']);
  if (kwargs === null) return null;
  const host = typeof kwargs['host'] === 'string' ? kwargs['host'] : '';
  const port = kwargs['port'] ?? 5432;
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `postgresql://${bracketed}${port === '' || port === null ? '' : `:${String(port)}`}`;
}

export function parseMember(name: string, modRevision: number, leaseId: string | null, value: string): Member {
  const data = parseMemberData(value);
  return {
    name,
    modRevision,
    leaseId,
    connUrl: memberConnUrl(data),
    apiUrl: stringOrNull(data['api_url']),
    state: stringOrNull(data['state']) ?? 'unknown',
    role: stringOrNull(data['role']) ?? '',
    xlogLocation: integerOrNull(data['xlog_location']),
    receiveLsn: integerOrNull(data['receive_lsn']),
    replayLsn: integerOrNull(data['replay_lsn']),
    replicationState: stringOrNull(data['replication_state']),
    timeline: integerOrNull(data['timeline']),
    tags: asRecord(data['tags']) ?? {},
    data,
  };
}

// ---- failover ----

/** {"leader":..,"member":..,"scheduled_at":..}: Patroni's manual_failover; the candidate is `member`. */
export function renderFailover(value: FailoverRequest): string {
  const fields: JsonRecord = {};
  if (value.leader) fields['leader'] = value.leader;
  if (value.candidate) fields['member'] = value.candidate;
  if (value.scheduledAt) fields['scheduled_at'] = value.scheduledAt;
  return pythonJsonDumps(fields);
}

/**
 * Failover.from_node: a JSON object, or the legacy "leader:candidate" text. An empty request
 * ({} — what Patroni writes to clear it) parses to {} and means "no failover pending".
 */
export function parseFailover(value: string): FailoverRequest {
  let data: JsonRecord;
  try {
    data = asRecord(JSON.parse(value) as unknown) ?? {};
  } catch {
    const [leader = '', candidate = ''] = value.split(':').map((part) => part.trim());
    return withoutEmpty({ leader, candidate });
  }
  return withoutEmpty({
    leader: stringOrNull(data['leader']) ?? '',
    candidate: stringOrNull(data['member']) ?? '',
    scheduledAt: stringOrNull(data['scheduled_at']) ?? '',
  });
}

function withoutEmpty(fields: { leader: string; candidate: string; scheduledAt?: string }): FailoverRequest {
  const request: FailoverRequest = {};
  if (fields.leader !== '') request.leader = fields.leader;
  if (fields.candidate !== '') request.candidate = fields.candidate;
  if (fields.scheduledAt !== undefined && fields.scheduledAt !== '') request.scheduledAt = fields.scheduledAt;
  return request;
}

/** Whether a parsed failover key asks for anything (Patroni: len(failover) > 0). */
export function isFailoverPending(value: FailoverRequest | null | undefined): boolean {
  return value !== null && value !== undefined && (value.leader !== undefined || value.candidate !== undefined);
}

// ---- sync ----

/** {"leader":..,"quorum":N,"sync_standby":"a,b"} with names sorted, null when there is none (Patroni 4's AbstractDCS.sync_state). */
export function renderSync(value: SyncState): string {
  const standbys = [...value.syncStandbys].sort();
  return pythonJsonDumps({ leader: value.leader, quorum: value.quorum, sync_standby: standbys.length > 0 ? standbys.join(',') : null });
}

export function parseSync(value: string): SyncState {
  const data = asRecord(parseJsonOr(value, null));
  if (data === null) return { leader: null, syncStandbys: [], quorum: 0 };
  const standbys = stringOrNull(data['sync_standby']) ?? '';
  const quorum = data['quorum'];
  return {
    leader: stringOrNull(data['leader']),
    quorum: typeof quorum === 'number' && Number.isInteger(quorum) && quorum >= 0 ? quorum : 0,
    syncStandbys: standbys
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  };
}

// ---- history ----

/** [[timeline, lsn, reason, timestamp?, new_leader?], ...] as Ha.update_cluster_history writes it. */
export function renderHistory(entries: HistoryEntry[]): string {
  return pythonJsonDumps(
    entries.map((entry) => {
      const line: unknown[] = [entry.timeline, entry.lsn, entry.reason];
      if (entry.timestamp !== undefined || entry.newLeader !== undefined) line.push(entry.timestamp ?? null);
      if (entry.newLeader !== undefined) line.push(entry.newLeader);
      return line;
    }),
  );
}

/** Lines that are not [int, int, text, ...] are skipped; a value that is not a list gives []. */
export function parseHistory(value: string): HistoryEntry[] {
  const lines = parseJsonOr(value, null);
  if (!Array.isArray(lines)) return [];
  const entries: HistoryEntry[] = [];
  for (const line of lines) {
    if (!Array.isArray(line) || line.length < 3) continue;
    const timeline = integerOrNull(line[0]);
    const lsn = integerOrNull(line[1]);
    if (timeline === null || lsn === null) continue;
    const entry: HistoryEntry = { timeline, lsn, reason: typeof line[2] === 'string' ? line[2] : String(line[2]) };
    if (typeof line[3] === 'string') entry.timestamp = line[3];
    if (typeof line[4] === 'string') entry.newLeader = line[4];
    entries.push(entry);
  }
  return entries;
}

// ---- status, failsafe, config ----

/** {"optime":N,"slots":{...}}: slots only when there are some (AbstractDCS.update_leader). */
export function renderStatus(value: ClusterStatus): string {
  const fields: JsonRecord = {};
  if (value.optime !== null) fields['optime'] = value.optime;
  if (Object.keys(value.slots).length > 0) fields['slots'] = value.slots;
  return pythonJsonDumps(fields);
}

export function parseStatus(value: string): ClusterStatus {
  const data = asRecord(parseJsonOr(value, null));
  if (data === null) return { optime: null, slots: {} };
  const slots: Record<string, number> = {};
  for (const [name, position] of Object.entries(asRecord(data['slots']) ?? {})) {
    const lsn = integerOrNull(position);
    if (lsn !== null) slots[name] = lsn;
  }
  return { optime: integerOrNull(data['optime']), slots };
}

export function renderFailsafe(value: Record<string, string>): string {
  return pythonJsonDumps(value);
}

/** member name -> api_url; null when malformed (Patroni: failsafe = None). */
export function parseFailsafe(value: string): Record<string, string> | null {
  const data = asRecord(parseJsonOr(value, null));
  if (data === null) return null;
  const failsafe: Record<string, string> = {};
  for (const [name, url] of Object.entries(data)) if (typeof url === 'string') failsafe[name] = url;
  return failsafe;
}

export function renderConfig(value: Record<string, unknown>): string {
  return pythonJsonDumps(value);
}

/** ClusterConfig.from_node: anything but a JSON object reads as {}. */
export function parseConfig(value: string): Record<string, unknown> {
  return asRecord(parseJsonOr(value, null)) ?? {};
}

// ---- the whole cluster ----

/** One stored key as the view builder needs it (a subset of the etcd KeyValue). */
export interface StoredKey {
  key: string;
  value: string;
  modRevision: number;
  lease: string | null;
}

/**
 * The ClusterView of every key under `prefix` read at `revision` (Etcd3._cluster_from_nodes).
 * Keys outside the prefix and members/ keys with further slashes are ignored.
 */
export function buildClusterView(prefix: string, revision: number, keys: StoredKey[]): ClusterView {
  const nodes = new Map<string, StoredKey>();
  for (const node of keys) if (node.key.startsWith(prefix)) nodes.set(node.key.slice(prefix.length), node);
  const versioned = <T>(name: string, parse: (value: string) => T): Versioned<T> | null => {
    const node = nodes.get(name);
    return node === undefined ? null : { value: parse(node.value), modRevision: node.modRevision };
  };

  const members: Member[] = [];
  for (const [name, node] of nodes) {
    if (!name.startsWith(KEY_NAMES.members)) continue;
    const memberName = name.slice(KEY_NAMES.members.length);
    if (memberName === '' || memberName.includes('/')) continue;
    members.push(parseMember(memberName, node.modRevision, node.lease, node.value));
  }

  const leaderNode = nodes.get(KEY_NAMES.leader);
  const leader: LeaderKey | null = leaderNode === undefined ? null : { name: leaderNode.value, modRevision: leaderNode.modRevision, leaseId: leaderNode.lease };
  const failsafeNode = nodes.get(KEY_NAMES.failsafe);

  return {
    revision,
    initialize: nodes.get(KEY_NAMES.initialize)?.value ?? null,
    config: versioned(KEY_NAMES.config, parseConfig),
    leader,
    members,
    failover: versioned(KEY_NAMES.failover, parseFailover),
    sync: versioned(KEY_NAMES.sync, parseSync),
    history: versioned(KEY_NAMES.history, parseHistory),
    status: statusOf(nodes),
    failsafe: failsafeNode === undefined ? null : parseFailsafe(failsafeNode.value),
  };
}

/** `status` when present, else the legacy `optime/leader` plain LSN (Patroni < 2.1 writes it). */
function statusOf(nodes: Map<string, StoredKey>): ClusterStatus | null {
  const status = nodes.get(KEY_NAMES.status);
  if (status !== undefined) return parseStatus(status.value);
  const legacy = nodes.get(KEY_NAMES.leaderOptime);
  if (legacy === undefined) return null;
  return { optime: integerOrNull(legacy.value), slots: {} };
}
