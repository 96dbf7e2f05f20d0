/**
 * failsafe_mode (Patroni's semantics), the shell side. While etcd is unreachable, a primary keeps
 * running only if every member listed in the `failsafe` key (written by the leader while etcd
 * worked) accepts its POST /failsafe — the `confirmFailsafe` gate runs `confirmTopology`. A member
 * that accepts remembers the leader for ttl (`FailsafeInbox`) and, meanwhile, follows it rather
 * than race for the key (src/ha/core/rules/context.ts failsafeLeaderName).
 */
import type { Credentials } from '../config/types.js';
import type { Logger } from '../observability/log.js';
import type { PeerClient } from './ports.js';

export const FAILSAFE_POST_TIMEOUT_MS = 2000;

/** POSTs to every other member of `topology`; true when all answered 200 (a one-member topology is true). */
export async function confirmTopology(
  peers: PeerClient,
  self: string,
  topology: Record<string, string> | null,
  body: Record<string, unknown>,
  auth: Credentials | undefined,
  log: Logger,
): Promise<boolean> {
  if (topology === null || !(self in topology)) return false;
  const others = Object.entries(topology).filter(([name]) => name !== self);
  const answers = await Promise.all(
    others.map(async ([name, apiUrl]) => {
      const code = await peers.postFailsafe(apiUrl, body, auth, FAILSAFE_POST_TIMEOUT_MS);
      if (code !== 200) log.info(`failsafe: ${name} ${code === null ? 'did not answer' : `answered ${code}`}`);
      return code === 200;
    }),
  );
  return answers.every(Boolean);
}

/** A POST /failsafe this member accepted: which leader, and when (monotonic). */
export interface HeardLeader {
  name: string;
  /** The conn_url it posted: its member key may have expired while etcd was unreachable. */
  connUrl: string | null;
  atMs: number;
}

/** What this member heard through POST /failsafe. The REST API hands requests in; decide reads `heard`. */
export class FailsafeInbox {
  heard: HeardLeader | null = null;
  /** This member is racing for the leader key right now (its acquire is in flight). */
  racing = false;

  /**
   * Patroni's do_POST_failsafe: refuse with failsafe_mode off, and while this member runs as a
   * primary, holds or promotes for the key (`leading`), or races for it — accepting is a promise
   * not to race for ttl, which a member already racing cannot keep.
   *
   * keel also refuses a poster that is not the leader etcd showed us within ttl (`keyHolder`, the
   * member whose key our last read found; null when none or too old). Such a poster lost its
   * lease unawares — a leader whose process was frozen and whose round went out on resume — and
   * accepting would make this member follow it, and race for no key, while the real leader hands
   * over (Patroni's leader runs the round only from its cycle, after a failed DCS request, so it
   * does not meet this).
   */
  accept(body: Record<string, unknown>, nowMs: number, enabled: boolean, leading: boolean, keyHolder: string | null): { code: number; text: string } {
    if (!enabled) return { code: 502, text: 'failsafe mode is not enabled' };
    if (leading) return { code: 500, text: 'Running as a leader' };
    if (this.racing) return { code: 503, text: 'racing for the leader key' };
    const name = typeof body['name'] === 'string' ? body['name'] : null;
    if (name === null) return { code: 400, text: 'missing "name"' };
    if (keyHolder !== null && keyHolder !== name) return { code: 409, text: `${keyHolder} holds the leader key` };
    this.heard = { name, connUrl: typeof body['conn_url'] === 'string' ? body['conn_url'] : null, atMs: nowMs };
    return { code: 200, text: 'Accepted' };
  }

  /** A leader's POST was accepted after `sinceMs` (monotonic). */
  heardSince(sinceMs: number): boolean {
    return this.heard !== null && this.heard.atMs >= sinceMs;
  }

  /** A leader was heard within ttl (this member takes part in an active failsafe). */
  active(nowMs: number, ttlMs: number): boolean {
    return this.heard !== null && nowMs - this.heard.atMs < ttlMs;
  }
}
