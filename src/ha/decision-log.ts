/**
 * The agent's recent decisions, for GET /decisions and the status page: the last
 * DECISIONS_KEPT distinct decisions, newest first. A decision repeated cycle after cycle (a calm
 * replica's "no action ... following a leader") is one entry whose `last_at` and `cycles` move on,
 * so the list shows what changed, not loop_wait's heartbeat.
 */
import { pythonIsoformat } from '../patroni/iso-datetime.js';

/** Bounded: the page shows them all, each member keeps only these. */
export const DECISIONS_KEPT = 20;

export interface DecisionEntry {
  /** The typed reason's kind (stable; what tools match on). */
  kind: string;
  /** The sentence (Patroni's wording). */
  why: string;
  /** Wall clock, ISO-8601 UTC, of the first and the last cycle that decided it. */
  first_at: string;
  last_at: string;
  /** Cycles in a row that decided it. */
  cycles: number;
}

export class DecisionLog {
  private readonly entries: DecisionEntry[] = [];

  record(kind: string, why: string, wallMs: number): void {
    const at = pythonIsoformat(new Date(wallMs).toISOString());
    const newest = this.entries[0];
    if (newest !== undefined && newest.kind === kind && newest.why === why) {
      newest.last_at = at;
      newest.cycles += 1;
      return;
    }
    this.entries.unshift({ kind, why, first_at: at, last_at: at, cycles: 1 });
    if (this.entries.length > DECISIONS_KEPT) this.entries.length = DECISIONS_KEPT;
  }

  /** Newest first; copies. */
  recent(): DecisionEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }
}
