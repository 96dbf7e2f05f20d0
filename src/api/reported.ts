/**
 * Patroni 3.0.2's get_postgresql_status() as a typed value: what the API reports about
 * PostgreSQL, shared by the JSON body (status.ts) and the health rules (health.ts), so both
 * read the same role and state — Patroni's health codes are computed from that very dict.
 *
 * The rules reproduced:
 *  - the status query only runs in states running / restarting / starting; when it is not run
 *    or fails, only {state, role} are reported, with state 'running' turned into 'unknown';
 *  - role from the query: 'master' when not in recovery, else 'replica' — except in a standby
 *    cluster, where the managed role is shown ('standby_leader' or 'replica');
 *  - sync_standby only for a 'replica' listed in the sync key while synchronous_mode is on and
 *    the DCS snapshot is fresh; quorum_standby (Patroni 4) the same with synchronous_mode quorum;
 *  - cluster_unlocked when there is no fresh DCS snapshot or it has no leader.
 * Pure.
 */
import type { NodeRole, NodeStatus, PostgresFacts } from './status.js';

export interface Reported {
  /** Patroni's state string, 'unknown' when a running PostgreSQL did not answer. */
  state: string;
  /** Patroni's role string ('master', 'replica', 'standby_leader', 'uninitialized', ...). */
  role: string;
  /** The query's answer, when it ran and succeeded. */
  query: PostgresFacts | null;
  syncStandby: boolean;
  quorumStandby: boolean;
  clusterUnlocked: boolean;
  failsafeActive: boolean;
  dcsLastSeenS: number;
}

const QUERIED_STATES: ReadonlySet<string> = new Set(['running', 'restarting', 'starting']);

/** Patroni 3.0.2's spelling of a role in the REST API and member keys ('master' for primary). */
export function patroniRoleName(role: NodeRole): string {
  return role === 'primary' ? 'master' : role;
}

export function reportedPostgres(status: NodeStatus): Reported {
  const cluster = status.cluster;
  const common = {
    clusterUnlocked: cluster === null || cluster.leaderName === null,
    failsafeActive: status.failsafeActive,
    dcsLastSeenS: status.dcsLastSeenS,
  };
  const query = QUERIED_STATES.has(status.state) ? status.postgres : null;
  if (query === null) {
    const state = status.state === 'running' ? 'unknown' : status.state;
    return { state, role: patroniRoleName(status.role), query: null, syncStandby: false, quorumStandby: false, ...common };
  }
  let role = query.xlog.kind === 'primary' ? 'master' : 'replica';
  if (role === 'replica' && status.standbyCluster) role = patroniRoleName(status.role);
  const listed = role === 'replica' && cluster !== null && cluster.syncStandbys.includes(status.patroni.name);
  const syncStandby = listed && cluster.synchronousMode === 'on';
  const quorumStandby = listed && cluster.synchronousMode === 'quorum';
  return { state: status.state, role, query, syncStandby, quorumStandby, ...common };
}
