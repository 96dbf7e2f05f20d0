/**
 * The etcd client's hedged reads: an idempotent request (range, lease keepalive) that the
 * preferred endpoint holds without answering — an etcd member cut off from its quorum — is also
 * sent to the next endpoint after a short delay, and the first answer wins; a write is never sent
 * twice (it waits for the silent endpoint's attempt timeout, then moves on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';

interface FakeEndpoint {
  port: number;
  paths: string[];
  close(): Promise<void>;
}

/** An HTTP endpoint that records each request path and answers like etcd, or never answers (`silent`). */
async function endpoint(silent: boolean): Promise<FakeEndpoint> {
  const paths: string[] = [];
  const held: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    if (silent) {
      held.push(() => res.destroy());
      return;
    }
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const header = { revision: '7' };
      res.end(JSON.stringify(req.url?.endsWith('/kv/txn') ? { header, succeeded: true, responses: [] } : { header, kvs: [], count: '0' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    paths,
    close: async () => {
      for (const release of held) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client whose preferred endpoint never answers and whose second one does, closed (with both) after `use`. */
async function withSilentThenHealthy(
  requestTimeoutMs: number,
  use: (client: EtcdClient, silent: FakeEndpoint, healthy: FakeEndpoint) => Promise<void>,
): Promise<void> {
  const silent = await endpoint(true);
  const healthy = await endpoint(false);
  const client = new EtcdClient({
    endpoints: [
      { host: '127.0.0.1', port: silent.port },
      { host: '127.0.0.1', port: healthy.port },
    ],
    requestTimeoutMs,
    apiPrefix: '/v3',
  });
  try {
    await use(client, silent, healthy);
  } finally {
    client.close();
    await silent.close();
    await healthy.close();
  }
}

test('a read the preferred endpoint holds is answered by the next one within the hedge delay, which becomes preferred', async () => {
  // without hedging the read would wait for the silent endpoint's attempt timeout: 20 s / 2 = 10 s
  await withSilentThenHealthy(20_000, async (client, silent, healthy) => {
    const startedMs = performance.now();
    const result = await client.range('/service/x/', { prefix: true });
    const tookMs = performance.now() - startedMs;
    assert.equal(result.revision, 7);
    assert.ok(tookMs < 5000, `answered after ${Math.round(tookMs)} ms: long before the silent endpoint's attempt timed out`);
    assert.deepEqual(silent.paths, ['/v3/kv/range']);
    assert.deepEqual(healthy.paths, ['/v3/kv/range']);
    assert.equal(client.currentEndpoint.port, healthy.port, 'the endpoint that answered is asked first next time');
  });
});

test('a write is not hedged: it goes to one endpoint at a time, the next only after the silent one timed out', async () => {
  await withSilentThenHealthy(3000, async (client, silent, healthy) => {
    const startedMs = performance.now();
    const result = await client.txn({ compare: [], success: [] });
    const tookMs = performance.now() - startedMs;
    assert.equal(result.succeeded, true);
    assert.ok(tookMs >= 1000, `the write moved on after ${Math.round(tookMs)} ms: only once the first attempt had timed out`);
    assert.deepEqual(silent.paths, ['/v3/kv/txn']);
    assert.deepEqual(healthy.paths, ['/v3/kv/txn']);
  });
});

test("keel-fence's quorum read follows the preferred endpoint: kept while nothing changes, built again when it moves", async () => {
  await withSilentThenHealthy(20_000, async (client, silent, healthy) => {
    const first = client.quorumReadRequest('/service/x/leader');
    assert.ok(first !== null);
    assert.equal(first.endpoints[0]?.port, silent.port);
    assert.match(first.request.toString(), new RegExp(`^POST /v3/kv/range HTTP/1.1\\r\\nHost: 127.0.0.1:${silent.port}\\r\\n`));
    assert.equal(client.quorumReadRequest('/service/x/leader'), first, 'the same request while nothing changed');
    await client.range('/service/x/', { prefix: true }); // answered by the second endpoint, now preferred
    const moved = client.quorumReadRequest('/service/x/leader');
    assert.ok(moved !== null && moved !== first);
    assert.deepEqual(
      moved.endpoints.map((e) => e.port),
      [healthy.port, silent.port],
    );
    assert.match(moved.request.toString(), new RegExp(`Host: 127.0.0.1:${healthy.port}\\r\\n`));
    const other = client.quorumReadRequest('/service/y/leader');
    assert.ok(other !== null && other.request.toString().includes(Buffer.from('/service/y/leader').toString('base64')), 'another key, another request');
  });
});
