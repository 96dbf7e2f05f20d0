/**
 * The lease guard's rule, applied at the instant its timer fires (the keeper asks with the facts
 * of that instant, not of the last cycle): fence unless PostgreSQL is already fenced, or is
 * positively known to be a replica — a fresh probe says it is in recovery and no promotion is
 * under way. A replica acknowledges no commit; fencing it would only leave it fenced should it win
 * a race later in the cycle. Anything else — primary, unknown, promoting — is fenced.
 */

export interface GuardFacts {
  /** A probe taken since the last possible role change says: in recovery. */
  knownReplica: boolean;
  /** A promote task is running. */
  promoting: boolean;
  /** The fence is already in place. */
  fenced: boolean;
}

export function guardShouldFence(facts: GuardFacts): boolean {
  if (facts.fenced) return false;
  return !(facts.knownReplica && !facts.promoting);
}

export interface RenewFacts extends GuardFacts {
  /** failsafe_mode is on in the cluster configuration. */
  failsafeMode: boolean;
  /** The cluster is paused: a DCS failure then runs no failsafe round either (decide.ts dcsUnreachable). */
  paused: boolean;
}

/**
 * Whether the lease keeper's renewer asks the members (a POST /failsafe round) shortly before the
 * guard fires: in failsafe_mode, not paused, for a node the guard would fence — fenced already or
 * not, since a confirmed round lets the next cycle lift the fence. Every member that accepts
 * promises not to race for ttl from receipt, so the authority counted from the round's send time
 * holds on the same ground as the cycle's own confirmFailsafe gate.
 */
export function guardShouldRenew(facts: RenewFacts): boolean {
  if (!facts.failsafeMode || facts.paused) return false;
  return !(facts.knownReplica && !facts.promoting);
}
