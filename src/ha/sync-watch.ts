/**
 * The sync watch: while this node leads in synchronous mode and its synchronous_standby_names
 * lists standbys, it samples what each standby has confirmed (a one-row query on the agent's own
 * connection) every SAMPLE_EVERY_MS, so a standby that stops confirming is noticed within about
 * a second (core/sync-stall.ts) instead of at its member key's expiry. When a listed standby
 * crosses the stall threshold it wakes the HA cycle, whose sync step (rules/sync.ts) moves the
 * setting to a standby that confirms, by the usual safe steps.
 *
 * Outside synchronous mode, or when not leading, it samples nothing and sets no timer: the HA
 * cycle pokes it at the end of every cycle (watch-round.ts).
 */
import type { AgentContext } from './context.js';
import { ackRuleOf } from './core/sync-standby-names.js';
import { SYNC_STALL_MS, noteReplicationSample, stalledForMs } from './core/sync-stall.js';
import { RepeatingRound, leadsNow } from './watch-round.js';

/** Pause between samples while a synchronous setting is in effect. */
const SAMPLE_EVERY_MS = 200;

export class SyncWatch {
  /** Listed standbys already reported stalled (each is said once per stall). */
  private reported = new Set<string>();
  private readonly rounds: RepeatingRound;

  constructor(private readonly a: AgentContext) {
    this.rounds = new RepeatingRound(
      a.ports.clock,
      () => (this.listedStandbys().length > 0 ? SAMPLE_EVERY_MS : null),
      () => this.round(),
    );
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
  }

  /** The HA cycle ended: start sampling if this node now leads with standbys to wait for. */
  poke(): void {
    this.rounds.poke();
  }

  /**
   * The standbys whose confirmation commits wait for: this node leads (the key is ours, the last
   * probe says primary, no task is changing it) in synchronous mode, and the setting names them.
   */
  private listedStandbys(): readonly string[] {
    const a = this.a;
    const setting = a.pg.syncStandbyNamesInEffect();
    if (!leadsNow(a) || setting === null || a.pg.fenced) return [];
    const rule = ackRuleOf(setting);
    return rule.kind === 'standbys' ? rule.names : [];
  }

  private async round(): Promise<void> {
    const a = this.a;
    const listed = this.listedStandbys();
    if (listed.length === 0) {
      a.pg.replicationProgress = new Map();
      this.reported.clear();
      return;
    }
    const epoch = a.pg.probeEpoch;
    let sample;
    try {
      sample = await a.ports.postgres.replicationSample();
    } catch {
      return; // the HA cycle's own probe reports a server that does not answer
    }
    // A promote or a stop meanwhile: the sample may describe a role the server no longer has.
    if (epoch !== a.pg.probeEpoch) return;
    const nowMs = a.ports.clock.now();
    a.pg.replicationProgress = noteReplicationSample(a.pg.replicationProgress, sample, nowMs);
    let newlyStalled = false;
    for (const name of [...this.reported]) if (stalledForMs(a.pg.replicationProgress, name, nowMs) < SYNC_STALL_MS) this.reported.delete(name);
    for (const standby of sample.standbys) {
      const stalledMs = stalledForMs(a.pg.replicationProgress, standby.name, nowMs);
      const counts = listed.includes(standby.name) || listed.includes('*');
      if (!counts || stalledMs < SYNC_STALL_MS || this.reported.has(standby.name)) continue;
      this.reported.add(standby.name);
      newlyStalled = true;
      a.log.warning(`synchronous standby ${standby.name} has confirmed no WAL for ${Math.round(stalledMs)} ms while commits wait on it; looking for another`);
    }
    if (newlyStalled) a.wake();
  }
}
