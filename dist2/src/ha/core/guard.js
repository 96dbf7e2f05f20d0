/**
 * The lease guard's rule, applied at the instant its timer fires (the keeper asks with the facts
 * of that instant, not of the last cycle): fence unless PostgreSQL is already fenced, or is
 * positively known to be a replica — a fresh probe says it is in recovery and no promotion is
 * under way. A replica acknowledges no commit; fencing it would only leave it fenced should it win
 * a race later in the cycle. Anything else — primary, unknown, promoting — is fenced.
 */
export function guardShouldFence(facts) {
    if (facts.fenced)
        return false;
    return !(facts.knownReplica && !facts.promoting);
}
//# sourceMappingURL=guard.js.map