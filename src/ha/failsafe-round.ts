/**
 * failsafe_mode, the leader's side: one POST /failsafe round to every member of the `failsafe`
 * topology, and the lease keeper's renewer that runs such a round on its own timer.
 *
 * The HA cycle runs the round (the confirmFailsafe gate) once a DCS request has failed, which
 * takes up to retry_timeout. At Patroni's tightest timings (loop_wait + 2 * retry_timeout = ttl)
 * a read sent one loop_wait after the last keepalive fails at ttl - retry_timeout after it: the
 * very instant the lease guard fires. Depending on the phase of the etcd outage against the
 * cycle, the fence then came first and writes stopped until the next round (1.6 s in CI, issue 10,
 * etcd down with failsafe_mode on). The renewer runs the round a little before the guard fires,
 * whatever the cycle is waiting on; the cycle's own round stays, and either one renews.
 */
import type { AgentContext } from './context.js';
import { formatConnUrl } from './core/conn-url.js';
import { guardShouldRenew, type GuardFacts } from './core/guard.js';
import { confirmTopology, FAILSAFE_POST_TIMEOUT_MS } from './failsafe.js';
import { ownApiUrl } from './member-data.js';

/** One round; on success the lease keeper counts the authority from its send time. */
export async function runFailsafeRound(a: AgentContext): Promise<boolean> {
  const local = a.local();
  const sentMs = a.ports.clock.now();
  const pgc = local.postgresql;
  const body = { name: local.name, conn_url: formatConnUrl(pgc.connectAddress.host, pgc.connectAddress.port), api_url: ownApiUrl(a) };
  const confirmed = await confirmTopology(a.ports.peers, local.name, a.cluster.view?.failsafe ?? null, body, local.restapi.authentication, a.log);
  if (confirmed) a.lease.confirmFailsafe(sentMs);
  return confirmed;
}

/**
 * The lease keeper's renewer. Its lead is one round at the POST timeout, but at most half of the
 * guard's offset: a leader whose keepalives work (one per loop_wait) never gets that close to
 * the guard, so the members hear nothing while etcd answers.
 */
export class FailsafeRenewer {
  private inFlight = false;

  constructor(
    private readonly a: AgentContext,
    /** The facts the lease guard's own rule reads (agent.ts), at the instant of the call. */
    private readonly guardFacts: () => GuardFacts,
  ) {}

  leadMs(fenceAfterSentMs: number): number {
    return Math.min(FAILSAFE_POST_TIMEOUT_MS, Math.floor(fenceAfterSentMs / 2));
  }

  renew(): void {
    const a = this.a;
    if (this.inFlight) return;
    const facts = { ...this.guardFacts(), failsafeMode: a.cluster.dynamic.failsafeMode, paused: a.cluster.dynamic.pause };
    if (!guardShouldRenew(facts)) return;
    this.inFlight = true;
    void runFailsafeRound(a)
      .then((confirmed) => {
        if (confirmed) a.log.info('failsafe: every member vouched for this leader before its lease guard fired (etcd did not confirm the lease in time)');
      })
      .catch((error: unknown) => a.log.warning(`failsafe round failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.inFlight = false;
      });
  }
}
