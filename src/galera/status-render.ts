/**
 * `keel galera status`: one row per node with the wsrep figures an operator checks first, and
 * the seed's operability warnings (tables Galera does not replicate, tables without a primary
 * key, latency between the nodes). Pure: rows in, text or JSON out.
 */
import { renderPatronictlTable } from '../patroni/patronictl-table.js';
import type { WsrepStatus } from './health.js';

export interface NodeStatusRow {
  name: string;
  sql: string;
  /** What the agent published (Synced, stopped, recovering, ...); 'unknown' when its key is gone. */
  state: string;
  wsrep: WsrepStatus | null;
}

export interface StatusChecks {
  nonInnodbTables: Array<{ table: string; engine: string }>;
  tablesWithoutPrimaryKey: string[];
}

/** Above this average replication latency (ms) Galera's synchronous commits get slow: the seed's few ms. */
export const LATENCY_WARN_MS = 5;

export function statusWarnings(rows: NodeStatusRow[], checks: StatusChecks | null): string[] {
  const warnings: string[] = [];
  for (const { table, engine } of checks?.nonInnodbTables ?? [])
    warnings.push(`${table} uses ${engine}: Galera replicates only InnoDB tables, its rows exist on one node only`);
  for (const table of checks?.tablesWithoutPrimaryKey ?? [])
    warnings.push(`${table} has no primary key: Galera applies its updates and deletes row by row with full scans, and may diverge`);
  for (const row of rows) {
    const latency = row.wsrep?.replLatencyAvgMs ?? null;
    if (latency !== null && latency > LATENCY_WARN_MS)
      warnings.push(`${row.name}: average replication latency ${latency.toFixed(1)} ms (above ${LATENCY_WARN_MS} ms): every commit waits for it`);
  }
  return warnings;
}

const COLUMNS = ['Member', 'Host', 'State', 'Cluster status', 'Size', 'Ready', 'Connected', 'Local state', 'Last committed', 'Cert failures', 'FC paused'];

export function renderStatusTable(scope: string, rows: NodeStatusRow[], warnings: string[]): string {
  const cells = rows.map((row) => {
    const w = row.wsrep;
    return [
      row.name,
      row.sql,
      row.state,
      w?.clusterStatus ?? '',
      w === null ? '' : String(w.clusterSize),
      w?.ready ?? '',
      w?.connected ?? '',
      w?.localStateComment ?? '',
      w === null ? '' : String(w.lastCommitted),
      w === null ? '' : String(w.localCertFailures),
      w === null ? '' : w.flowControlPaused.toFixed(3),
    ];
  });
  const table = renderPatronictlTable(` Galera cluster: ${scope} `, COLUMNS, cells, {
    Size: 'r',
    'Last committed': 'r',
    'Cert failures': 'r',
    'FC paused': 'r',
  });
  return table + '\n' + warnings.map((warning) => ` WARNING: ${warning}\n`).join('');
}

export function renderStatusJson(scope: string, rows: NodeStatusRow[], warnings: string[]): string {
  return (
    JSON.stringify({
      scope,
      nodes: rows.map((row) => ({
        name: row.name,
        host: row.sql,
        state: row.state,
        wsrep_cluster_status: row.wsrep?.clusterStatus ?? null,
        wsrep_cluster_size: row.wsrep?.clusterSize ?? null,
        wsrep_ready: row.wsrep?.ready ?? null,
        wsrep_connected: row.wsrep?.connected ?? null,
        wsrep_local_state_comment: row.wsrep?.localStateComment ?? null,
        wsrep_last_committed: row.wsrep?.lastCommitted ?? null,
        wsrep_local_cert_failures: row.wsrep?.localCertFailures ?? null,
        wsrep_flow_control_paused: row.wsrep?.flowControlPaused ?? null,
      })),
      warnings,
    }) + '\n'
  );
}
