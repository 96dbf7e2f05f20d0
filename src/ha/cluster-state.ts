/**
 * The agent's view of the DCS: the last cluster snapshot, the dynamic configuration it carries,
 * and when the DCS last answered (for the REST API's freshness rule and Patroni's dcs_last_seen).
 * Owned by the agent; read by observe, the executor and the status builder.
 */
import { adjustTimings, parseDynamicConfig } from '../config/dynamic.js';
import type { DynamicConfig } from '../config/types.js';
import type { ClusterView, Dcs } from '../dcs/types.js';
import type { Clock } from '../engine/clock.js';
import type { Logger } from '../observability/log.js';
import { parseConnUrl } from './core/conn-url.js';
import { CYCLE_SLACK_MS, replicaProofMaxAgeMs } from './core/lease-renewal.js';
import { sameTopology } from './core/rules/leader-duties.js';
import type { MemberAddress } from './core/types.js';

export class ClusterState {
  view: ClusterView | null = null;
  /** Start of the current run of failed reads (monotonic); null when the last read worked. */
  failingSinceMs: number | null = null;
  /** Last successful read (monotonic); null before the first. */
  lastOkMs: number | null = null;
  /** Last successful read (wall clock ms), for /patroni dcs_last_seen. */
  lastSeenWallMs: number | null = null;
  /** The last leader seen holding the key, and when (wall clock ms): a failover record's "old leader". */
  lastLeader: { name: string; seenWallMs: number } | null = null;
  /** When a read first found the leader key gone (wall clock ms); null while it is held. */
  leaderGoneSinceWallMs: number | null = null;
  /** mod_revision of the config key last applied. */
  private configRevision: number | null = null;
  /** `failsafe` topologies written since a read last showed the newest (`latest`): see noteFailsafeWriting. */
  private failsafeWrites: { union: Record<string, string>; latest: Record<string, string> } | null = null;

  constructor(
    /** The cluster configuration: from the DCS `config` key once read, else from bootstrap.dcs. */
    public dynamic: DynamicConfig,
  ) {}

  /**
   * The cycle's view of the cluster: the DCS's watch-fed copy when a recent keepalive proves it
   * current (Dcs.readCluster; a keepalive from the last cycle or later counts, from two cycles
   * back for a replica that renews its lease every other cycle), else one range read.
   *
   * The leader (`self` holds the key in the last view) proves it with a proof sent now: an etcd
   * gone since the last one must fail this read, so that the cycle takes the DCS-failure path
   * (failsafe_mode) rather than decide on the copy and demote when the key update fails. That
   * proof is the lease keepalive the leader sends every cycle anyway (`renewLease`, sent here
   * rather than after the decision; the executor then leaves its own out): one etcd request a
   * cycle, as Patroni's leader, where a linearizable read before it made two (issue 12). Without
   * `renewLease`, or when the keepalive proved nothing (it granted a new lease, or found ours
   * expired), the proof is a linearizable read.
   *
   * A failure is recorded, never thrown.
   */
  async read(dcs: Dcs, clock: Clock, log: Logger, self?: string, renewLease?: () => Promise<boolean>): Promise<ClusterView | null> {
    const startedMs = clock.now();
    try {
      const leading = self !== undefined && this.view?.leader?.name === self;
      // A keepalive that etcd does not answer throws here: the read fails as a range read would.
      if (leading && renewLease !== undefined) await renewLease();
      // A replica may renew its lease (the proof) only every other cycle (core/lease-renewal.ts).
      const maxProofAgeMs = leading ? this.dynamic.loopWaitMs + CYCLE_SLACK_MS : replicaProofMaxAgeMs(this.dynamic);
      const { view: read, currentAtMs } = await dcs.readCluster(maxProofAgeMs, leading ? startedMs : undefined);
      this.settleFailsafeWrites(read, self);
      const view = this.withFailsafeWrites(read);
      this.view = view;
      this.failingSinceMs = null;
      this.lastOkMs = Math.min(currentAtMs, startedMs);
      this.lastSeenWallMs = clock.wallMs() - (clock.now() - this.lastOkMs);
      if (view.leader !== null) {
        this.lastLeader = { name: view.leader.name, seenWallMs: this.lastSeenWallMs };
        this.leaderGoneSinceWallMs = null;
      } else this.leaderGoneSinceWallMs ??= this.lastSeenWallMs;
      // Parsed only when it changed: the config key is read every cycle, rarely written.
      if (view.config !== null && view.config.modRevision !== this.configRevision) {
        this.applyDynamicConfig(view.config.value, dcs, log);
        this.configRevision = view.config.modRevision;
      }
      return view;
    } catch (error) {
      this.failingSinceMs ??= startedMs;
      log.warning(`DCS read failed: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }

  /**
   * The `failsafe` key we just wrote: the members listed there may race if the DCS comes back
   * without a leader, so a confirmation round must ask them — not only the older topology the
   * last read showed (found by the simulator, seed 877: a member that had just joined was never
   * asked, yet could win the race once etcd came back).
   */
  noteFailsafeWritten(members: Record<string, string>): void {
    if (this.view !== null) this.view = { ...this.view, failsafe: { ...(this.failsafeWrites?.union ?? {}), ...members } };
  }

  /**
   * A write of the `failsafe` key is about to be sent. Until a read shows it, the key may hold it
   * or what it held before: while the request is in flight (the lease keeper's renewer runs
   * confirmation rounds beside the cycle), and after it failed, since etcd applies a request it
   * received after our deadline all the same. So the view's key lists the members of both, and
   * a round asks them all (simulator, standard seeds 10011 and 16608 on 60786cb: a leader on a
   * slow link wrote a topology that added a member back, the write timed out and landed, its
   * round asked the older topology only, and the added member, never asked, raced for the
   * expired key).
   */
  noteFailsafeWriting(members: Record<string, string>): void {
    this.failsafeWrites = { union: { ...(this.failsafeWrites?.union ?? {}), ...members }, latest: { ...members } };
    if (this.view !== null) this.view = this.withFailsafeWrites(this.view);
  }

  /**
   * The writes no read had shown are settled once a read shows the newest one, or another member
   * (or none) holds the key: only a leader runs rounds. Until then the key as the view holds it
   * differs from what the leader wants, so the leader writes it again (leader-duties.ts) even
   * when the topology it wants is the one the read shows: a union of a write that never landed
   * (a member since gone) cannot stay, failing every round.
   */
  private settleFailsafeWrites(read: ClusterView, self: string | undefined): void {
    const writes = this.failsafeWrites;
    if (writes !== null && (sameTopology(read.failsafe, writes.latest) || read.leader?.name !== self)) this.failsafeWrites = null;
  }

  /**
   * The view with its `failsafe` key widened by the writes no read has shown yet (the newest
   * address of a member wins). An absent or empty key is left as it is: it lets every member
   * race, which no round can cover, so a round on it must fail (confirmTopology).
   */
  private withFailsafeWrites(view: ClusterView): ClusterView {
    const writes = this.failsafeWrites;
    const key = view.failsafe;
    if (writes === null || key === null || Object.keys(key).length === 0) return view;
    return { ...view, failsafe: { ...key, ...writes.union } };
  }

  /** Whether the last successful read is younger than ttl (Patroni's dcs.cluster property). */
  fresh(nowMs: number): boolean {
    return this.lastOkMs !== null && nowMs - this.lastOkMs <= this.dynamic.ttlMs;
  }

  /** A member's address from the last view (null when it has no usable conn_url there). */
  memberAddress(name: string | null): MemberAddress | null {
    if (name === null || this.view === null) return null;
    const parsed = parseConnUrl(this.view.members.find((m) => m.name === name)?.connUrl ?? null);
    return parsed === null ? null : { name, ...parsed };
  }

  /** Adopts the DCS config (timings adjusted as Patroni does) and hands new timings to the DCS client. */
  private applyDynamicConfig(raw: Record<string, unknown>, dcs: Dcs, log: Logger): void {
    const { cfg, warnings } = adjustTimings(parseDynamicConfig(raw));
    const timingsChanged = cfg.ttlMs !== this.dynamic.ttlMs || cfg.retryTimeoutMs !== this.dynamic.retryTimeoutMs;
    if (timingsChanged) for (const warning of warnings) log.warning(warning);
    this.dynamic = cfg;
    if (timingsChanged) dcs.setTimings?.(Math.round(cfg.ttlMs / 1000), cfg.retryTimeoutMs);
  }
}
