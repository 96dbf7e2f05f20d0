/**
 * GET /metrics of a Galera node's agent, in Prometheus's text format (prom-client).
 *
 * The wsrep figures keep the names mysqld_exporter gives them, so Galera dashboards and alerts
 * written for it (mysql_global_status_wsrep_*, mysql_galera_status_info,
 * mysql_galera_evs_repl_latency_*) work on keel's endpoint unchanged:
 *  - every wsrep_* status variable that reads as a number becomes
 *    mysql_global_status_<variable lower-cased>; ON / Yes / Primary read as 1, OFF / No /
 *    non-Primary / Disconnected as 0, as mysqld_exporter reads them; text (UUIDs, addresses) is left out;
 *  - mysql_galera_status_info carries the state UUIDs and the provider version as labels;
 *  - wsrep_evs_repl_latency "min/avg/max/stdev/samples" (seconds) becomes five gauges;
 *  - mysql_up says whether the server answered the agent's last read; read_only is
 *    mysql_global_variables_read_only.
 * keel's own: keel_galera_healthy (what /health answers), keel_galera_writer (what /writer
 * answers), keel_galera_tasks_started_total by kind (recover, bootstrap, join) and
 * keel_galera_pc_bootstraps_total (a Non-Primary component made Primary on this node).
 *
 * Every sample carries the `scope` (cluster) and `name` (node) labels, as the PostgreSQL agent's
 * metrics do. Rendered from the agent's last status at each scrape: nothing here touches MariaDB.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { WsrepStatus } from './health.js';

/** What the agent has done since it started, counted for /metrics. */
export interface GaleraCounters {
  /** Long tasks started, by kind (recover, bootstrap, join). */
  tasksStarted: Readonly<Record<string, number>>;
  /** pc.bootstrap=YES set on this node (a Non-Primary component made Primary). */
  pcBootstraps: number;
}

export interface GaleraMetricsInput {
  scope: string;
  name: string;
  /** The agent's last status; null when MariaDB did not answer (or a task has it stopped). */
  status: WsrepStatus | null;
  healthy: boolean;
  writer: boolean;
  counters: GaleraCounters;
}

/** A status value as mysqld_exporter reads it (its parseStatus), or null when it is text. */
export function statusNumber(value: string): number | null {
  switch (value.toLowerCase()) {
    case 'yes':
    case 'on':
    case 'primary':
      return 1;
    case 'no':
    case 'off':
    case 'disabled':
    case 'connecting':
    case 'non-primary':
    case 'disconnected':
      return 0;
  }
  const text = value.trim();
  if (text === '' || !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  return Number(text);
}

const EVS_PARTS = ['min_seconds', 'avg_seconds', 'max_seconds', 'stdev', 'sample_size'] as const;

export async function renderGaleraMetrics(input: GaleraMetricsInput): Promise<{ contentType: string; text: string }> {
  const registry = new Registry();
  registry.setDefaultLabels({ scope: input.scope, name: input.name });
  const registers = [registry];
  const gauge = (name: string, help: string, value: number): void => {
    new Gauge({ name, help, registers }).set(value);
  };
  const { status } = input;
  gauge('mysql_up', 'Whether the MySQL server answered the agent (mysqld_exporter: whether the MySQL server is up).', status === null ? 0 : 1);
  if (status !== null) {
    gauge('mysql_global_variables_read_only', 'Generic gauge metric from SHOW GLOBAL VARIABLES.', status.readOnly ? 1 : 0);
    const raw = status.raw ?? {};
    for (const variable of Object.keys(raw).sort()) {
      const value = statusNumber(raw[variable] as string);
      if (value === null || !/^wsrep_[a-z0-9_]+$/.test(variable)) continue;
      gauge(`mysql_global_status_${variable}`, 'Generic metric from SHOW GLOBAL STATUS.', value);
    }
    const localUuid = raw['wsrep_local_state_uuid'] ?? '';
    if (localUuid !== '') {
      new Gauge({
        name: 'mysql_galera_status_info',
        help: 'PXC/Galera status information.',
        labelNames: ['wsrep_local_state_uuid', 'wsrep_cluster_state_uuid', 'wsrep_provider_version'],
        registers,
      }).set(
        {
          wsrep_local_state_uuid: localUuid,
          wsrep_cluster_state_uuid: raw['wsrep_cluster_state_uuid'] ?? '',
          wsrep_provider_version: raw['wsrep_provider_version'] ?? '',
        },
        1,
      );
    }
    const evs = (raw['wsrep_evs_repl_latency'] ?? '').split('/').map(Number);
    if (evs.length === EVS_PARTS.length && evs.every((part) => Number.isFinite(part))) {
      EVS_PARTS.forEach((part, i) =>
        gauge(`mysql_galera_evs_repl_latency_${part}`, `PXC/Galera group communication latency: ${part.replace('_seconds', '')}.`, evs[i] as number),
      );
    }
  }
  gauge(
    'keel_galera_healthy',
    'Whether GET /health answers 200: Synced (or an allowed donor) in a Primary component, ready and writable.',
    input.healthy ? 1 : 0,
  );
  gauge('keel_galera_writer', 'Whether GET /writer answers 200: healthy and holding the etcd writer key.', input.writer ? 1 : 0);
  const tasks = new Counter({ name: 'keel_galera_tasks_started_total', help: 'Long tasks the agent started, by kind.', labelNames: ['kind'], registers });
  for (const kind of ['recover', 'bootstrap', 'join']) tasks.inc({ kind }, input.counters.tasksStarted[kind] ?? 0);
  new Counter({ name: 'keel_galera_pc_bootstraps_total', help: 'Non-Primary components made Primary on this node (pc.bootstrap=YES).', registers }).inc(
    input.counters.pcBootstraps,
  );
  return { contentType: registry.contentType, text: await registry.metrics() };
}
