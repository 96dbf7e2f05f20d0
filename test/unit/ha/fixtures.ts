/** Builders for decide() unit tests: a healthy three-node cluster seen from one node, then overridden. */
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import type { ClusterView, Member } from '../../../src/dcs/types.js';
import type { Observation, PeerStatus } from '../../../src/ha/core/types.js';

export const SYSID = '7300000000000000001';

export function config(over: Partial<DynamicConfig> = {}): DynamicConfig {
  return {
    ttlMs: 30000,
    loopWaitMs: 10000,
    retryTimeoutMs: 10000,
    maximumLagOnFailoverBytes: 1 << 20,
    maximumLagOnSyncnodeBytes: -1,
    primaryStartTimeoutMs: 300000,
    primaryStopTimeoutMs: 300000,
    checkTimeline: false,
    synchronousMode: 'off',
    synchronousModeStrict: false,
    synchronousNodeCount: 1,
    failsafeMode: false,
    pause: false,
    maxTimelinesHistory: 0,
    usePgRewind: true,
    useSlots: true,
    permanentSlots: [],
    ignoreSlots: [],
    parameters: {},
    raw: {},
    ...over,
  };
}

export function tags(over: Partial<Tags> = {}): Tags {
  return { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, nostream: false, raw: {}, ...over };
}

export function member(name: string, over: Partial<Member> = {}): Member {
  return {
    name,
    modRevision: 1,
    leaseId: `lease-${name}`,
    connUrl: `postgres://${name}:5432/postgres`,
    apiUrl: `http://${name}:8008/patroni`,
    state: 'running',
    role: 'replica',
    xlogLocation: 1000,
    receiveLsn: null,
    replayLsn: null,
    replicationState: 'streaming',
    timeline: 1,
    tags: {},
    data: {},
    ...over,
  };
}

export function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    revision: 10,
    initialize: SYSID,
    config: null,
    leader: { name: 'n1', modRevision: 5, leaseId: 'lease-n1' },
    members: [member('n1', { role: 'primary' }), member('n2'), member('n3')],
    failover: null,
    sync: null,
    history: null,
    status: { optime: 1000, slots: {} },
    failsafe: null,
    ...over,
  };
}

/** The address decide reads from a fixture member's conn_url. */
export function at(name: string): { name: string; host: string; port: number } {
  return { name, host: name, port: 5432 };
}

export function peer(name: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    name,
    reachable: true,
    running: true,
    role: 'replica',
    walPositionBytes: 1000,
    timeline: 1,
    nofailover: false,
    failoverPriority: undefined,
    watchdogFailed: false,
    streaming: null,
    ...over,
  };
}

type ObsOverride = Partial<Omit<Observation, 'postgres' | 'self' | 'lease'>> & {
  postgres?: Partial<Observation['postgres']>;
  self?: Partial<Observation['self']>;
  lease?: Partial<Observation['lease']>;
};

/** n2, a streaming replica of n1, at t=100 s, lease confirmed 1 s ago. */
export function obs(over: ObsOverride = {}): Observation {
  const base: Observation = {
    nowMs: 100000,
    agentStartedMs: 0,
    wallTimeIso: '2026-12-01T00:00:00+00:00',
    self: {
      name: 'n2',
      tags: tags(),
      watchdogMode: 'off',
      watchdogSafetyMarginMs: 5000,
      removeDataDirectoryOnRewindFailure: false,
      removeDataDirectoryOnDivergedTimelines: false,
      canBootstrap: true,
      apiUrl: 'http://n2:8008/patroni',
    },
    config: config(),
    paused: false,
    dcs: { ok: true, view: view() },
    lease: { leaseId: 'lease-n2', lastConfirmedSentMs: 99000, failsafeConfirmedSentMs: null },
    postgres: {
      dataDir: 'initialized',
      systemIdentifier: SYSID,
      running: true,
      starting: false,
      role: 'replica',
      timeline: 1,
      walPositionBytes: 1000,
      followTarget: 'n1',
      streaming: true,
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
      checkpointTimeline: null,
      timelineOrigin: null,
    },
    asyncTask: { running: null, lastResult: null, lastRewind: null },
    peers: null,
    watchdog: { available: false, armed: false },
    failsafeLeader: null,
  };
  return {
    ...base,
    ...over,
    self: { ...base.self, ...over.self },
    lease: { ...base.lease, ...over.lease },
    postgres: { ...base.postgres, ...over.postgres },
  };
}

/** n1, the primary holding the key. */
export function leaderObs(over: ObsOverride = {}): Observation {
  return obs({
    ...over,
    self: { name: 'n1', apiUrl: 'http://n1:8008/patroni', ...over.self },
    lease: { leaseId: 'lease-n1', ...over.lease },
    postgres: { role: 'primary', followTarget: null, streaming: false, ...over.postgres },
  });
}
