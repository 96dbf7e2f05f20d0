/**
 * A running node stuck in a Non-Primary component (its peers crashed or are cut off): may it
 * turn its component into the Primary one (`pc.bootstrap=YES`)? Pure.
 *
 * Only when all of these hold, so that it never happens on both sides of a partition and never
 * throws away transactions another node has:
 *  - it has been Non-Primary for `timeoutMs` (a short network blip heals by itself);
 *  - no other member's key, on a live etcd lease, claims a Primary component (the majority side
 *    of a partition keeps its keys alive; a minority that cannot reach etcd never gets here);
 *  - no stopped node reported a position ahead of this node's last committed seqno;
 *  - this agent holds the bootstrap lock (the same create-only key on its lease as a recovery
 *    bootstrap, taken after this decision): one bootstrap of any kind at a time.
 */
import type { ReportedPosition } from './recovery-plan.js';

export interface NonPrimaryInput {
  self: string;
  nonPrimaryForMs: number;
  timeoutMs: number;
  /** Other members whose keys claim a Primary component. */
  primaryClaims: string[];
  /** This node's history and last committed seqno (wsrep_cluster_state_uuid, wsrep_last_committed). */
  uuid: string;
  lastCommitted: number;
  positions: Record<string, ReportedPosition>;
  bootstrapLockHolder: string | null;
}

export type NonPrimaryDecision = { kind: 'pc_bootstrap' } | { kind: 'wait'; why: string };

export function planNonPrimary(input: NonPrimaryInput): NonPrimaryDecision {
  if (input.nonPrimaryForMs < input.timeoutMs)
    return {
      kind: 'wait',
      why: `Non-Primary for ${Math.round(input.nonPrimaryForMs / 1000)} s, waiting ${Math.round(input.timeoutMs / 1000)} s for it to heal`,
    };
  const claims = input.primaryClaims.filter((name) => name !== input.self);
  if (claims.length > 0)
    return {
      kind: 'wait',
      why: `${claims.sort().join(', ')} ${claims.length === 1 ? 'is' : 'are'} in a Primary component: this side must rejoin it, not bootstrap`,
    };
  if (input.bootstrapLockHolder !== null && input.bootstrapLockHolder !== input.self)
    return { kind: 'wait', why: `${input.bootstrapLockHolder} is bootstrapping the cluster` };
  for (const [name, position] of Object.entries(input.positions).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name !== input.self && position.uuid === input.uuid && position.seqno > input.lastCommitted) {
      return { kind: 'wait', why: `${name} reported seqno ${position.seqno}, ahead of this node's ${input.lastCommitted}` };
    }
  }
  return { kind: 'pc_bootstrap' };
}
