/**
 * The Galera node's REST API for HAProxy's httpchk and for operators: clustercheck semantics
 * (200 only when Synced in a Primary component, ready and writable; 503 with the reason), and the
 * last wsrep status as JSON.
 *   GET /health, /clustercheck, /  -> 200 "<reason>" | 503 "<reason>"
 *   GET /writer                     -> 200 only on the healthy node that holds the etcd writer key
 *   GET /status                     -> the wsrep status (JSON), 200 even when unhealthy
 *   GET /metrics                    -> Prometheus text format (metrics.ts)
 */
import { createServer, type Server } from 'node:http';
import type { HostPort } from '../config/types.js';
import { checkHealth, type Health, type WsrepStatus } from './health.js';
import { type GaleraCounters, renderGaleraMetrics } from './metrics.js';

export interface GaleraApi {
  port: number;
  close(): Promise<void>;
}

export interface GaleraApiSource {
  name: string;
  /** The cluster's scope (galera.yml `scope`): the metrics' `scope` label. */
  scope: string;
  counters: () => GaleraCounters;
  availableWhenDonor: boolean;
  status: () => WsrepStatus | null;
  isWriter: () => boolean;
}

export async function startGaleraApi(listen: HostPort, source: GaleraApiSource): Promise<GaleraApi> {
  const { name, status, isWriter } = source;
  /** GET /writer's verdict: healthy (donors never) and holding the writer key. */
  const isWriterNow = (health: Health): boolean => health.ok && isWriter();
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS') {
      response.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/' || path === '/health' || path === '/clustercheck') {
      const health = checkHealth(status(), source.availableWhenDonor);
      response.writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${name}: ${health.reason}\n`);
      return;
    }
    if (path === '/writer') {
      const health = checkHealth(status());
      const writer = isWriterNow(health);
      const reason = !health.ok ? health.reason : writer ? 'the writer' : 'healthy, not the writer';
      response.writeHead(writer ? 200 : 503, { 'content-type': 'text/plain' }).end(`${name}: ${reason}\n`);
      return;
    }
    if (path === '/status') {
      const current = status();
      const health = checkHealth(current);
      const wsrep = current === null ? null : { ...current, raw: undefined };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, healthy: health.ok, reason: health.reason, wsrep }) + '\n');
      return;
    }
    if (path === '/metrics') {
      const current = status();
      renderGaleraMetrics({
        scope: source.scope,
        name,
        status: current,
        healthy: checkHealth(current, source.availableWhenDonor).ok,
        writer: isWriterNow(checkHealth(current)),
        counters: source.counters(),
      }).then(
        ({ contentType, text }) => response.writeHead(200, { 'content-type': contentType }).end(text),
        (error: unknown) =>
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : listen.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
