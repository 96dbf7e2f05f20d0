/**
 * GET /metrics: Prometheus text exposition (prom-client) of Patroni's `patroni_*` gauges, so
 * dashboards and alerts written for Patroni keep working, followed by keel's own `keel_*`
 * instruments (src/observability/metrics.ts).
 *
 * The patroni_* part is Patroni 3.0.2's do_GET_metrics (patroni/api.py) read off the very JSON
 * GET /patroni answers (patroniStatusJson): the same names, help texts, types and order, and the
 * same values (e.g. patroni_xlog_location is 0 on a replica, a timeline is 0 when PostgreSQL did
 * not answer). Deliberate differences, all additive:
 *  - the labels are `{scope, name}` (Patroni >= 3.1's; 3.0.2 has `scope` only): a query on scope
 *    still matches;
 *  - patroni_postgres_streaming and patroni_postgres_in_archive_recovery (Patroni >= 3.1, for
 *    PostgreSQL >= 9.6) are included;
 *  - 3.0.2 prints `patroni_postgres_server_version {scope="..."}` with a stray space; keel does not;
 *  - 3.0.2 prints `patroni_postgres_timeline{...} None` for a replica whose timeline is not known
 *    yet, which Prometheus refuses (the whole scrape fails); keel prints 0, as the help text says.
 *
 * Cost: a scrape reads the agent's status snapshot (no SQL, no etcd request): the values are
 * those of the last probe and the last DCS read.
 */
import { Gauge, Registry } from 'prom-client';
import { pythonIsoformat } from '../patroni/iso-datetime.js';
import { SetCounter, type KeelMetrics } from '../observability/metrics.js';
import { patroniStatusJson, type NodeStatus } from './status.js';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

type Json = Record<string, unknown>;

/** One patroni_* metric: name, Patroni's help text, type, and its value from GET /patroni's JSON. */
interface PatroniMetric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value(postgres: Json, status: NodeStatus): number;
}

function xlog(postgres: Json): Json {
  const value = postgres['xlog'];
  return typeof value === 'object' && value !== null ? (value as Json) : {};
}

function num(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** "2026-12-02 12:00:00.123456+00:00" (Python's str of a datetime) as epoch seconds; 0 when absent. */
export function epochSeconds(text: unknown): number {
  if (typeof text !== 'string' || text === '') return 0;
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?([+-])?(\d{2})?:?(\d{2})?$/.exec(pythonIsoformat(text.replace(' ', 'T')));
  if (match === null) return 0;
  const [, y, mo, d, h, mi, s, micros, sign, oh, om] = match;
  const wholeS = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  const offsetS = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? '0') * 60);
  return wholeS - offsetS + Number(micros ?? '0') / 1e6;
}

/** Patroni's padded semver: 3.0.2 -> 030002. */
export function paddedSemver(version: string): number {
  return Number(
    version
      .split('.')
      .map((part) => part.padStart(2, '0'))
      .join(''),
  );
}

const isPrimary = (postgres: Json): boolean => postgres['role'] === 'master' || postgres['role'] === 'primary';
const replicationState = (postgres: Json, status: NodeStatus): string | null => {
  if (postgres['role'] !== 'replica' || !('xlog' in postgres)) return null;
  // keel never sets restore_command on a replica (postgresql.recovery_conf is not supported), so
  // Patroni's 'in archive recovery' (not streaming, restore_command set) does not arise.
  return status.replicaStreaming ? 'streaming' : null;
};

/** Patroni 3.0.2's metrics in its order (patroni/api.py, do_GET_metrics), plus the two of 3.1. */
export const PATRONI_METRICS: readonly PatroniMetric[] = [
  { name: 'patroni_version', help: 'Patroni semver without periods.', type: 'gauge', value: (_p, s) => paddedSemver(s.patroni.version) },
  { name: 'patroni_postgres_running', help: 'Value is 1 if Postgres is running, 0 otherwise.', type: 'gauge', value: (p) => num(p['state'] === 'running') },
  {
    name: 'patroni_postmaster_start_time',
    help: 'Epoch seconds since Postgres started.',
    type: 'gauge',
    value: (p) => epochSeconds(p['postmaster_start_time']),
  },
  { name: 'patroni_master', help: 'Value is 1 if this node is the leader, 0 otherwise.', type: 'gauge', value: (p) => num(isPrimary(p)) },
  { name: 'patroni_primary', help: 'Value is 1 if this node is the leader, 0 otherwise.', type: 'gauge', value: (p) => num(isPrimary(p)) },
  {
    name: 'patroni_xlog_location',
    help: 'Current location of the Postgres transaction log, 0 if this node is not the leader.',
    type: 'counter',
    value: (p) => num(xlog(p)['location']),
  },
  {
    name: 'patroni_standby_leader',
    help: 'Value is 1 if this node is the standby_leader, 0 otherwise.',
    type: 'gauge',
    value: (p) => num(p['role'] === 'standby_leader'),
  },
  { name: 'patroni_replica', help: 'Value is 1 if this node is a replica, 0 otherwise.', type: 'gauge', value: (p) => num(p['role'] === 'replica') },
  {
    name: 'patroni_sync_standby',
    help: 'Value is 1 if this node is a sync standby replica, 0 otherwise.',
    type: 'gauge',
    value: (p) => num(p['sync_standby'] === true),
  },
  {
    name: 'patroni_xlog_received_location',
    help: 'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
    type: 'counter',
    value: (p) => num(xlog(p)['received_location']),
  },
  {
    name: 'patroni_xlog_replayed_location',
    help: 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
    type: 'counter',
    value: (p) => num(xlog(p)['replayed_location']),
  },
  {
    name: 'patroni_xlog_replayed_timestamp',
    help: 'Current timestamp of the replayed Postgres transaction log, 0 if null.',
    type: 'gauge',
    value: (p) => epochSeconds(xlog(p)['replayed_timestamp']),
  },
  {
    name: 'patroni_xlog_paused',
    help: 'Value is 1 if the Postgres xlog is paused, 0 otherwise.',
    type: 'gauge',
    value: (p) => num(xlog(p)['paused'] === true),
  },
  {
    name: 'patroni_postgres_streaming',
    help: 'Value is 1 if Postgres is streaming, 0 otherwise.',
    type: 'gauge',
    value: (p, s) => num(replicationState(p, s) === 'streaming'),
  },
  {
    name: 'patroni_postgres_in_archive_recovery',
    help: 'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
    type: 'gauge',
    value: (p, s) => num(replicationState(p, s) === 'in archive recovery'),
  },
  {
    name: 'patroni_postgres_server_version',
    help: 'Version of Postgres (if running), 0 otherwise.',
    type: 'gauge',
    value: (p) => num(p['server_version']),
  },
  {
    name: 'patroni_cluster_unlocked',
    help: 'Value is 1 if the cluster is unlocked, 0 if locked.',
    type: 'gauge',
    value: (p) => num(p['cluster_unlocked'] === true),
  },
  {
    name: 'patroni_failsafe_mode_is_active',
    // Patroni 3.0.2's text, copied from cluster_unlocked's as it stands there.
    help: 'Value is 1 if the cluster is unlocked, 0 if locked.',
    type: 'gauge',
    value: (p) => num(p['failsafe_mode_is_active'] === true),
  },
  {
    name: 'patroni_postgres_timeline',
    help: 'Postgres timeline of this node (if running), 0 otherwise.',
    type: 'counter',
    value: (p) => num(p['timeline']),
  },
  {
    name: 'patroni_dcs_last_seen',
    help: 'Epoch timestamp when DCS was last contacted successfully by Patroni.',
    type: 'gauge',
    value: (p) => num(p['dcs_last_seen']),
  },
  {
    name: 'patroni_pending_restart',
    help: 'Value is 1 if the node needs a restart, 0 otherwise.',
    type: 'gauge',
    value: (_p, s) => num(s.pendingRestart),
  },
  { name: 'patroni_is_paused', help: 'Value is 1 if auto failover is disabled, 0 otherwise.', type: 'gauge', value: (_p, s) => num(s.paused) },
];

/**
 * The /metrics document. `keel` is the agent's own instruments (absent: patroni_* only, e.g. a
 * provider in a unit test).
 */
export class MetricsExposition {
  private readonly registry = new Registry();
  private readonly gauges: Array<{ metric: PatroniMetric; gauge: Gauge }>;
  private labels: { scope: string; name: string } | null = null;

  constructor(private readonly keel: KeelMetrics | null = null) {
    const registers = [this.registry];
    this.gauges = PATRONI_METRICS.map((metric) => {
      const config = { name: metric.name, help: metric.help, registers };
      return { metric, gauge: metric.type === 'counter' ? new SetCounter(config) : new Gauge(config) };
    });
  }

  /** Renders the exposition for this status snapshot. */
  async render(status: NodeStatus): Promise<string> {
    const { scope, name } = status.patroni;
    if (this.labels === null || this.labels.scope !== scope || this.labels.name !== name) {
      this.labels = { scope, name };
      this.registry.setDefaultLabels(this.labels);
    }
    const postgres = patroniStatusJson(status);
    for (const { metric, gauge } of this.gauges) gauge.set(metric.value(postgres, status));
    const patroni = await this.registry.metrics();
    return this.keel === null ? patroni : `${patroni}\n${await this.keel.registry.metrics()}`;
  }
}
