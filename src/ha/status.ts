/**
 * What the REST API shows: a NodeStatus snapshot built from the agent's last observation, and
 * the provider the API server calls for /cluster, /history and /config. Read-only: nothing the
 * API asks for can change the agent's state.
 */
import type { NodeRuntime } from './runtime.js';
import type { NodeStatus, PostgresState } from '../api/status.js';
import { memberState, currentRole } from './member-data.js';
import { clusterAsJson, historyAsJson } from '../cluster/cluster-json.js';
import { KEEL_VERSION } from '../version.js';
import { acceptFailsafe, failsafeActive } from './failsafe.js';
import type { ApiProvider } from '../api/server.js';

function postgresState(rt: NodeRuntime): PostgresState {
  const state = memberState(rt);
  if (state === 'rewinding') return 'starting';
  return state as PostgresState;
}

/**
 * Holds the leader lock (Patroni's is_leader): the key names us and our authority — the newest
 * confirmed keepalive, or in failsafe_mode the newest round of POST /failsafe all members
 * accepted — is younger than ttl.
 */
export function holdsLeaderLock(rt: NodeRuntime, nowMs: number): boolean {
  const lease = rt.leaseConfirmedSentMs ?? -Infinity;
  const failsafe = rt.failsafeConfirmedSentMs ?? -Infinity;
  return rt.view?.leader?.name === rt.name && nowMs < Math.max(lease, failsafe) + rt.dynamic.ttlMs;
}

export function buildNodeStatus(rt: NodeRuntime): NodeStatus {
  const nowMs = performance.now();
  const probe = rt.probe;
  // As Patroni: no cluster view once the last successful DCS read is older than ttl.
  const fresh = rt.dcsLastOkMs !== null && nowMs - rt.dcsLastOkMs <= rt.dynamic.ttlMs;
  const view = fresh ? rt.view : null;
  return {
    patroni: { version: KEEL_VERSION, scope: rt.local.scope, name: rt.name },
    state: postgresState(rt),
    role: currentRole(rt),
    postgres:
      probe === null
        ? null
        : {
            postmasterStartTime: probe.postmasterStartTime,
            serverVersion: probe.serverVersion,
            timeline: probe.timeline,
            xlog: probe.inRecovery
              ? { kind: 'replica', receivedLocation: probe.receiveLsn, replayedLocation: probe.replayLsn ?? 0, replayedTimestamp: probe.replayTimestamp, paused: probe.replayPaused }
              : { kind: 'primary', location: probe.currentLsn ?? 0 },
            replication: probe.replication.map((r) => ({ usename: r.usename, application_name: r.applicationName, client_addr: r.clientAddr, state: r.state, sync_state: r.syncState, sync_priority: r.syncPriority })),
          },
    systemIdentifier: rt.systemIdentifier,
    tags: rt.local.tags.raw,
    syncDisabled: false,
    pendingRestart: false,
    scheduledRestart: null,
    watchdogFailed: rt.local.watchdog.mode === 'required' && !rt.watchdog.observe().available,
    holdsLeaderLock: holdsLeaderLock(rt, nowMs),
    cluster:
      view === null
        ? null
        : { leaderName: view.leader?.name ?? null, lastLsn: view.status?.optime ?? 0, synchronousMode: rt.dynamic.synchronousMode, syncStandbys: view.sync?.value.syncStandbys ?? [] },
    paused: rt.dynamic.pause,
    standbyCluster: false,
    failsafeActive: failsafeActive(rt, nowMs),
    dcsLastSeenS: rt.dcsLastSeenWallS ?? 0,
    lastWhy: rt.lastWhySentence,
    replicaStreaming: probe !== null && probe.inRecovery && probe.walReceiverStatus === 'streaming',
    haLoop: { nextRunAtMs: rt.nextCycleAtMs, ttlMs: rt.dynamic.ttlMs },
  };
}

/** /cluster, /history and /config read etcd afresh (as Patroni does), falling back to the last view. */
export function buildApiProvider(rt: NodeRuntime, status: () => NodeStatus): ApiProvider {
  const freshView = async () => rt.dcs.loadCluster().catch(() => rt.view);
  return {
    getStatus: status,
    getClusterJson: async () => {
      const view = await freshView();
      return view === null ? { members: [] } : clusterAsJson(view);
    },
    getHistory: async () => {
      const view = await freshView();
      return view === null ? [] : historyAsJson(view);
    },
    getConfig: async () => (await freshView())?.config?.value ?? {},
    postFailsafe: async (body) => acceptFailsafe(rt, body, performance.now()),
  };
}
