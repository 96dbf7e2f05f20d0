/**
 * A lease keepalive is a streaming request on etcd's gateway: the client settles on the answer's
 * first line. When the answer ends there, the connection is reused for the next request; when
 * the stream stays open, the connection is dropped after a short drain, never held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';

const LINE = JSON.stringify({ result: { header: { revision: '9' }, ID: '42', TTL: '10' } });

/** A gateway that answers every keepalive with one line, then ends the stream or holds it open. */
async function gateway(holdOpen: boolean): Promise<{ port: number; connections: number; closed: () => number; close(): Promise<void> }> {
  let connections = 0;
  let closed = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (holdOpen) res.write(`${LINE}\n`);
      else res.end(`${LINE}\n`);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    socket.on('close', () => (closed += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    closed: () => closed,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(condition: () => boolean, withinMs: number): Promise<boolean> {
  const endMs = performance.now() + withinMs;
  while (performance.now() < endMs) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}

test('a keepalive answer that ends with its first line leaves the connection to the next request', async () => {
  const etcd = await gateway(false);
  const client = new EtcdClient({ endpoints: [{ host: '127.0.0.1', port: etcd.port }], requestTimeoutMs: 5000, apiPrefix: '/v3' });
  try {
    for (let i = 0; i < 3; i++) assert.equal(await client.leaseKeepAlive('42'), 10);
    assert.equal(etcd.connections, 1, 'the three keepalives shared one connection');
    assert.equal(etcd.closed(), 0);
  } finally {
    client.close();
    await etcd.close();
  }
});

test('a keepalive stream left open is answered at its first line and its connection dropped soon after', async () => {
  const etcd = await gateway(true);
  const client = new EtcdClient({ endpoints: [{ host: '127.0.0.1', port: etcd.port }], requestTimeoutMs: 5000, apiPrefix: '/v3' });
  try {
    assert.equal(await client.leaseKeepAlive('42'), 10, 'settled on the first line, not at the stream end');
    assert.ok(await until(() => etcd.closed() === 1, 10_000), 'the held stream was dropped');
    assert.equal(await client.leaseKeepAlive('42'), 10);
    assert.equal(etcd.connections, 2, 'the next keepalive opened a new connection');
  } finally {
    client.close();
    await etcd.close();
  }
});
