/**
 * clustercheck semantics for HAProxy: a node takes traffic only when it is Synced
 * (wsrep_local_state=4) in a Primary component, ready, and writable. Pure: the SQL answers in,
 * a verdict and its reason out.
 */
export interface WsrepStatus {
  localState: number | null;
  localStateComment: string;
  clusterStatus: string;
  clusterSize: number;
  ready: string;
  connected: string;
  clusterStateUuid: string;
  lastCommitted: number;
  localCertFailures: number;
  flowControlPaused: number;
  /** Average replication latency between the nodes (ms), from wsrep_evs_repl_latency; null when not sampled yet. */
  replLatencyAvgMs: number | null;
  readOnly: boolean;
  /** Every wsrep_* status variable as read (names lower-cased), for GET /metrics (metrics.ts). */
  raw?: Readonly<Record<string, string>>;
}

export type Health = { ok: true; reason: string } | { ok: false; reason: string };

const SYNCED = 4;
const DONOR = 2;

/**
 * @param availableWhenDonor clustercheck's AVAILABLE_WHEN_DONOR: a donor (Donor/Desynced, state 2)
 *   still takes traffic; off by default, since an rsync donor blocks writes while it donates.
 */
export function checkHealth(status: WsrepStatus | null, availableWhenDonor = false): Health {
  if (status === null) return { ok: false, reason: 'MariaDB is not running or does not answer' };
  const donorAllowed = availableWhenDonor && status.localState === DONOR;
  if (status.localState !== SYNCED && !donorAllowed)
    return { ok: false, reason: `not Synced: wsrep_local_state is ${status.localState ?? 'unknown'} (${status.localStateComment})` };
  if (status.clusterStatus !== 'Primary') return { ok: false, reason: `wsrep_cluster_status is ${status.clusterStatus}, not Primary` };
  if (status.ready !== 'ON') return { ok: false, reason: `wsrep_ready is ${status.ready}` };
  if (status.readOnly) return { ok: false, reason: 'read_only is ON' };
  return { ok: true, reason: `${donorAllowed ? 'a donor (available_when_donor)' : 'Synced'} in a Primary component of ${status.clusterSize}` };
}

/**
 * A server that is in no group: wsrep_connected OFF or wsrep_cluster_status Disconnected. Brief
 * while a joining server connects; lasting, it has left for good (a failed state transfer ends in
 * a final non-primary view with no members) and will not rejoin by itself.
 */
export function outOfGroup(status: WsrepStatus | null): boolean {
  return status !== null && (status.connected === 'OFF' || status.clusterStatus === 'Disconnected');
}

/** The status from `SHOW GLOBAL STATUS LIKE 'wsrep_%'` rows and @@read_only. */
export function wsrepStatusFrom(rows: Array<{ name: string; value: string }>, readOnly: boolean): WsrepStatus {
  const map = new Map(rows.map((row) => [row.name.toLowerCase(), row.value]));
  const num = (key: string): number | null => {
    const text = map.get(key);
    return text === undefined || text === '' || !Number.isFinite(Number(text)) ? null : Number(text);
  };
  return {
    localState: num('wsrep_local_state'),
    localStateComment: map.get('wsrep_local_state_comment') ?? '',
    clusterStatus: map.get('wsrep_cluster_status') ?? '',
    clusterSize: num('wsrep_cluster_size') ?? 0,
    ready: map.get('wsrep_ready') ?? '',
    connected: map.get('wsrep_connected') ?? '',
    clusterStateUuid: map.get('wsrep_cluster_state_uuid') ?? '',
    lastCommitted: num('wsrep_last_committed') ?? -1,
    localCertFailures: num('wsrep_local_cert_failures') ?? 0,
    flowControlPaused: num('wsrep_flow_control_paused') ?? 0,
    replLatencyAvgMs: replLatencyAvgMs(map.get('wsrep_evs_repl_latency')),
    readOnly,
    raw: Object.fromEntries(map),
  };
}

/** wsrep_evs_repl_latency is "min/avg/max/stddev/samples" in seconds; 0 samples means not measured. */
function replLatencyAvgMs(text: string | undefined): number | null {
  const parts = (text ?? '').split('/').map(Number);
  if (parts.length !== 5 || parts.some((part) => !Number.isFinite(part)) || parts[4] === 0) return null;
  return (parts[1] as number) * 1000;
}
