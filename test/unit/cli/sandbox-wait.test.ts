/**
 * `keel sandbox up` (and every integration test's cluster) waits until each replica streams from
 * the primary, read from the primary's GET /patroni. While the replicas clone, their pg_basebackup
 * WAL streams show in pg_stat_replication as 'streaming' too (application_name 'pg_basebackup'):
 * counting them declared the cluster up before any replica ran, and CI's bootstrap test then found
 * pg_stat_replication empty. Stand-in REST servers answer as the agents would at each stage.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitForCluster, type SandboxRecord } from '../../../src/sandbox/sandbox.js';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** Three nodes whose GET /patroni answers with what `statusOf(name)` returns at that moment. */
async function standIns(statusOf: (name: string) => Record<string, unknown>): Promise<SandboxRecord> {
  const nodes = [];
  for (const name of ['node1', 'node2', 'node3']) {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(statusOf(name)));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const apiPort = (server.address() as AddressInfo).port;
    nodes.push({ name, config: '', logFile: '/nonexistent', pid: 0, pgPort: 0, apiPort, dataDir: '' });
  }
  return { scope: 't', namespace: '/service', host: '127.0.0.1', etcd: { endpoints: [], pids: [], dir: '' }, nodes };
}

const walsender = (application_name: string) => ({ application_name, state: 'streaming', usename: 'replicator' });

test("the replicas' pg_basebackup streams do not make the cluster up", async () => {
  const record = await standIns((name) =>
    name === 'node1'
      ? { role: 'master', state: 'running', replication: [walsender('pg_basebackup'), walsender('pg_basebackup')] }
      : { role: 'replica', state: 'creating replica' },
  );
  await assert.rejects(waitForCluster(record, 1500), /did not come up within/);
});

test('the cluster is up once every other member streams under its own name', async () => {
  let stage = 0; // 0: node3 still clones; 1: both replicas stream
  const record = await standIns((name) => {
    if (name !== 'node1') return { role: 'replica', state: 'running' };
    const rows = stage === 0 ? [walsender('node2'), walsender('pg_basebackup')] : [walsender('node2'), walsender('node3')];
    stage = 1;
    return { role: 'master', state: 'running', replication: rows };
  });
  assert.equal(await waitForCluster(record, 10_000), 'node1');
  assert.equal(stage, 1);
});
