/**
 * The chaos scenarios' measurements (pure): from the acknowledgements the writers recorded and
 * an agent's log, what a run reports — when the old leader last acknowledged, when another node
 * first did, how long two nodes acknowledged at once, and how the old leader rejoined.
 */
import type { Ack, Tenure } from './write-loss.js';

/** How a node got back to streaming after a fault. */
export type RejoinMethod =
  /** pg_rewind, then started as a replica */
  | 'rewind'
  /** the data directory cloned again (after a failed rewind, or instead of one) */
  | 'reclone'
  /** PostgreSQL restarted as a replica without rewriting its data */
  | 'restart'
  /** PostgreSQL kept running; its WAL receiver reconnected */
  | 'reconnect'
  /** the node is the leader again at the end (it never stopped, or won the next race) */
  | 'stayed-leader'
  /** not streaming from the final leader within the scenario's bound */
  | 'not-rejoined';

/** Log lines of keel and of Patroni 3.0.2 that name a rejoin method. */
const RECLONE = /cloning the data directory again|Removing data directory|trying to bootstrap from leader|with pg_basebackup/;
const REWIND = /running pg_rewind from/;

/** How a node rejoined, from its agent's log since the fault and whether its postmaster changed. */
export function classifyRejoin(logSinceFault: string, postmasterChanged: boolean): Exclude<RejoinMethod, 'stayed-leader' | 'not-rejoined'> {
  if (RECLONE.test(logSinceFault)) return 'reclone';
  if (REWIND.test(logSinceFault)) return 'rewind';
  return postmasterChanged ? 'restart' : 'reconnect';
}

/**
 * Total time during which two or more nodes' tenures are open at once (the union of every
 * pairwise intersection): the "overlap" of two primaries acknowledging.
 */
export function overlapMs(list: Tenure[]): number {
  const edges = list.flatMap((t) => [
    { at: t.firstMs, node: t.node, open: 1 },
    { at: t.lastMs, node: t.node, open: -1 },
  ]);
  // At equal instants, open before close: tenures that touch count as overlapping (for 0 ms).
  edges.sort((a, b) => a.at - b.at || b.open - a.open);
  const openByNode = new Map<string, number>();
  let total = 0;
  let since: number | null = null;
  for (const edge of edges) {
    const before = [...openByNode.values()].filter((c) => c > 0).length;
    openByNode.set(edge.node, (openByNode.get(edge.node) ?? 0) + edge.open);
    const after = [...openByNode.values()].filter((c) => c > 0).length;
    if (before < 2 && after >= 2) since = edge.at;
    if (before >= 2 && after < 2 && since !== null) {
      total += edge.at - since;
      since = null;
    }
  }
  return total;
}

export interface AckTimes {
  /** ms after the fault of the old leader's last acknowledgement in the tenure it held at the fault (null: none). */
  oldLeaderLastAckMs: number | null;
  /** ms after the fault of the first acknowledgement by another node (null: none). */
  otherFirstAckMs: number | null;
}

/**
 * The handover as the writers saw it. The old leader's tenure is the one open at the fault
 * (acknowledgements no further apart than `tenureGapMs`): a later tenure of the same node, after
 * it was elected again, is a legitimate new one and not counted here.
 */
export function ackTimes(acks: Ack[], list: Tenure[], oldLeader: string, faultAtMs: number, tenureGapMs: number): AckTimes {
  const held = list.find((t) => t.node === oldLeader && t.firstMs <= faultAtMs && t.lastMs + tenureGapMs >= faultAtMs);
  let otherFirst: number | null = null;
  for (const ack of acks) if (ack.node !== oldLeader && ack.atMs >= faultAtMs && (otherFirst === null || ack.atMs < otherFirst)) otherFirst = ack.atMs;
  return {
    oldLeaderLastAckMs: held === undefined ? null : held.lastMs - faultAtMs,
    otherFirstAckMs: otherFirst === null ? null : otherFirst - faultAtMs,
  };
}
