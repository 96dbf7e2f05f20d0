/**
 * The health rules as a readable table: the situations operators and HAProxy care about, with
 * the code Patroni 3.0.2 answers (each also checked against the real Patroni handler in
 * recorded.test.ts). Some are surprising and deliberate: a leader whose PostgreSQL is down still
 * answers 200 on /primary, a replica whose WAL receiver is down still answers 200 on /replica,
 * a false-valued tag cannot be matched by ?tag_x=false.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthResponse, type NodeStatus } from '../../../src/api/status.js';
import { baseStatus } from './fixtures.js';

const NOW_MS = 100_000;

type Change = (status: NodeStatus) => void;

interface Row {
  what: string;
  base: 'primary' | 'replica';
  change?: Change;
  request: string;
  code: 200 | 503 | 404;
  nowMs?: number;
}

const lostLock: Change = (s) => {
  s.holdsLeaderLock = false;
  if (s.cluster !== null) s.cluster.leaderName = 'n2';
};
const lagging: Change = (s) => {
  if (s.cluster !== null) s.cluster.lastLsn = 100662272 + 2 * 1024 * 1024;
};
const notStreaming: Change = (s) => {
  if (s.postgres !== null && s.postgres.xlog.kind === 'replica') s.postgres.xlog.receivedLocation = null;
};
const stopped: Change = (s) => {
  s.state = 'stopped';
  s.postgres = null;
};
const tags =
  (value: Record<string, unknown>): Change =>
  (s) => {
    s.tags = value;
  };

const TABLE: Row[] = [
  { what: 'primary with the lock', base: 'primary', request: '/primary', code: 200 },
  { what: 'primary with the lock, root path', base: 'primary', request: '/', code: 200 },
  { what: 'primary with the lock, /leader', base: 'primary', request: '/leader', code: 200 },
  { what: 'primary with the lock is no replica', base: 'primary', request: '/replica', code: 503 },
  { what: 'primary with the lock is read-only capable', base: 'primary', request: '/read-only', code: 200 },
  { what: 'primary that lost the lock', base: 'primary', change: lostLock, request: '/primary', code: 503 },
  { what: 'primary that lost the lock, /leader', base: 'primary', change: lostLock, request: '/leader', code: 503 },
  { what: 'primary that lost the lock, /read-only', base: 'primary', change: lostLock, request: '/read-only', code: 503 },
  { what: 'primary that lost the lock is still healthy', base: 'primary', change: lostLock, request: '/health', code: 200 },
  { what: 'leader whose PostgreSQL is stopped still passes /primary', base: 'primary', change: stopped, request: '/primary', code: 200 },
  { what: 'leader whose PostgreSQL is stopped fails /health', base: 'primary', change: stopped, request: '/health', code: 503 },
  {
    what: 'DCS unreachable, lock still valid',
    base: 'primary',
    change: (s) => {
      s.cluster = null;
    },
    request: '/primary',
    code: 200,
  },
  {
    what: 'DCS unreachable and paused: judged by role',
    base: 'primary',
    change: (s) => {
      s.cluster = null;
      s.paused = true;
      s.holdsLeaderLock = false;
    },
    request: '/primary',
    code: 200,
  },
  {
    what: 'DCS unreachable, not paused, lock expired',
    base: 'primary',
    change: (s) => {
      s.cluster = null;
      s.holdsLeaderLock = false;
    },
    request: '/primary',
    code: 503,
  },
  { what: 'replica streaming', base: 'replica', request: '/replica', code: 200 },
  { what: 'replica streaming is not primary', base: 'replica', request: '/primary', code: 503 },
  { what: 'replica 1 kB behind, lag=1MB', base: 'replica', request: '/replica?lag=1MB', code: 200 },
  { what: 'replica 1 kB behind, lag=1023', base: 'replica', request: '/replica?lag=1023', code: 503 },
  { what: 'replica 1 kB behind, lag=16kB', base: 'replica', request: '/replica?lag=16kB', code: 200 },
  { what: 'replica 2 MB behind, lag=1MB', base: 'replica', change: lagging, request: '/replica?lag=1MB', code: 503 },
  { what: 'replica 2 MB behind, lag=3MB', base: 'replica', change: lagging, request: '/replica?lag=3MB', code: 200 },
  { what: 'replica 2 MB behind, unreadable lag is no limit', base: 'replica', change: lagging, request: '/replica?lag=1mb', code: 200 },
  { what: 'replica 2 MB behind, lag applies to /read-only', base: 'replica', change: lagging, request: '/read-only?lag=1MB', code: 503 },
  { what: 'replica 2 MB behind, lag ignored by /health', base: 'replica', change: lagging, request: '/health?lag=1MB', code: 200 },
  { what: 'replica not streaming still passes /replica', base: 'replica', change: notStreaming, request: '/replica', code: 200 },
  { what: 'replica with PostgreSQL stopped', base: 'replica', change: stopped, request: '/replica', code: 503 },
  { what: 'replica with PostgreSQL stopped, /read-only', base: 'replica', change: stopped, request: '/read-only', code: 503 },
  { what: 'replica with PostgreSQL stopped, /health', base: 'replica', change: stopped, request: '/health', code: 503 },
  {
    what: 'replica whose status query fails reports unknown',
    base: 'replica',
    change: (s) => {
      s.postgres = null;
    },
    request: '/replica',
    code: 503,
  },
  {
    what: 'replica starting',
    base: 'replica',
    change: (s) => {
      s.state = 'starting';
    },
    request: '/replica',
    code: 503,
  },
  { what: 'tag filter matches', base: 'replica', change: tags({ dc: 'dc1' }), request: '/replica?tag_dc=dc1', code: 200 },
  { what: 'tag filter differs', base: 'replica', change: tags({ dc: 'dc1' }), request: '/replica?tag_dc=dc2', code: 503 },
  { what: 'tag filter on a missing tag', base: 'replica', change: tags({}), request: '/replica?tag_dc=dc1', code: 503 },
  { what: 'boolean tag compared as Python str().lower()', base: 'replica', change: tags({ ssd: true }), request: '/replica?tag_ssd=true', code: 200 },
  { what: 'boolean tag, capitalised value', base: 'replica', change: tags({ ssd: true }), request: '/replica?tag_ssd=True', code: 503 },
  {
    what: 'false nofailover is not published, so cannot match',
    base: 'replica',
    change: tags({ nofailover: false }),
    request: '/replica?tag_nofailover=false',
    code: 503,
  },
  { what: 'empty tag value is ignored', base: 'replica', change: tags({}), request: '/replica?tag_dc=', code: 200 },
  { what: 'tag filters are ignored by /primary', base: 'primary', change: tags({}), request: '/primary?tag_dc=dc1', code: 200 },
  { what: 'tag filters apply to /read-only on the primary', base: 'primary', change: tags({}), request: '/read-only?tag_dc=dc1', code: 503 },
  { what: 'noloadbalance replica', base: 'replica', change: tags({ noloadbalance: true }), request: '/replica', code: 503 },
  { what: 'noloadbalance replica, /read-only', base: 'replica', change: tags({ noloadbalance: true }), request: '/read-only', code: 503 },
  { what: 'noloadbalance replica, /health', base: 'replica', change: tags({ noloadbalance: true }), request: '/health', code: 200 },
  { what: 'noloadbalance primary, /read-only', base: 'primary', change: tags({ noloadbalance: true }), request: '/read-only', code: 200 },
  { what: 'noloadbalance as the string "false" is truthy', base: 'replica', change: tags({ noloadbalance: 'false' }), request: '/replica', code: 503 },
  {
    what: 'paused cluster, replica',
    base: 'replica',
    change: (s) => {
      s.paused = true;
    },
    request: '/replica',
    code: 200,
  },
  {
    what: 'paused cluster, primary with lock',
    base: 'primary',
    change: (s) => {
      s.paused = true;
    },
    request: '/primary',
    code: 200,
  },
  {
    what: 'paused: liveness passes even with a stuck loop',
    base: 'replica',
    change: (s) => {
      s.paused = true;
    },
    request: '/liveness',
    code: 200,
    nowMs: 10_000_000,
  },
  { what: 'liveness, loop on time', base: 'replica', request: '/liveness', code: 200 },
  { what: 'liveness, replica loop 1.5 ttl late', base: 'replica', request: '/liveness', code: 200, nowMs: 145_000 },
  { what: 'liveness, replica loop 2.5 ttl late', base: 'replica', request: '/liveness', code: 503, nowMs: 175_000 },
  { what: 'liveness, primary loop 1.5 ttl late', base: 'primary', request: '/liveness', code: 503, nowMs: 145_000 },
  { what: 'readiness, replica running with a fresh DCS view', base: 'replica', request: '/readiness', code: 200 },
  {
    what: 'readiness, replica running without DCS',
    base: 'replica',
    change: (s) => {
      s.cluster = null;
    },
    request: '/readiness',
    code: 503,
  },
  { what: 'readiness, replica not running', base: 'replica', change: stopped, request: '/readiness', code: 503 },
  { what: 'readiness, leader with PostgreSQL down', base: 'primary', change: stopped, request: '/readiness', code: 200 },
  {
    what: 'sync standby, /sync',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'on', syncStandbys: ['n2'] };
    },
    request: '/sync',
    code: 200,
  },
  {
    what: 'sync standby, /async',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'on', syncStandbys: ['n2'] };
    },
    request: '/async',
    code: 503,
  },
  { what: 'async replica, /async', base: 'replica', request: '/async', code: 200 },
  {
    what: 'quorum standby, /quorum',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'quorum', syncStandbys: ['n2', 'n3'] };
    },
    request: '/quorum',
    code: 200,
  },
  {
    what: 'quorum standby, /read-only-quorum',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'quorum', syncStandbys: ['n2', 'n3'] };
    },
    request: '/read-only-quorum',
    code: 200,
  },
  {
    what: 'quorum standby, /sync (not a sync standby)',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'quorum', syncStandbys: ['n2', 'n3'] };
    },
    request: '/sync',
    code: 503,
  },
  {
    what: 'quorum standby, /async',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'quorum', syncStandbys: ['n2', 'n3'] };
    },
    request: '/async',
    code: 503,
  },
  {
    what: 'sync standby, /quorum',
    base: 'replica',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'on', syncStandbys: ['n2'] };
    },
    request: '/quorum',
    code: 503,
  },
  {
    what: 'primary in quorum mode, /read-only-quorum',
    base: 'primary',
    change: (s) => {
      s.cluster = { leaderName: 'n1', lastLsn: 0, synchronousMode: 'quorum', syncStandbys: ['n2', 'n3'] };
    },
    request: '/read-only-quorum',
    code: 200,
  },

  {
    what: 'async replica without DCS, /async',
    base: 'replica',
    change: (s) => {
      s.cluster = null;
    },
    request: '/async',
    code: 503,
  },
  {
    what: 'standby leader, /standby-leader',
    base: 'replica',
    change: (s) => {
      s.role = 'standby_leader';
      s.standbyCluster = true;
      s.holdsLeaderLock = true;
    },
    request: '/standby-leader',
    code: 200,
  },
  {
    what: 'standby leader, /primary',
    base: 'replica',
    change: (s) => {
      s.role = 'standby_leader';
      s.standbyCluster = true;
      s.holdsLeaderLock = true;
    },
    request: '/primary',
    code: 503,
  },
  {
    what: 'standby leader, /replica',
    base: 'replica',
    change: (s) => {
      s.role = 'standby_leader';
      s.standbyCluster = true;
      s.holdsLeaderLock = true;
    },
    request: '/replica',
    code: 503,
  },
  { what: 'trailing slash is the same endpoint', base: 'replica', request: '/replica/', code: 200 },
  { what: 'unknown path', base: 'replica', request: '/nope', code: 404 },
];

for (const row of TABLE) {
  test(`health: ${row.what} -> ${row.request} ${row.code}`, () => {
    const status = baseStatus(row.base);
    row.change?.(status);
    const mark = row.request.indexOf('?');
    const path = mark === -1 ? row.request : row.request.slice(0, mark);
    const query = new URLSearchParams(mark === -1 ? '' : row.request.slice(mark + 1));
    assert.equal(healthResponse(path, query, status, row.nowMs ?? NOW_MS).code, row.code);
  });
}
