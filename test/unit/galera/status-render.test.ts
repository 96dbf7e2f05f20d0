/** `keel galera status` rendering: the table, the JSON, and the operability warnings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wsrepStatusFrom } from '../../../src/galera/health.js';
import { renderStatusJson, renderStatusTable, statusWarnings, type NodeStatusRow } from '../../../src/galera/status-render.js';

const synced = wsrepStatusFrom(
  [
    { name: 'wsrep_local_state', value: '4' },
    { name: 'wsrep_local_state_comment', value: 'Synced' },
    { name: 'wsrep_cluster_status', value: 'Primary' },
    { name: 'wsrep_cluster_size', value: '2' },
    { name: 'wsrep_ready', value: 'ON' },
    { name: 'wsrep_connected', value: 'ON' },
    { name: 'wsrep_last_committed', value: '812' },
    { name: 'wsrep_local_cert_failures', value: '3' },
    { name: 'wsrep_flow_control_paused', value: '0.012' },
    { name: 'wsrep_evs_repl_latency', value: '0.001/0.0091/0.02/0.001/40' },
  ],
  false,
);

const rows: NodeStatusRow[] = [
  { name: 'db1', sql: '10.0.1.31:3306', state: 'Synced', wsrep: synced },
  { name: 'db2', sql: '', state: 'unknown (no agent)', wsrep: null },
];

test('the table has one row per node with the wsrep figures', () => {
  const text = renderStatusTable('shop', rows, []);
  const lines = text.split('\n');
  assert.match(lines[0] ?? '', /^\+ Galera cluster: shop -+/);
  assert.match(
    text,
    /\| Member \| Host +\| State +\| Cluster status \| Size \| Ready \| Connected \| Local state \| Last committed \| Cert failures \| FC paused \|/,
  );
  assert.match(text, /\| db1 +\| 10\.0\.1\.31:3306 \| Synced +\| Primary +\| +2 \| ON +\| ON +\| Synced +\| +812 \| +3 \| +0\.012 \|/);
  assert.match(text, /\| db2 +\| +\| unknown \(no agent\) \|/);
});

test('warnings: non-InnoDB tables, tables without a primary key, latency above a few ms', () => {
  const warnings = statusWarnings(rows, { nonInnodbTables: [{ table: 'shop.log', engine: 'MyISAM' }], tablesWithoutPrimaryKey: ['shop.events'] });
  assert.equal(warnings.length, 3);
  assert.match(warnings[0] ?? '', /shop\.log uses MyISAM: Galera replicates only InnoDB/);
  assert.match(warnings[1] ?? '', /shop\.events has no primary key/);
  assert.match(warnings[2] ?? '', /db1: average replication latency 9\.1 ms/);
  assert.match(renderStatusTable('shop', rows, warnings), / WARNING: shop\.log uses MyISAM/);
  assert.deepEqual(statusWarnings(rows, null).length, 1);
});

test('--format json carries the same figures', () => {
  const json = JSON.parse(renderStatusJson('shop', rows, ['w'])) as { nodes: Array<Record<string, unknown>>; warnings: string[] };
  assert.equal(json.nodes[0]?.['wsrep_cluster_status'], 'Primary');
  assert.equal(json.nodes[0]?.['wsrep_last_committed'], 812);
  assert.equal(json.nodes[0]?.['wsrep_local_cert_failures'], 3);
  assert.equal(json.nodes[1]?.['wsrep_cluster_size'], null);
  assert.deepEqual(json.warnings, ['w']);
});
