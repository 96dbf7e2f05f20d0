/**
 * The Galera agent's GET /metrics (src/galera/metrics.ts): mysqld_exporter's names and readings
 * for the wsrep figures, keel's own gauges and counters, parsed by the strict exposition parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wsrepStatusFrom } from '../../../src/galera/health.js';
import { renderGaleraMetrics, statusNumber } from '../../../src/galera/metrics.js';
import { parseExposition, sampleValue } from '../../support/prometheus.js';

// SHOW GLOBAL STATUS LIKE 'wsrep%' as MariaDB 10.11 prints it (a subset, names as printed).
const ROWS = [
  { name: 'WSREP_LOCAL_STATE', value: '4' },
  { name: 'wsrep_local_state_comment', value: 'Synced' },
  { name: 'wsrep_local_state_uuid', value: '6f0e5a6e-93f4-11ef-9c4a-7b2e0e7f1a11' },
  { name: 'wsrep_cluster_state_uuid', value: '6f0e5a6e-93f4-11ef-9c4a-7b2e0e7f1a11' },
  { name: 'wsrep_provider_version', value: '26.4.16(r7dce5149)' },
  { name: 'wsrep_cluster_status', value: 'Primary' },
  { name: 'wsrep_cluster_size', value: '3' },
  { name: 'wsrep_ready', value: 'ON' },
  { name: 'wsrep_connected', value: 'ON' },
  { name: 'wsrep_desync_count', value: '0' },
  { name: 'wsrep_flow_control_paused', value: '0.0012' },
  { name: 'wsrep_last_committed', value: '1234' },
  { name: 'wsrep_local_cert_failures', value: '2' },
  { name: 'wsrep_incoming_addresses', value: '127.0.0.1:3306,127.0.0.1:3307' },
  { name: 'wsrep_evs_repl_latency', value: '0.000123/0.000456/0.00789/0.0001/42' },
];

const COUNTERS = { tasksStarted: { join: 1, recover: 2 }, pcBootstraps: 1 };

test('wsrep status values read as mysqld_exporter reads them', () => {
  assert.equal(statusNumber('ON'), 1);
  assert.equal(statusNumber('Primary'), 1);
  assert.equal(statusNumber('non-Primary'), 0);
  assert.equal(statusNumber('Disconnected'), 0);
  assert.equal(statusNumber('OFF'), 0);
  assert.equal(statusNumber('0.0012'), 0.0012);
  assert.equal(statusNumber('Synced'), null);
  assert.equal(statusNumber('127.0.0.1:3306'), null);
  assert.equal(statusNumber(''), null);
});

test('a Synced writer: mysqld_exporter names, the info labels, the latency gauges and keel own figures', async () => {
  const status = wsrepStatusFrom(ROWS, false);
  const { contentType, text } = await renderGaleraMetrics({ scope: 'shop', name: 'g1', status, healthy: true, writer: true, counters: COUNTERS });
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const families = parseExposition(text);
  const node = { scope: 'shop', name: 'g1' };
  assert.equal(sampleValue(families, 'mysql_up', node), 1);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_local_state', node), 4);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_cluster_status', node), 1);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_cluster_size', node), 3);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_ready', node), 1);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_flow_control_paused', node), 0.0012);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_last_committed', node), 1234);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_local_cert_failures', node), 2);
  assert.equal(sampleValue(families, 'mysql_global_variables_read_only', node), 0);
  // text values are left out, as mysqld_exporter leaves them out
  for (const name of ['local_state_comment', 'incoming_addresses', 'local_state_uuid', 'provider_version', 'evs_repl_latency'])
    assert.equal(families.has(`mysql_global_status_wsrep_${name}`), false, name);
  assert.equal(
    sampleValue(families, 'mysql_galera_status_info', {
      ...node,
      wsrep_local_state_uuid: '6f0e5a6e-93f4-11ef-9c4a-7b2e0e7f1a11',
      wsrep_cluster_state_uuid: '6f0e5a6e-93f4-11ef-9c4a-7b2e0e7f1a11',
      wsrep_provider_version: '26.4.16(r7dce5149)',
    }),
    1,
  );
  assert.equal(sampleValue(families, 'mysql_galera_evs_repl_latency_avg_seconds', node), 0.000456);
  assert.equal(sampleValue(families, 'mysql_galera_evs_repl_latency_max_seconds', node), 0.00789);
  assert.equal(sampleValue(families, 'mysql_galera_evs_repl_latency_sample_size', node), 42);
  assert.equal(sampleValue(families, 'keel_galera_healthy', node), 1);
  assert.equal(sampleValue(families, 'keel_galera_writer', node), 1);
  assert.equal(sampleValue(families, 'keel_galera_tasks_started_total', { ...node, kind: 'recover' }), 2);
  assert.equal(sampleValue(families, 'keel_galera_tasks_started_total', { ...node, kind: 'join' }), 1);
  assert.equal(sampleValue(families, 'keel_galera_tasks_started_total', { ...node, kind: 'bootstrap' }), 0);
  assert.equal(sampleValue(families, 'keel_galera_pc_bootstraps_total', node), 1);
  assert.equal(families.get('keel_galera_tasks_started_total')?.type, 'counter');
});

test('MariaDB not answering: mysql_up 0, no wsrep figure, keel own gauges at 0', async () => {
  const { text } = await renderGaleraMetrics({
    scope: 'shop',
    name: 'g2',
    status: null,
    healthy: false,
    writer: false,
    counters: { tasksStarted: {}, pcBootstraps: 0 },
  });
  const families = parseExposition(text);
  assert.equal(sampleValue(families, 'mysql_up'), 0);
  assert.deepEqual(
    [...families.keys()].filter((name) => name.startsWith('mysql_global_status_') || name.startsWith('mysql_galera_')),
    [],
  );
  assert.equal(sampleValue(families, 'keel_galera_healthy'), 0);
  assert.equal(sampleValue(families, 'keel_galera_writer'), 0);
});

test('a non-Primary component reads 0, and a status without latency samples has no latency gauges', async () => {
  const rows = ROWS.map((row) =>
    row.name === 'wsrep_cluster_status' ? { ...row, value: 'non-Primary' } : row.name === 'wsrep_evs_repl_latency' ? { ...row, value: '0/0/0/0/0' } : row,
  ).filter((row) => row.name !== 'wsrep_local_state_uuid');
  const { text } = await renderGaleraMetrics({
    scope: 'shop',
    name: 'g3',
    status: wsrepStatusFrom(rows, true),
    healthy: false,
    writer: false,
    counters: COUNTERS,
  });
  const families = parseExposition(text);
  assert.equal(sampleValue(families, 'mysql_global_status_wsrep_cluster_status'), 0);
  assert.equal(sampleValue(families, 'mysql_global_variables_read_only'), 1);
  assert.equal(families.has('mysql_galera_status_info'), false, 'no info without a local state UUID');
  // "0/0/0/0/0" still parses: mysqld_exporter prints it too (sample size 0)
  assert.equal(sampleValue(families, 'mysql_galera_evs_repl_latency_sample_size'), 0);
});
