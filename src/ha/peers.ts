/**
 * Other members' status over their REST API (GET /patroni), fetched in parallel with a 2 s
 * deadline each — the input of the leader race (Patroni's is_healthiest_node).
 */
import type { Member } from '../dcs/types.js';
import type { PeerStatus, PgRole } from './core/types.js';
import type { PeerClient } from './ports.js';

export const PEER_TIMEOUT_MS = 2000;

function asNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** replication_state: top level in Patroni >= 3.1, under `keel` in keel's 3.0.2-shaped body; null when absent. */
function streamingOf(body: Record<string, unknown>): boolean | null {
  const keel = body['keel'];
  const state = body['replication_state'] ?? (keel !== null && typeof keel === 'object' ? (keel as Record<string, unknown>)['replication_state'] : undefined);
  return typeof state === 'string' ? state === 'streaming' : null;
}

/** Interprets a GET /patroni body (pure). */
export function peerFromStatusJson(member: Member, body: Record<string, unknown>): PeerStatus {
  const role: PgRole | null = body['role'] === 'master' || body['role'] === 'primary' ? 'primary' : body['role'] === 'replica' ? 'replica' : null;
  const xlog = (body['xlog'] ?? {}) as Record<string, unknown>;
  const wal = role === 'primary' ? asNumber(xlog['location']) : Math.max(asNumber(xlog['received_location']) ?? -1, asNumber(xlog['replayed_location']) ?? -1);
  const tags = (body['tags'] ?? member.tags ?? {}) as Record<string, unknown>;
  const priority = asNumber(tags['failover_priority']);
  return {
    name: member.name,
    reachable: true,
    running: body['state'] === 'running',
    role,
    walPositionBytes: wal === null || wal < 0 ? null : wal,
    timeline: asNumber(body['timeline']),
    nofailover: tags['nofailover'] === true,
    failoverPriority: priority ?? undefined,
    watchdogFailed: body['watchdog_failed'] === true,
    streaming: streamingOf(body),
  };
}

function unreachable(member: Member): PeerStatus {
  return {
    name: member.name,
    reachable: false,
    running: false,
    role: null,
    walPositionBytes: null,
    timeline: null,
    nofailover: false,
    failoverPriority: undefined,
    watchdogFailed: false,
    streaming: null,
  };
}

async function peerStatus(client: PeerClient, member: Member): Promise<PeerStatus> {
  if (member.apiUrl === null) return unreachable(member);
  const body = await client.status(member.apiUrl, PEER_TIMEOUT_MS);
  return body === null ? unreachable(member) : peerFromStatusJson(member, body);
}

export async function fetchPeers(client: PeerClient, members: Member[], self: string): Promise<PeerStatus[]> {
  return Promise.all(members.filter((m) => m.name !== self).map((m) => peerStatus(client, m)));
}
