/**
 * Members calling each other over TLS (Patroni's agent as a client of its peers): three keel
 * agents on a sandbox, every REST API on HTTPS with verify_client: required, so a member that
 * did not verify its peer with the CA or did not present a client certificate would get no
 * status in a leader race. After kill -9 of the leader (agent and postmaster) a replica takes
 * over, every published api_url says https, and no agent logged a TLS failure while calling
 * another member (the agent logs those apart from unreachable members). Then `keel switchover`
 * works over TLS with the node's certificate and credentials, and without credentials the same
 * POST /switchover is refused with 401.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { sandboxDcs } from '../../../src/sandbox/sandbox.js';
import { eventually, killNode, leaderKeyHolder, runKeel, sql, startTestCluster, type TestCluster } from '../../support/sandbox.js';
import { MemberApi } from '../../../src/cli/member-api.js';
import { restartWithRestapi } from '../../support/tls-sandbox.js';
import { makeTestCertificates, removeTestCertificates, type TestCertificates } from '../../support/tls-certs.js';

const TTL_MS = 10_000;
const LOOP_WAIT_MS = 2_000;
let cluster: TestCluster;
let certs: TestCertificates;

async function streamingReplicas(leader: string): Promise<number> {
  const rows = await sql<{ n: string }>(cluster, leader, "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'");
  return Number(rows[0]?.n ?? 0);
}

async function publishedApiUrls(): Promise<string[]> {
  const dcs = sandboxDcs(cluster.record, 'tls-observer');
  try {
    return (await dcs.loadCluster()).members.map((m) => m.apiUrl ?? '');
  } finally {
    await dcs.close();
  }
}

before(
  async () => {
    certs = makeTestCertificates();
    cluster = await startTestCluster({ nodes: 3, ttlS: TTL_MS / 1000, loopWaitS: LOOP_WAIT_MS / 1000, retryTimeoutS: 3 });
    await restartWithRestapi(
      cluster,
      cluster.record.nodes.map((n) => n.name),
      {
        certfile: certs.serverCert,
        keyfile: certs.serverKey,
        cafile: certs.caCert,
        verify_client: 'required',
        authentication: { username: 'a', password: 'b' },
      },
    );
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
    removeTestCertificates(certs);
  },
  { timeout: 120_000 },
);

test(
  'with verify_client required everywhere, a replica takes over after kill -9 of the leader; no TLS failure between members',
  { timeout: 300_000 },
  async () => {
    const oldLeader = await eventually('a leader with two streaming replicas after the TLS restart', 180_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && (await streamingReplicas(holder)) === 2 ? holder : undefined;
    });
    const urls = await eventually('three members publishing https api_urls', 30_000, async () => {
      const published = await publishedApiUrls();
      return published.length === 3 && published.every((u) => u.startsWith('https://')) ? published : undefined;
    });
    assert.equal(urls.length, 3);

    await killNode(cluster, oldLeader, { agent: true, postgres: true });
    const newLeader = await eventually('a new leader', TTL_MS + 8 * LOOP_WAIT_MS + 60_000, async () => {
      const holder = await leaderKeyHolder(cluster);
      return holder !== null && holder !== oldLeader ? holder : undefined;
    });
    await eventually('the other replica streaming from the new leader', 90_000, async () => ((await streamingReplicas(newLeader)) === 1 ? true : undefined));

    for (const node of cluster.record.nodes.filter((n) => n.name !== oldLeader)) {
      const log = await readFile(node.logFile, 'utf8');
      const failures = log.split('\n').filter((line) => line.includes('calling another member'));
      assert.deepEqual(failures, [], `${node.name} logged TLS failures calling its peers`);
    }
  },
);

test('a switchover over TLS with client certificates: keel switchover and the REST credentials both required', { timeout: 240_000 }, async () => {
  const leader = await eventually('a leader with a streaming replica', 120_000, async () => {
    const holder = await leaderKeyHolder(cluster);
    return holder !== null && (await streamingReplicas(holder)) >= 1 ? holder : undefined;
  });
  const config = cluster.record.nodes.find((n) => n.name === leader)?.config ?? '';
  // The CLI takes the node's restapi certificate, CA and credentials (Patroni's ctl fallbacks).
  // A member's status is refreshed every loop_wait: right after the failover the replica may not
  // report streaming yet, and the switchover is refused (412, nothing changed); then it goes through.
  const result = await eventually('keel switchover accepted', 60_000, async () => {
    const attempt = await runKeel(['-c', config, 'switchover', '--force'], { timeoutMs: 120_000 });
    if (attempt.code !== 0) assert.match(attempt.stderr, /412, switchover is not possible/);
    return attempt.code === 0 ? attempt : undefined;
  });
  assert.match(result.stdout, /Successfully switched over to "node\d"/);
  const newLeader = await leaderKeyHolder(cluster);
  assert.notEqual(newLeader, leader);
  // Without the REST credentials the same request over TLS is refused (401), nothing changes.
  const api = new MemberApi(undefined, 10_000, { cafile: certs.caCert, certfile: certs.serverCert, keyfile: certs.serverKey, insecure: false });
  const apiUrl = `https://127.0.0.1:${cluster.record.nodes.find((n) => n.name === newLeader)?.apiPort ?? 0}/patroni`;
  const refused = await api.request(apiUrl, 'POST', '/switchover', { leader: newLeader });
  assert.equal(refused.status, 401);
  assert.equal(await leaderKeyHolder(cluster), newLeader);
});
