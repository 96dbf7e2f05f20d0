/**
 * The recovery planner: after an outage of the whole cluster, which node may bootstrap the new
 * Primary component (`--wsrep-new-cluster`), and which ones wait to join it. Pure and synchronous:
 * the agent gathers the facts from etcd (and its own clock) before calling it, then acts.
 *
 * Rules, each one a way the manual procedure loses data or splits the cluster:
 *  - a member that runs in a Primary component (or a bootstrap already under way) means the
 *    cluster is not down: nobody bootstraps, the others join;
 *  - the bootstrap node is the one with the highest seqno in the cluster's history (its UUID);
 *    never a node behind a reported peer, never a node of the all-zero UUID (no history) or of
 *    another history;
 *  - every registered node must have reported its position. After `reportTimeoutMs` a majority
 *    of reports is enough, but only with an explicit operator override naming the node, and the
 *    named node must still not be behind any reported peer: the operator accepts the risk of the
 *    silent nodes, not of the visible ones;
 *  - among nodes at the same highest seqno, one whose grastate.dat says safe_to_bootstrap=1 (the
 *    last to leave a clean shutdown) is preferred, then the smallest name, so every agent that
 *    sees the same reports names the same node.
 * The planner names one node; that at most one bootstrap runs at a time is the job of the
 * create-only lock the agent takes before starting (the planner only ever tells the named node
 * to take it).
 */
import { type GaleraPosition, ZERO_UUID, isKnownPosition } from './position.js';

export interface ReportedPosition extends GaleraPosition {
  safeToBootstrap: boolean;
}

export interface RecoveryInput {
  /** The nodes of the cluster (registered in etcd when they first joined), in any order. */
  nodes: string[];
  /** Nodes whose mariadbd is up in a Primary component, as their agents publish it. */
  primaryMembers: string[];
  /** Positions published by nodes whose mariadbd is down. */
  positions: Record<string, ReportedPosition>;
  /** The cluster's history as recorded at its first bootstrap; null when unknown (older cluster key). */
  clusterUuid: string | null;
  /** Holder of the bootstrap lock (a bootstrap in progress), null when free. */
  bootstrapLockHolder: string | null;
  /** The node an operator named with `keel galera force-bootstrap`, null when none. */
  override: string | null;
  /** How long this agent has been waiting for reports (ms). */
  waitingMs: number;
  reportTimeoutMs: number;
}

export type WaitReason =
  | { kind: 'bootstrap_in_progress'; node: string }
  | { kind: 'not_all_reported'; missing: string[]; remainingMs: number }
  | { kind: 'no_majority'; reported: number; needed: number; missing: string[] }
  | { kind: 'override_needed'; missing: string[]; candidate: string | null }
  | { kind: 'override_refused'; node: string; why: string }
  | { kind: 'no_known_position' }
  | { kind: 'histories_differ'; uuids: string[] };

export type RecoveryDecision =
  | { kind: 'join'; primary: string[] }
  | { kind: 'bootstrap'; node: string; position: ReportedPosition; by: 'all_reported' | 'operator_override' }
  | { kind: 'wait'; reason: WaitReason };

/** The cluster's history: the recorded UUID, else the one UUID every known position shares. */
function historyOf(input: RecoveryInput, reported: string[]): { uuid: string } | { conflict: string[] } | null {
  if (input.clusterUuid !== null && input.clusterUuid !== ZERO_UUID) return { uuid: input.clusterUuid };
  const uuids = [
    ...new Set(
      reported
        .map((name) => input.positions[name])
        .filter((p) => p !== undefined && isKnownPosition(p))
        .map((p) => (p as ReportedPosition).uuid),
    ),
  ].sort();
  if (uuids.length === 0) return null;
  if (uuids.length > 1) return { conflict: uuids };
  return { uuid: uuids[0] as string };
}

/** The most advanced reported node of history `uuid` (ties: safe_to_bootstrap, then name). */
function mostAdvanced(input: RecoveryInput, reported: string[], uuid: string): { node: string; position: ReportedPosition } | null {
  let best: { node: string; position: ReportedPosition } | null = null;
  for (const node of [...reported].sort()) {
    const position = input.positions[node];
    if (position === undefined || !isKnownPosition(position) || position.uuid !== uuid) continue;
    if (
      best === null ||
      position.seqno > best.position.seqno ||
      (position.seqno === best.position.seqno && position.safeToBootstrap && !best.position.safeToBootstrap)
    ) {
      best = { node, position };
    }
  }
  return best;
}

export function planRecovery(input: RecoveryInput): RecoveryDecision {
  const nodes = [...new Set(input.nodes)].sort();
  const primary = input.primaryMembers.filter((name) => name !== '').sort();
  if (primary.length > 0) return { kind: 'join', primary };
  if (input.bootstrapLockHolder !== null) return { kind: 'wait', reason: { kind: 'bootstrap_in_progress', node: input.bootstrapLockHolder } };

  const reported = nodes.filter((name) => input.positions[name] !== undefined);
  const missing = nodes.filter((name) => input.positions[name] === undefined);
  const history = historyOf(input, reported);
  if (history !== null && 'conflict' in history) return { kind: 'wait', reason: { kind: 'histories_differ', uuids: history.conflict } };
  const best = history === null ? null : mostAdvanced(input, reported, history.uuid);

  if (missing.length === 0 && nodes.length > 0) {
    if (best === null) return { kind: 'wait', reason: { kind: 'no_known_position' } };
    return { kind: 'bootstrap', node: best.node, position: best.position, by: 'all_reported' };
  }

  // Some nodes are silent. Their data may be ahead of every reported one: wait for them, and
  // after the timeout only an operator may accept that risk, for a majority's most advanced node.
  const remainingMs = input.reportTimeoutMs - input.waitingMs;
  if (remainingMs > 0) return { kind: 'wait', reason: { kind: 'not_all_reported', missing, remainingMs } };
  const needed = Math.floor(nodes.length / 2) + 1;
  if (reported.length < needed) return { kind: 'wait', reason: { kind: 'no_majority', reported: reported.length, needed, missing } };
  if (input.override === null) return { kind: 'wait', reason: { kind: 'override_needed', missing, candidate: best?.node ?? null } };
  const named = input.override;
  const position = input.positions[named];
  if (!nodes.includes(named)) return { kind: 'wait', reason: { kind: 'override_refused', node: named, why: 'it is not a node of this cluster' } };
  if (position === undefined) return { kind: 'wait', reason: { kind: 'override_refused', node: named, why: 'it has not reported its position' } };
  if (!isKnownPosition(position))
    return { kind: 'wait', reason: { kind: 'override_refused', node: named, why: 'its position is unknown or has no history (all-zero UUID)' } };
  if (history === null || position.uuid !== history.uuid) {
    return { kind: 'wait', reason: { kind: 'override_refused', node: named, why: `its history ${position.uuid} is not the cluster's` } };
  }
  if (best !== null && best.position.seqno > position.seqno) {
    return {
      kind: 'wait',
      reason: { kind: 'override_refused', node: named, why: `it is behind ${best.node} (seqno ${position.seqno} < ${best.position.seqno})` },
    };
  }
  return { kind: 'bootstrap', node: named, position, by: 'operator_override' };
}

/** One sentence for the log and the REST API. */
export function describeDecision(decision: RecoveryDecision): string {
  switch (decision.kind) {
    case 'join':
      return `the cluster has a Primary component (${decision.primary.join(', ')}): joining it`;
    case 'bootstrap':
      return `${decision.node} bootstraps the cluster from ${decision.position.uuid}:${decision.position.seqno} (${decision.by === 'all_reported' ? 'every node reported, it is the most advanced' : "an operator's override, after the report timeout"})`;
    case 'wait': {
      const reason = decision.reason;
      switch (reason.kind) {
        case 'bootstrap_in_progress':
          return `waiting: ${reason.node} is bootstrapping the cluster`;
        case 'not_all_reported':
          return `waiting for the positions of ${reason.missing.join(', ')} (${Math.ceil(reason.remainingMs / 1000)} s before a majority may be forced)`;
        case 'no_majority':
          return `waiting: ${reason.reported} of the ${reason.needed} nodes needed reported a position (missing: ${reason.missing.join(', ')})`;
        case 'override_needed':
          return `waiting: ${reason.missing.join(', ')} never reported; an operator may run \`keel galera force-bootstrap ${reason.candidate ?? 'NODE'}\` to accept the risk`;
        case 'override_refused':
          return `refusing the operator's bootstrap of ${reason.node}: ${reason.why}`;
        case 'no_known_position':
          return 'waiting: no node reported a position in the cluster history; nothing safe to bootstrap from';
        case 'histories_differ':
          return `waiting: the nodes report different histories (${reason.uuids.join(', ')}); an operator must choose`;
      }
    }
  }
}
