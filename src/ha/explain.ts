/**
 * `keel explain`: for each member, whether it would take over now — or, while a leader holds the
 * key, if that leader were lost now — and the rule that decides it. It runs the very rule the
 * agents run (core/rules/race.ts isHealthiest) on an observation rebuilt from what everyone can
 * see: the cluster in etcd and each member's GET /patroni. Pure: the CLI gathers the inputs.
 *
 * What cannot be seen from outside is assumed favourable and said so: the member's lease is
 * fresh, its agent started long ago, its data directory is on the cluster's history. So a "yes"
 * means "no rule visible from here stops it", a "no" names the rule that does.
 */
import { parseDynamicConfig } from '../config/dynamic.js';
import type { Tags } from '../config/types.js';
import type { ClusterView } from '../dcs/types.js';
import { makeCtx } from './core/rules/context.js';
import { isHealthiest } from './core/rules/race.js';
import type { Observation, PeerStatus } from './core/types.js';

export interface MemberExplanation {
  member: string;
  role: string;
  /** Whether it would take the key (now, or once the current leader is lost). */
  wouldTakeOver: boolean;
  reason: string;
}

export interface ClusterExplanation {
  /** One line on the cluster now: who leads, whether a failover is under way. */
  summary: string;
  /** The question each member's answer is to: 'now' (no leader) or 'if the leader were lost now'. */
  question: string;
  members: MemberExplanation[];
}

/** Tags as the agent parses them (Patroni 3.3: failover_priority <= 0 means nofailover). */
function tagsOf(raw: Record<string, unknown>): Tags {
  const priority = typeof raw['failover_priority'] === 'number' ? raw['failover_priority'] : undefined;
  const nofailover = raw['nofailover'] === true || (priority !== undefined && priority <= 0 && raw['nofailover'] !== false);
  return {
    nofailover,
    noloadbalance: raw['noloadbalance'] === true,
    clonefrom: raw['clonefrom'] === true,
    nosync: raw['nosync'] === true,
    nostream: raw['nostream'] === true,
    ...(typeof raw['replicatefrom'] === 'string' ? { replicatefrom: raw['replicatefrom'] } : {}),
    ...(priority === undefined ? {} : { failoverPriority: priority }),
    raw,
  };
}

const NOW_MS = 1_000_000_000;

function observationFor(view: ClusterView, self: string, status: PeerStatus, peers: PeerStatus[], wallTimeIso: string): Observation {
  const config = parseDynamicConfig(view.config?.value ?? {});
  const member = view.members.find((m) => m.name === self);
  return {
    nowMs: NOW_MS,
    agentStartedMs: 0,
    wallTimeIso,
    self: {
      name: self,
      tags: tagsOf(member?.tags ?? {}),
      watchdogMode: status.watchdogFailed ? 'required' : 'off',
      watchdogSafetyMarginMs: 5000,
      removeDataDirectoryOnRewindFailure: false,
      removeDataDirectoryOnDivergedTimelines: false,
      canBootstrap: false,
      apiUrl: member?.apiUrl ?? '',
    },
    config,
    paused: config.pause,
    dcs: { ok: true, view },
    lease: { leaseId: null, lastConfirmedSentMs: NOW_MS, failsafeConfirmedSentMs: null },
    postgres: {
      dataDir: 'initialized',
      systemIdentifier: view.initialize,
      running: status.running,
      starting: false,
      role: status.running ? status.role : null,
      timeline: status.timeline,
      walPositionBytes: status.walPositionBytes,
      followTarget: null,
      streaming: status.streaming === true,
      fenced: false,
      syncStandbyNames: null,
      syncAppliedAtLsn: null,
      standbys: [],
      physicalSlots: null,
      crashedSinceMs: null,
      rewindCapable: true,
      divergence: { verdict: 'notChecked' },
      notStreamingSinceMs: null,
      receiverError: null,
      timelineStart: null,
      checkpointTimeline: status.timeline,
      timelineOrigin: null,
    },
    asyncTask: { running: null, lastResult: null, lastRewind: null },
    peers,
    watchdog: { available: !status.watchdogFailed, armed: false },
    failsafeLeader: null,
  };
}

/**
 * Explains every member of `view` (or only `only`), given each member's status (a member missing
 * from `statuses` did not answer).
 */
export function explainCluster(view: ClusterView, statuses: PeerStatus[], wallTimeIso: string, only?: string): ClusterExplanation {
  const leader = view.leader?.name ?? null;
  const leaderStatus = statuses.find((s) => s.name === leader);
  // The hypothetical: the key is gone and the leader does not answer (it is the one lost).
  const withoutKey: ClusterView = { ...view, leader: null };
  const asLost = (s: PeerStatus): PeerStatus => (s.name === leader ? { ...s, reachable: false, running: false, role: null } : s);
  const config = parseDynamicConfig(view.config?.value ?? {});
  const members: MemberExplanation[] = [];
  for (const member of view.members) {
    if (only !== undefined && member.name !== only) continue;
    const status = statuses.find((s) => s.name === member.name);
    const role = member.name === leader ? 'Leader' : member.role === 'master' || member.role === 'primary' ? 'Primary' : 'Replica';
    if (member.name === leader) {
      members.push({ member: member.name, role, wouldTakeOver: false, reason: 'holds the leader key' });
      continue;
    }
    if (status === undefined || !status.reachable) {
      members.push({ member: member.name, role, wouldTakeOver: false, reason: 'its agent does not answer (GET /patroni)' });
      continue;
    }
    if (config.pause) {
      members.push({ member: member.name, role, wouldTakeOver: false, reason: 'maintenance mode: no automatic failover' });
      continue;
    }
    const peers = statuses.filter((s) => s.name !== member.name).map(asLost);
    const obs = observationFor(withoutKey, member.name, status, peers, wallTimeIso);
    const verdict = isHealthiest(makeCtx(obs, withoutKey));
    members.push({
      member: member.name,
      role,
      wouldTakeOver: verdict.ok,
      reason: verdict.ok ? 'the healthiest member: it would take the key' : verdict.reason,
    });
  }
  // Equally healthy members race: the first to create the key wins.
  const winners = members.filter((m) => m.wouldTakeOver);
  if (winners.length > 1) {
    for (const m of winners)
      m.reason = `as healthy as ${winners
        .filter((w) => w !== m)
        .map((w) => w.member)
        .join(', ')}: the first to reach the key takes it`;
  }
  let summary: string;
  if (leader === null) summary = 'No leader holds the key: the members race now.';
  else if (leaderStatus === undefined || !leaderStatus.reachable)
    summary = `${leader} holds the key but its agent does not answer: a failover follows when the key expires (ttl ${config.ttlMs / 1000} s).`;
  else summary = `${leader} holds the key and answers: no failover now.`;
  if (config.pause) summary += ' Maintenance mode is on: no automatic failover.';
  return { summary, question: leader === null ? 'Would take over now' : `Would take over if ${leader} were lost now`, members };
}
