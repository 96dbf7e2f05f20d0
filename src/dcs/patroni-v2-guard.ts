/**
 * A node file whose DCS section is `etcd:` is read by keel as etcd's v3 API (docs/configuration.md),
 * but Patroni 3.0.2 speaks v2 with it, and v2 keys live apart from v3's. A Patroni cluster running
 * on v2 keys (etcd started with --enable-v2) is therefore invisible to keel: an agent started on
 * one of its replicas with the same file would find no leader in v3, take the key and promote —
 * a second primary beside Patroni's. So before its first cycle, an agent whose file says `etcd:`
 * asks etcd's v2 store for that cluster's leader key (Patroni's layout, /<namespace>/<scope>/leader,
 * a key that lives only as long as its TTL: a dead Patroni's expires) and refuses to start while a
 * Patroni leads there. An etcd without v2 (3.4 and later by default; the seed's 3.5) answers 404,
 * as does a v2 store without that key: nothing to fear. No endpoint answering within the deadline
 * is logged and let through: the agent can take no key without etcd either.
 */
import { KeelError } from '../errors.js';
import type { EtcdConfig } from '../config/types.js';
import { readTlsMaterial } from '../config/tls-files.js';
import { EtcdHttp, endpointName, type HttpAnswer } from '../engine/etcd/etcd-http.js';

/** What one v2 answer says about the leader key. */
export type V2LeaderAnswer = { kind: 'leader'; name: string } | { kind: 'none' } | { kind: 'unknown'; detail: string };

/** Patroni's v2 path of the leader key (the same layout as v3's keys). */
export function v2LeaderPath(namespace: string, scope: string): string {
  const ns = `/${namespace.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  return `/v2/keys${ns}/${encodeURIComponent(scope)}/leader`;
}

/**
 * Reads one answer to GET /v2/keys/.../leader. 200 with a node value: a Patroni leads there.
 * 404: no such key, or no v2 API at all (etcd's plain "404 page not found"). Anything else (v2
 * auth refusing us, a server error) is not an answer either way.
 */
export function interpretV2Leader(answer: HttpAnswer): V2LeaderAnswer {
  if (answer.status === 404) return { kind: 'none' };
  if (answer.status === 200) {
    try {
      const value = (JSON.parse(answer.body) as { node?: { value?: unknown } }).node?.value;
      if (typeof value === 'string' && value !== '') return { kind: 'leader', name: value };
    } catch {
      // not etcd's JSON: fall through
    }
  }
  return { kind: 'unknown', detail: `HTTP ${answer.status}: ${answer.body.slice(0, 200).trim()}` };
}

export interface V2GuardOptions {
  etcd: EtcdConfig;
  namespace: string;
  scope: string;
  /** How long to keep trying endpoints (the agent passes 10 s, Patroni's default retry_timeout). */
  deadlineMs: number;
  warn: (message: string) => void;
}

/** Throws a one-line KeelError when a Patroni holds the cluster's leader key in etcd's v2 store. */
export async function refuseLivePatroniV2Cluster(options: V2GuardOptions): Promise<void> {
  const { etcd } = options;
  const http = new EtcdHttp(etcd.protocol, etcd.protocol === 'https' ? readTlsMaterial({ ca: etcd.cacert, cert: etcd.cert, key: etcd.key }) : {});
  const headers: Record<string, string> =
    etcd.username === undefined ? {} : { authorization: `Basic ${Buffer.from(`${etcd.username}:${etcd.password ?? ''}`).toString('base64')}` };
  const path = v2LeaderPath(options.namespace, options.scope);
  const deadline = performance.now() + options.deadlineMs;
  const problems: string[] = [];
  try {
    do {
      for (const endpoint of etcd.endpoints) {
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        let answer: V2LeaderAnswer;
        try {
          answer = interpretV2Leader(await http.exchange(endpoint, 'GET', path, undefined, headers, Math.min(remaining, 2000)));
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
          continue;
        }
        if (answer.kind === 'none') return;
        if (answer.kind === 'leader') {
          throw new KeelError(
            'dcs.patroni_v2_cluster',
            `etcd's v2 store shows Patroni running cluster '${options.scope}' (leader ${answer.name}, ${endpointName(endpoint)}${path}): ` +
              `keel reads the etcd: section with the v3 API, where that cluster is invisible, and would start a second primary beside it`,
            {
              hint: 'move the Patroni cluster to an etcd3: section first (its keys then live where keel reads them), or stop its Patroni agents and let the leader key expire',
            },
          );
        }
        problems.push(`${endpointName(endpoint)}: ${answer.detail}`);
      }
      if (performance.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    } while (performance.now() < deadline);
  } finally {
    http.close();
  }
  options.warn(`could not check etcd's v2 store for a Patroni cluster '${options.scope}' (the file names etcd with etcd:): ${problems.slice(-3).join('; ')}`);
}
