/**
 * The REST API over real HTTP on 127.0.0.1 (port 0): what HAProxy and patronictl see.
 * Covers GET/HEAD/OPTIONS status codes, HEAD and OPTIONS carrying no body at all (checked on
 * the raw socket, as HAProxy reads it), basic auth on unsafe methods, 404/405, 501 for an
 * operation the agent does not implement, body limits and malformed JSON, a handler bug
 * answering 500 without taking the server down, keep-alive reuse, and an extra route.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { startApiServer, type ApiServer } from '../../../src/api/server.js';
import type { ApiProvider, JsonObject } from '../../../src/api/routes.js';
import { patroniStatusJson, type NodeStatus } from '../../../src/api/status.js';
import { createLogger } from '../../../src/observability/log.js';
import { baseStatus } from './fixtures.js';

interface Response {
  code: number;
  headers: IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

const AUTH = { username: 'keel', password: 's3cret' };
const authHeader = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const logLines: string[] = [];
let status: NodeStatus = baseStatus('primary');
let statusThrows = false;
const received: Array<{ hook: string; body: JsonObject | null }> = [];
let config: unknown = { ttl: 30, loop_wait: 10 };

const provider: ApiProvider = {
  getStatus() {
    if (statusThrows) throw new Error('status snapshot exploded');
    return status;
  },
  getClusterJson: async () => ({ members: [{ name: 'n1', role: 'leader' }] }),
  getHistory: async () => [[1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00+00:00', 'n1']],
  getConfig: async () => config,
  async postSwitchover(body) {
    received.push({ hook: 'switchover', body });
    return { code: 200, text: 'Successfully switched over to "n2"' };
  },
  async postRestart(body) {
    received.push({ hook: 'restart', body });
    return { code: 200, text: 'restarted successfully' };
  },
  async patchConfig(body) {
    received.push({ hook: 'patchConfig', body });
    return { code: 200, json: { ...body, ttl: 30 } };
  },
};

const server: ApiServer = await startApiServer({
  listen: { host: '127.0.0.1', port: 0 },
  auth: AUTH,
  provider,
  clock: () => 100_000,
  log: createLogger({ level: 'debug', format: 'text', write: (line) => logLines.push(line) }),
  extraRoutes: [
    {
      method: 'GET',
      path: '/metrics',
      unsafe: false,
      body: 'none',
      handle: () => ({ code: 200, body: { kind: 'text', text: 'patroni_primary 1\n', contentType: 'text/plain' } }),
    },
  ],
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
after(async () => {
  agent.destroy();
  await server.close();
});

function call(method: string, path: string, options: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.body));
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ code: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reusedSocket: req.reusedSocket }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote until it closed. */
function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.end(text);
  });
}

test('GET health endpoints answer the health code with the /patroni JSON body', async () => {
  status = baseStatus('primary');
  const primary = await call('GET', '/primary');
  assert.equal(primary.code, 200);
  assert.equal(primary.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(primary.body), patroniStatusJson(status));
  const replica = await call('GET', '/replica?lag=1MB');
  assert.equal(replica.code, 503);
  assert.equal(JSON.parse(replica.body).role, 'master');
  assert.equal((await call('GET', '/')).code, 200);
  assert.equal((await call('GET', '/read-only')).code, 200);
});

test('GET /patroni answers 200 whatever the health; liveness and readiness have no body', async () => {
  status = baseStatus('replica');
  status.state = 'stopped';
  status.postgres = null;
  const patroni = await call('GET', '/patroni');
  assert.equal(patroni.code, 200);
  assert.equal(JSON.parse(patroni.body).state, 'stopped');
  const liveness = await call('GET', '/liveness');
  assert.deepEqual([liveness.code, liveness.body], [200, '']);
  const readiness = await call('GET', '/readiness');
  assert.deepEqual([readiness.code, readiness.body], [503, '']);
});

test('HEAD and OPTIONS answer the status line and headers only, as HAProxy reads them', async () => {
  status = baseStatus('primary');
  const head = await raw('HEAD /primary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(head.endsWith('\r\n\r\n'), `HEAD carried a body: ${JSON.stringify(head)}`);
  const options = await raw('OPTIONS /replica HTTP/1.0\r\n\r\n');
  assert.match(options, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.ok(options.endsWith('\r\n\r\n'), `OPTIONS carried a body: ${JSON.stringify(options)}`);
  const okOptions = await raw('OPTIONS /read-write HTTP/1.0\r\n\r\n');
  assert.match(okOptions, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal((await call('HEAD', '/replica')).code, 503);
  assert.equal((await call('OPTIONS', '/leader')).code, 200);
});

test('GET /cluster, /history and /config come from the provider; no config answers 502', async () => {
  assert.deepEqual(JSON.parse((await call('GET', '/cluster')).body), { members: [{ name: 'n1', role: 'leader' }] });
  assert.equal((await call('GET', '/history')).body, '[[1, 25165984, "no recovery target specified", "2024-05-01T10:00:00+00:00", "n1"]]');
  assert.equal((await call('GET', '/config')).body, '{"ttl": 30, "loop_wait": 10}');
  config = null;
  assert.equal((await call('GET', '/config')).code, 502);
  config = { ttl: 30 };
  assert.equal((await call('GET', '/failsafe')).code, 501);
});

test('unknown paths answer 404, known paths with another method 405', async () => {
  const missing = await call('GET', '/nope');
  assert.equal(missing.code, 404);
  assert.equal(missing.body.split('\n').length, 1);
  assert.equal((await call('POST', '/nope', { headers: { Authorization: authHeader('keel', 's3cret') } })).code, 404);
  const wrong = await call('PUT', '/patroni');
  assert.equal(wrong.code, 405);
  assert.equal(wrong.headers['allow'], 'GET, HEAD, OPTIONS');
});

test('unsafe methods require basic auth', async () => {
  received.length = 0;
  const body = JSON.stringify({ leader: 'n1', candidate: 'n2' });
  const none = await call('POST', '/switchover', { body });
  assert.equal(none.code, 401);
  assert.equal(none.body, 'no auth header received');
  assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
  const wrong = await call('POST', '/switchover', { body, headers: { Authorization: authHeader('keel', 'guess') } });
  assert.deepEqual([wrong.code, wrong.body], [401, 'not authenticated']);
  assert.equal(received.length, 0);
  const right = await call('POST', '/switchover', { body, headers: { Authorization: authHeader('keel', 's3cret') } });
  assert.deepEqual([right.code, right.body], [200, 'Successfully switched over to "n2"']);
  assert.deepEqual(received, [{ hook: 'switchover', body: { leader: 'n1', candidate: 'n2' } }]);
  const patched = await call('PATCH', '/config', { body: '{"pause": true}', headers: { Authorization: authHeader('keel', 's3cret') } });
  assert.deepEqual([patched.code, JSON.parse(patched.body)], [200, { pause: true, ttl: 30 }]);
});

test('an operation the agent does not implement answers 501 with one line patronictl understands', async () => {
  const failover = await call('POST', '/failover', { body: '{"candidate": "n2"}', headers: { Authorization: authHeader('keel', 's3cret') } });
  assert.equal(failover.code, 501);
  assert.match(failover.body, /^Server does not support this operation/);
  assert.equal(failover.body.includes('\n'), false);
  assert.equal((await call('DELETE', '/switchover', { headers: { Authorization: authHeader('keel', 's3cret') } })).code, 501);
});

test('request bodies: malformed JSON 400, non-object 400, missing 411, optional body empty, oversized 413', async () => {
  const auth = { Authorization: authHeader('keel', 's3cret') };
  const malformed = await call('POST', '/switchover', { body: '{"leader": ', headers: auth });
  assert.equal(malformed.code, 400);
  assert.match(malformed.body, /^malformed JSON body: /);
  assert.equal(malformed.body.includes('\n'), false);
  assert.equal((await call('POST', '/switchover', { body: '[1]', headers: auth })).code, 400);
  assert.equal((await call('POST', '/switchover', { body: '{}', headers: auth })).code, 400);
  assert.equal((await call('POST', '/switchover', { body: '', headers: auth })).code, 400);
  const lengthless = await raw(`POST /switchover HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.Authorization}\r\nConnection: close\r\n\r\n`);
  assert.match(lengthless, /^HTTP\/1\.1 411 Length Required\r\n/);
  received.length = 0;
  assert.equal((await call('POST', '/restart', { headers: auth })).code, 200);
  assert.equal((await call('POST', '/restart', { body: '', headers: auth })).code, 200);
  assert.deepEqual(received, [
    { hook: 'restart', body: {} },
    { hook: 'restart', body: {} },
  ]);
  const big = JSON.stringify({ leader: 'n1', padding: 'x'.repeat(70 * 1024) });
  const oversized = await call('POST', '/switchover', { body: big, headers: auth });
  assert.equal(oversized.code, 413);
  assert.equal(received.length, 2);
  // The connection is still usable afterwards.
  assert.equal((await call('GET', '/patroni')).code, 200);
});

test('a chunked body growing past the limit is answered 413 and drained', async () => {
  const response = await new Promise<Response>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: server.port, method: 'POST', path: '/switchover', agent, headers: { Authorization: authHeader('keel', 's3cret') } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ code: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write('x'.repeat(8 * 1024));
    req.end();
  });
  assert.equal(response.code, 413);
  assert.equal((await call('GET', '/health')).code, 200);
});

test('a bug in a handler answers 500 and is logged; the server keeps serving', async () => {
  statusThrows = true;
  const broken = await call('GET', '/patroni');
  statusThrows = false;
  assert.equal(broken.code, 500);
  assert.match(broken.body, /^internal error: status snapshot exploded$/);
  assert.ok(logLines.some((line) => line.includes('status snapshot exploded')));
  assert.equal((await call('GET', '/patroni')).code, 200);
});

test('a health check that fails synchronously answers 500 too; a handler that never answers gets 503 at the deadline', async () => {
  statusThrows = true;
  const broken = await call('GET', '/primary');
  statusThrows = false;
  assert.deepEqual([broken.code, broken.body], [500, 'internal error: status snapshot exploded']);
  assert.equal((await call('GET', '/primary')).code, 200);

  const slow = await startApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    provider,
    handlerTimeoutMs: 200,
    log: createLogger({ level: 'debug', format: 'text', write: () => undefined }),
    extraRoutes: [{ method: 'GET', path: '/stuck', unsafe: false, body: 'none', handle: () => new Promise(() => undefined) }],
  });
  try {
    const answer = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: slow.port, path: '/stuck' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(answer, { code: 503, body: 'GET /stuck timed out after 200 ms' });
  } finally {
    await slow.close();
  }
});

test('connections are kept alive between requests', async () => {
  await call('GET', '/health');
  const second = await call('GET', '/health');
  assert.equal(second.reusedSocket, true);
});

test('extra routes extend the table (the extension point for GET /metrics)', async () => {
  const metrics = await call('GET', '/metrics');
  assert.deepEqual([metrics.code, metrics.headers['content-type'], metrics.body], [200, 'text/plain', 'patroni_primary 1\n']);
});

test('a busy port is a one-line KeelError, not a crash', async () => {
  await assert.rejects(
    startApiServer({ listen: { host: '127.0.0.1', port: server.port }, provider }),
    (error: Error) => error.name === 'KeelError' && /cannot serve the REST API on 127\.0\.0\.1:\d+: EADDRINUSE/.test(error.message),
  );
});
