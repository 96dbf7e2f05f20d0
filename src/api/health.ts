/**
 * The health endpoints' status codes: the rule table of Patroni 3.0.2's RestApiHandler.do_GET,
 * do_GET_liveness and do_GET_readiness, as one pure function of the node's status.
 *
 * The rules (Patroni 3.0.2, patroni/api.py):
 *  - leader / primary / standby-leader codes:
 *      * no fresh DCS snapshot and paused: judged from the reported role alone
 *        (leader: master or standby_leader; primary: master; standby-leader: standby_leader);
 *      * otherwise holding the leader lock: leader 200; in a standby cluster primary and replica
 *        503 and standby-leader 200 when the role is replica or standby_leader; else primary 200;
 *      * otherwise all 503 — a primary that lost the lock answers 503 on /primary and /leader;
 *  - replica code: 200 only for role 'replica' in state 'running', without a truthy
 *    noloadbalance tag, not lagging: lagging means the cluster's last leader optime is known
 *    (non-zero) and exceeds replayed_location + ?lag= (no limit when lag is absent or unreadable).
 *    Streaming is not checked by a bare /replica (3.0.2 has no replication_state), but keel
 *    answers 503 to `?lag=` and `?replication_state=streaming` when the WAL receiver does not
 *    stream (issue 6: a replica that receives nothing is stale, whatever its lag shows);
 *  - /read-only: 200 if the primary or standby-leader code is 200, else the replica code;
 *  - /health: 200 when the reported state is 'running';
 *  - /sync, /synchronous, /async, /asynchronous, /read-only-sync(hronous): 503 without a fresh
 *    DCS snapshot; otherwise the replica code when the node is (resp. is not) a sync standby,
 *    and read-only-sync answers 200 for a primary/standby leader; /quorum and /read-only-quorum
 *    (Patroni 4) the same for a quorum standby, and /async means neither sync nor quorum;
 *  - `tag_<name>=<value>` query filters apply to every path except leader/primary/read-write/
 *    standby-leader, and only turn a 200 into 503: the tag must be among the published tags
 *    (false-valued nofailover/noloadbalance/clonefrom/nosync are not published) and equal the
 *    value, non-strings compared as Python's str(value).lower() ("true", "1");
 *  - /liveness: 200 when paused, or when the next HA cycle is not overdue by more than ttl
 *    (running primary) or 2 x ttl (anyone else);
 *  - /readiness: 200 when holding the leader lock, or PostgreSQL is running and the DCS
 *    snapshot is fresh; else 503.
 * Query strings are read like Python's parse_qs: empty values are ignored, the first value wins.
 * An unknown path answers 404 (Patroni answers 503 for any GET it cannot route).
 */
import { pyStr, pyTruthy } from '../patroni/python-compat.js';
import { parseSizeBytes } from './lag.js';
import { reportedPostgres, type Reported } from './reported.js';
import type { NodeStatus } from './status.js';
import { publishedTags } from './tags.js';

export type HealthCode = 200 | 503 | 404;

/** Every path healthResponse answers (other than 404). */
export const HEALTH_PATHS: readonly string[] = [
  '/',
  '/primary',
  '/master',
  '/leader',
  '/read-write',
  '/standby-leader',
  '/standby_leader',
  '/replica',
  '/read-only',
  '/synchronous',
  '/sync',
  '/asynchronous',
  '/async',
  '/read-only-sync',
  '/read-only-synchronous',
  '/quorum',
  '/read-only-quorum',
  '/health',
  '/liveness',
  '/readiness',
];

const KNOWN: ReadonlySet<string> = new Set(HEALTH_PATHS);

type Code = 200 | 503;

interface RoleCodes {
  leader: Code;
  primary: Code;
  standbyLeader: Code;
  replica: Code;
}

/** '/replica/' and '/replica' are the same endpoint; '' is '/'. */
export function normalisePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** First non-empty value of a query parameter, as Python's parse_qs(...)[key][0] sees it. */
function firstValue(query: URLSearchParams, key: string): string | undefined {
  return query.getAll(key).find((value) => value !== '');
}

function lagLimitBytes(query: URLSearchParams): number {
  const raw = firstValue(query, 'lag');
  const parsed = raw === undefined ? null : parseSizeBytes(raw);
  return parsed ?? Number.POSITIVE_INFINITY;
}

function replicaCode(status: NodeStatus, reported: Reported, query: URLSearchParams): Code {
  const leaderOptime = status.cluster?.lastLsn ?? 0;
  const xlog = reported.query?.xlog;
  const replayed = xlog !== undefined && xlog.kind === 'replica' ? xlog.replayedLocation : 0;
  const lagLimit = lagLimitBytes(query);
  const lagging = leaderOptime > 0 && leaderOptime > replayed + lagLimit;
  // keel (issue 6): asking for a lag bound, or for replication_state=streaming (Patroni >= 4.1),
  // excludes a replica whose WAL receiver gets nothing: its lag only looks small until writes come.
  const mustStream = Number.isFinite(lagLimit) || firstValue(query, 'replication_state') === 'streaming';
  const stale = mustStream && !status.replicaStreaming;
  const noloadbalance = pyTruthy(publishedTags(status)['noloadbalance']);
  return !noloadbalance && !lagging && !stale && reported.role === 'replica' && reported.state === 'running' ? 200 : 503;
}

function roleCodes(status: NodeStatus, reported: Reported, query: URLSearchParams): RoleCodes {
  const replica = replicaCode(status, reported, query);
  const role = reported.role;
  const when = (condition: boolean): Code => (condition ? 200 : 503);
  if (status.cluster === null && status.paused) {
    return {
      leader: when(role === 'master' || role === 'primary' || role === 'standby_leader'),
      primary: when(role === 'master' || role === 'primary'),
      standbyLeader: when(role === 'standby_leader'),
      replica,
    };
  }
  if (status.holdsLeaderLock) {
    if (status.standbyCluster) {
      return { leader: 200, primary: 503, standbyLeader: when(role === 'replica' || role === 'standby_leader'), replica: 503 };
    }
    return { leader: 200, primary: 200, standbyLeader: 503, replica };
  }
  return { leader: 503, primary: 503, standbyLeader: 503, replica };
}

/** Codes for paths that ignore tag filters. */
const TAGLESS: Readonly<Record<string, (codes: RoleCodes) => Code>> = {
  '/': (c) => c.primary,
  '/primary': (c) => c.primary,
  '/master': (c) => c.primary,
  '/read-write': (c) => c.primary,
  '/leader': (c) => c.leader,
  '/standby-leader': (c) => c.standbyLeader,
  '/standby_leader': (c) => c.standbyLeader,
};

function taggedPathCode(path: string, codes: RoleCodes, reported: Reported, status: NodeStatus): Code {
  const leaderLike = codes.primary === 200 || codes.standbyLeader === 200;
  switch (path) {
    case '/replica':
      return codes.replica;
    case '/read-only':
      return leaderLike ? 200 : codes.replica;
    case '/health':
      return reported.state === 'running' ? 200 : 503;
    default:
      break;
  }
  if (status.cluster === null) return 503;
  const synchronous = reported.syncStandby;
  const quorum = reported.quorumStandby;
  if (path === '/sync' || path === '/synchronous') return synchronous ? codes.replica : 503;
  if (path === '/quorum') return quorum ? codes.replica : 503;
  if (path === '/async' || path === '/asynchronous') return synchronous || quorum ? 503 : codes.replica;
  if (leaderLike) return 200;
  // '/read-only-quorum', '/read-only-sync' and '/read-only-synchronous'
  if (path === '/read-only-quorum') return quorum ? codes.replica : 503;
  return synchronous ? codes.replica : 503;
}

/** Whether the `tag_<name>=<value>` filters of the query all match the published tags. */
function tagsMatch(status: NodeStatus, query: URLSearchParams): boolean {
  // HAProxy's checks carry no query: answer them without building the tags (issue 12).
  if (query.size === 0) return true;
  const tags = publishedTags(status);
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (seen.has(key) || !key.startsWith('tag_')) continue;
    seen.add(key);
    const wanted = firstValue(query, key);
    if (wanted === undefined) continue;
    const name = key.slice('tag_'.length);
    const actual = Object.hasOwn(tags, name) ? tags[name] : undefined;
    if (actual === undefined || actual === null) return false;
    const text = typeof actual === 'string' ? actual : pyStr(actual).toLowerCase();
    if (text !== wanted) return false;
  }
  return true;
}

const POSTMASTER_UP: ReadonlySet<string> = new Set(['running', 'starting', 'stopping', 'restarting']);

function livenessCode(status: NodeStatus, nowMs: number): Code {
  const runningPrimary = status.role === 'primary' && POSTMASTER_UP.has(status.state);
  // A replica may tolerate a stuck HA loop longer; a primary's stops its leader key from being
  // refreshed anyway, so its probe fails about when the key expires.
  const thresholdMs = status.haLoop.ttlMs * (runningPrimary ? 1 : 2);
  return status.paused || status.haLoop.nextRunAtMs + thresholdMs > nowMs ? 200 : 503;
}

function readinessCode(status: NodeStatus): Code {
  if (status.holdsLeaderLock) return 200;
  return status.state === 'running' && status.cluster !== null ? 200 : 503;
}

/**
 * The status code Patroni 3.0.2 answers for a health endpoint (GET, HEAD and OPTIONS alike).
 * `nowMs` is the current time on the monotonic clock `status.haLoop.nextRunAtMs` is measured on;
 * only /liveness reads it.
 */
export function healthResponse(path: string, query: URLSearchParams, status: NodeStatus, nowMs: number): { code: HealthCode } {
  const normalised = normalisePath(path);
  if (!KNOWN.has(normalised)) return { code: 404 };
  if (normalised === '/liveness') return { code: livenessCode(status, nowMs) };
  if (normalised === '/readiness') return { code: readinessCode(status) };
  const reported = reportedPostgres(status);
  const codes = roleCodes(status, reported, query);
  const tagless = TAGLESS[normalised];
  if (tagless !== undefined) return { code: tagless(codes) };
  const code = taggedPathCode(normalised, codes, reported, status);
  return { code: code === 200 && !tagsMatch(status, query) ? 503 : code };
}
