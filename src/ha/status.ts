/**
 * What the REST API shows: a NodeStatus snapshot built from the agent's parts, and the provider
 * the API server calls for /cluster, /history and /config. Read-only: nothing here changes the
 * agent's state (POST /failsafe goes to the FailsafeInbox, the one input the API has; PATCH/PUT
 * /config write the DCS config key through config-ops.ts, which the agent then reads like any change).
 */
import type { NodeStatus, PostgresFacts, PostgresState } from '../api/status.js';
import type { ApiProvider } from '../api/server.js';
import { clusterAsJson, historyAsJson } from '../patroni/cluster-json.js';
import { KEEL_VERSION } from '../version.js';
import type { AgentContext } from './context.js';
import { currentRole, memberState } from './member-data.js';
import { failoverOperations } from './switchover-api.js';
import { patchClusterConfig, putClusterConfig } from './config-ops.js';
import { MetricsExposition } from '../api/metrics.js';
import type { DecisionEntry } from './decision-log.js';
import { explainCluster } from './explain.js';
import { fetchPeers, PEER_TIMEOUT_MS } from './peers.js';

function postgresState(a: AgentContext): PostgresState {
  const state = memberState(a);
  return (state === 'rewinding' ? 'starting' : state) as PostgresState;
}

/**
 * Holds the leader lock (Patroni's is_leader): the key names us and our authority — the newest
 * confirmed keepalive, or in failsafe_mode the newest round of POST /failsafe all members
 * accepted — is younger than ttl.
 */
export function holdsLeaderLock(a: AgentContext, nowMs: number): boolean {
  const sent = a.lease.authoritySentMs();
  return a.cluster.view?.leader?.name === a.local().name && sent !== null && nowMs < sent + a.cluster.dynamic.ttlMs;
}

/** This node takes part in an active failsafe: as the leader continuing, or as a member that heard it within ttl. */
function failsafeActive(a: AgentContext, lastWhyKind: string | null, nowMs: number): boolean {
  return lastWhyKind === 'failsafeContinue' || a.failsafe.active(nowMs, a.cluster.dynamic.ttlMs);
}

export interface LoopFacts {
  lastWhyKind: string | null;
  lastWhy: string;
  nextRunAtMs: number;
}

export function buildNodeStatus(a: AgentContext, loop: LoopFacts): NodeStatus {
  const nowMs = a.ports.clock.now();
  const probe = a.pg.probe;
  const local = a.local();
  const dynamic = a.cluster.dynamic;
  // As Patroni: no cluster view once the last successful DCS read is older than ttl.
  const view = a.cluster.fresh(nowMs) ? a.cluster.view : null;
  return {
    patroni: { version: KEEL_VERSION, scope: local.scope, name: local.name },
    state: postgresState(a),
    role: currentRole(a),
    postgres:
      probe === null
        ? null
        : {
            postmasterStartTime: probe.postmasterStartTime,
            serverVersion: probe.serverVersion,
            timeline: probe.timeline,
            xlog: probe.inRecovery
              ? {
                  kind: 'replica',
                  receivedLocation: probe.receiveLsn,
                  replayedLocation: probe.replayLsn ?? 0,
                  replayedTimestamp: probe.replayTimestamp,
                  paused: probe.replayPaused,
                }
              : { kind: 'primary', location: probe.currentLsn ?? 0 },
            replication: probe.replication.map((r) => ({
              usename: r.usename,
              application_name: r.applicationName,
              client_addr: r.clientAddr,
              state: r.state,
              sync_state: r.syncState,
              sync_priority: r.syncPriority,
            })),
          },
    systemIdentifier: a.pg.systemIdentifier,
    tags: local.tags.raw,
    syncDisabled: false,
    pendingRestart: probe !== null && probe.pendingRestart.length > 0,
    scheduledRestart:
      a.scheduledRestart === null
        ? null
        : { ...a.scheduledRestart.raw, schedule: a.scheduledRestart.scheduleIso, postmaster_start_time: a.scheduledRestart.postmasterStartTime },
    watchdogFailed: local.watchdog.mode === 'required' && !a.ports.watchdog.observe().available,
    holdsLeaderLock: holdsLeaderLock(a, nowMs),
    cluster:
      view === null
        ? null
        : {
            leaderName: view.leader?.name ?? null,
            lastLsn: view.status?.optime ?? 0,
            synchronousMode: dynamic.synchronousMode,
            syncStandbys: view.sync?.value.syncStandbys ?? [],
          },
    paused: dynamic.pause,
    standbyCluster: false,
    failsafeActive: failsafeActive(a, loop.lastWhyKind, nowMs),
    dcsLastSeenS: a.cluster.lastSeenWallMs === null ? 0 : Math.floor(a.cluster.lastSeenWallMs / 1000),
    lastWhy: loop.lastWhy,
    replicaStreaming: probe !== null && probe.inRecovery && probe.walReceiverStatus === 'streaming',
    localOnlyCommits: a.pg.localOnlyCommits,
    haLoop: { nextRunAtMs: loop.nextRunAtMs, ttlMs: dynamic.ttlMs },
  };
}

/**
 * The status with WAL positions read now (GET /patroni, which peers read before a failover):
 * a replica's position in the last cycle's probe may be seconds old when its cycles are slow (a
 * slow DCS, a pause), and a candidate counting a quorum vote from such a replica would take it
 * for one not ahead of itself (simulator, sync family, seed 2 of the stall change: a commit
 * lost). Patroni, too, queries PostgreSQL for every GET /patroni. When the query fails, or the
 * server changed role since the probe, no position is published (a peer then counts none).
 */
export async function statusWithWalNow(a: AgentContext, status: NodeStatus): Promise<NodeStatus> {
  const facts = status.postgres;
  if (facts === null) return status;
  const now = await a.ports.postgres.walPositions().catch(() => null);
  if (now === null || now.inRecovery !== (facts.xlog.kind === 'replica')) return { ...status, postgres: null };
  const xlog: PostgresFacts['xlog'] =
    facts.xlog.kind === 'primary'
      ? { kind: 'primary', location: now.currentLsn ?? facts.xlog.location }
      : { ...facts.xlog, receivedLocation: now.receiveLsn, replayedLocation: now.replayLsn ?? facts.xlog.replayedLocation };
  return { ...status, postgres: { ...facts, xlog } };
}

/** /cluster, /history and /config read etcd afresh (as Patroni does), falling back to the last view. */
export function buildApiProvider(
  a: AgentContext,
  status: () => NodeStatus,
  postFailsafe: (body: Record<string, unknown>) => { code: number; text: string },
  requestReload: () => void,
  operations: Pick<ApiProvider, 'postRestart' | 'deleteRestart' | 'postReinitialize'>,
  recentDecisions: () => DecisionEntry[] = () => [],
): ApiProvider {
  const freshView = async () => a.ports.dcs.loadCluster().catch(() => a.cluster.view);
  const failover = failoverOperations(a);
  const exposition = new MetricsExposition(a.metrics);
  return {
    getStatus: status,
    getStatusWithWalNow: () => statusWithWalNow(a, status()),
    getMetrics: () => exposition.render(status()),
    getDecisions: async (member) => {
      const self = a.local().name;
      if (member === null || member === self) return { name: self, decisions: recentDecisions() };
      // another member's, through its REST API (the status page is served by one member)
      const apiUrl = (await freshView())?.members.find((m) => m.name === member)?.apiUrl ?? null;
      return apiUrl === null ? null : a.ports.peers.status(new URL('/decisions', apiUrl).href, PEER_TIMEOUT_MS);
    },
    getExplain: async () => {
      const view = await freshView();
      if (view === null) return null;
      const statuses = await fetchPeers(a.ports.peers, view.members, '');
      const leader = view.leader?.name ?? null;
      const leaderAnswers = leader !== null && statuses.some((s) => s.name === leader && s.reachable);
      return { leader, leader_answers: leaderAnswers, ...explainCluster(view, statuses, new Date(a.ports.clock.wallMs()).toISOString()) };
    },
    getClusterJson: async () => {
      const view = await freshView();
      return view === null ? { members: [] } : clusterAsJson(view);
    },
    getHistory: async () => {
      const view = await freshView();
      return view === null ? [] : historyAsJson(view);
    },
    getFailoverRecords: async () => {
      const store = a.ports.failoverRecords;
      return store === undefined ? null : (await store.load()).records;
    },
    getConfig: async () => (await freshView())?.config?.value ?? {},
    postFailsafe: async (body) => postFailsafe(body),
    // Patroni's POST /reload: the same as SIGHUP, answered before the reload runs.
    postReload: async () => {
      requestReload();
      return { code: 202, text: 'reload scheduled' };
    },
    memberHosts: () => memberHosts(a),
    postSwitchover: (body) => failover.post('switchover', body),
    postFailover: (body) => failover.post('failover', body),
    deleteSwitchover: () => failover.deleteScheduled(),
    patchConfig: (body) => patchClusterConfig(a.ports.dcs, body),
    putConfig: (body) => putClusterConfig(a.ports.dcs, body),
    ...operations,
  };
}

/** The hosts of every member's api_url and conn_url in the last cluster view (Patroni's get_members_ips). */
function memberHosts(a: AgentContext): string[] {
  const hosts = new Set<string>();
  for (const m of a.cluster.view?.members ?? []) {
    for (const url of [m.apiUrl, m.connUrl]) {
      if (url === null) continue;
      try {
        const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
        if (host !== '') hosts.add(host);
      } catch {
        // an unparsable URL names no host
      }
    }
  }
  return [...hosts];
}
