/**
 * The lease guard: a timer, independent of the HA cycle, that fences PostgreSQL the moment our
 * leader lease may be about to expire — even if the cycle is stuck in I/O (etcd hanging, a slow
 * disk). decide() arms it with `fenceAfterSentMs` (ttl minus a margin); every confirmed
 * keepalive moves the deadline forward. Fencing is idempotent and takes milliseconds: rewrite
 * postgresql.conf with the black-hole synchronous standby and SIGHUP the postmaster.
 */
import type { NodeRuntime } from './runtime.js';
import { writeConfigNow } from './tasks.js';

/**
 * A server we positively know to be a replica (a fresh probe says so and no promotion is under
 * way) acknowledges no commit: fencing it would only leave it fenced if it wins a race later in
 * the cycle. Anything else — primary, unknown, promoting — is fenced.
 */
function knownReplica(rt: NodeRuntime): boolean {
  return rt.probe !== null && rt.probe.inRecovery && rt.task.running?.kind !== 'promote';
}

export async function fenceNow(rt: NodeRuntime, reason: string): Promise<void> {
  if (rt.fenced) return;
  if (knownReplica(rt)) {
    rt.log.debug(`lease guard: not fencing a replica (${reason})`);
    return;
  }
  rt.fenced = true;
  rt.log.warning(`fencing PostgreSQL: ${reason}`);
  try {
    await writeConfigNow(rt);
    await rt.instance.reload();
  } catch (error) {
    rt.log.error(`fencing by configuration failed (${error instanceof Error ? error.message : String(error)}); stopping PostgreSQL immediately`);
    await rt.instance.kill().catch(() => undefined);
  }
}

/** (Re)schedules the guard from the newest confirmed keepalive; disarms when there is no guard. */
export function armLeaseGuard(rt: NodeRuntime, now: () => number): void {
  if (rt.leaseGuardTimer !== null) {
    clearTimeout(rt.leaseGuardTimer);
    rt.leaseGuardTimer = null;
  }
  const guard = rt.leaseGuard;
  if (guard === null) return;
  // Our authority counts from the later of the newest confirmed keepalive and the newest round of
  // POST /failsafe every member accepted (failsafe_mode; see LeaseObservation).
  const lease = rt.leaseConfirmedSentMs;
  const failsafe = rt.failsafeConfirmedSentMs;
  const sent = lease === null ? failsafe : failsafe === null ? lease : Math.max(lease, failsafe);
  const delayMs = sent === null ? 0 : Math.max(0, sent + guard.fenceAfterSentMs - now());
  rt.leaseGuardTimer = setTimeout(() => {
    rt.leaseGuardTimer = null;
    void fenceNow(rt, `no confirmed lease keepalive (or failsafe confirmation) for ${guard.fenceAfterSentMs} ms; the leader key may expire soon`);
  }, delayMs);
  rt.leaseGuardTimer.unref();
}
