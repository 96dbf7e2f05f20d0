/**
 * keel's own GET endpoints on the REST server: GET /metrics (Prometheus content type, the
 * exposition of the provider), GET /ui (one self-contained HTML document: no external asset, a
 * Content-Security-Policy that forbids loading anything but same-origin JSON), GET /decisions
 * (this member's, or another's through the provider; 502 when that member does not answer) and
 * GET /explain (502 when etcd cannot be read), and 501 from a provider without the hook.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../src/api/server.js';
import type { ApiProvider } from '../../../src/api/routes.js';
import { MetricsExposition } from '../../../src/api/metrics.js';
import { UI_PAGE } from '../../../src/api/ui-page.js';
import { createLogger } from '../../../src/observability/log.js';
import { parseExposition, sampleValue } from '../../support/prometheus.js';
import { baseStatus } from './fixtures.js';

const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });
let explain: unknown = null;
const exposition = new MetricsExposition();
const base: ApiProvider = {
  getStatus: () => baseStatus('primary'),
  getClusterJson: async () => ({ members: [] }),
  getHistory: async () => [],
  getConfig: async () => ({}),
};
const full: ApiProvider = {
  ...base,
  getMetrics: () => exposition.render(baseStatus('primary')),
  getDecisions: async (member) =>
    member === null
      ? { name: 'n1', decisions: [{ kind: 'leaderNoAction', why: 'no action. I am (n1), the leader with the lock' }] }
      : member === 'n2'
        ? { name: 'n2', decisions: [] }
        : null,
  getExplain: async () => explain,
};
const withHooks = await startApiServer({ listen: { host: '127.0.0.1', port: 0 }, provider: full, log: quiet });
const without = await startApiServer({ listen: { host: '127.0.0.1', port: 0 }, provider: base, log: quiet });
after(async () => {
  await withHooks.close();
  await without.close();
});

async function get(port: number, path: string): Promise<{ code: number; type: string; body: string; csp: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return {
    code: response.status,
    type: response.headers.get('content-type') ?? '',
    body: await response.text(),
    csp: response.headers.get('content-security-policy'),
  };
}

test('GET /metrics: the Prometheus text format with its content type', async () => {
  const answer = await get(withHooks.port, '/metrics');
  assert.equal(answer.code, 200);
  assert.equal(answer.type, 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(sampleValue(parseExposition(answer.body), 'patroni_primary', { scope: 'demo' }), 1);
  assert.equal((await get(without.port, '/metrics')).code, 501);
});

test('GET /ui: one self-contained HTML document that loads nothing from elsewhere', async () => {
  const answer = await get(withHooks.port, '/ui');
  assert.equal(answer.code, 200);
  assert.equal(answer.type, 'text/html; charset=utf-8');
  assert.equal(answer.body, UI_PAGE);
  assert.match(answer.body, /^<!doctype html>/);
  assert.doesNotMatch(answer.body, /\b(src|href)=|https?:\/\/|@import|url\(/i, 'no external asset, no link');
  assert.match(answer.csp ?? '', /default-src 'none'/);
  assert.match(answer.csp ?? '', /connect-src 'self'/);
  for (const endpoint of ['/cluster', '/patroni', '/config', '/history', '/explain', '/decisions?member='])
    assert.ok(answer.body.includes(`"${endpoint}`), endpoint);
});

test('GET /decisions and GET /explain', async () => {
  const own = await get(withHooks.port, '/decisions');
  assert.equal(own.code, 200);
  assert.equal((JSON.parse(own.body) as { name: string }).name, 'n1');
  assert.deepEqual(JSON.parse((await get(withHooks.port, '/decisions?member=n2')).body), { name: 'n2', decisions: [] });
  const silent = await get(withHooks.port, '/decisions?member=n9');
  assert.deepEqual([silent.code, silent.body], [502, 'member n9 did not answer']);
  explain = null;
  assert.equal((await get(withHooks.port, '/explain')).code, 502);
  explain = { leader: 'n1', leader_answers: true, members: [] };
  assert.deepEqual(JSON.parse((await get(withHooks.port, '/explain')).body), explain);
  assert.equal((await get(without.port, '/decisions')).code, 501);
  assert.equal((await get(without.port, '/explain')).code, 501);
});
