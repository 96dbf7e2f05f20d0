/**
 * failsafe_mode (Patroni's semantics): while etcd is unreachable, a primary keeps running only if
 * every member listed in the `failsafe` key (written by the leader while etcd worked) accepts its
 * POST /failsafe. A member that accepts is reachable, and it sees a running primary through the
 * REST API, so it will not race for the leader key; a member that is not reachable may be on the
 * other side of a partition, so the primary demotes.
 */
import type { NodeRuntime } from './runtime.js';
import { formatConnUrl } from '../postgres/conn-url.js';
import { buildMemberData } from './member-data.js';

export const FAILSAFE_POST_TIMEOUT_MS = 2000;

/** POSTs to every other member of the last known failsafe key; true when all answered 200. */
export async function checkFailsafeTopology(rt: NodeRuntime): Promise<boolean> {
  const failsafe = rt.view?.failsafe ?? null;
  if (failsafe === null || !(rt.name in failsafe)) return false;
  const pgc = rt.local.postgresql;
  const body = JSON.stringify({ name: rt.name, conn_url: formatConnUrl(pgc.connectAddress.host, pgc.connectAddress.port), api_url: buildMemberData(rt).apiUrl });
  const others = Object.entries(failsafe).filter(([name]) => name !== rt.name);
  const auth = rt.local.restapi.authentication;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // Members share the REST API credentials (Patroni sends its own restapi.authentication).
  if (auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
  if (others.length === 0) return true; // a single-node cluster
  const answers = await Promise.all(
    others.map(async ([name, apiUrl]) => {
      try {
        const url = new URL('/failsafe', apiUrl);
        const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(FAILSAFE_POST_TIMEOUT_MS) });
        await response.text();
        if (response.status !== 200) rt.log.info(`failsafe: ${name} answered ${response.status}`);
        return response.status === 200;
      } catch {
        rt.log.info(`failsafe: ${name} did not answer`);
        return false;
      }
    }),
  );
  return answers.every(Boolean);
}

/** POST /failsafe on this member: accept the leader's heartbeat unless we run as a primary. */
export function acceptFailsafe(rt: NodeRuntime, body: Record<string, unknown>, nowMs: number): { code: number; text: string } {
  if (!rt.dynamic.failsafeMode) return { code: 502, text: 'failsafe mode is not enabled' };
  if (rt.probe !== null && !rt.probe.inRecovery) return { code: 500, text: 'Running as a leader' };
  const name = typeof body['name'] === 'string' ? body['name'] : null;
  if (name === null) return { code: 400, text: 'missing "name"' };
  rt.failsafeLeader = { name, atMs: nowMs };
  return { code: 200, text: 'Accepted' };
}

/** This node takes part in an active failsafe: as the leader continuing, or as a member that heard it within ttl. */
export function failsafeActive(rt: NodeRuntime, nowMs: number): boolean {
  if (rt.lastWhy?.kind === 'failsafeContinue') return true;
  return rt.failsafeLeader !== null && nowMs - rt.failsafeLeader.atMs < rt.dynamic.ttlMs;
}
