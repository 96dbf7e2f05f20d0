/**
 * Test support (no tests here): loads the recorded scenarios in test/unit/patroni/fixtures and
 * rebuilds, from the etcd key/values each one wrote, the ClusterView keel's DCS layer would read —
 * parsed the way Patroni 3.0.2's etcd3 loader parses them — so the renderers can be compared with
 * what the real patronictl and Patroni printed for those same keys, without etcd.
 * The fixtures are re-recorded with fixtures/record.py and fixtures/record-python.py.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { ClusterView, FailoverRequest, HistoryEntry, Member } from '../../../src/dcs/types.js';

/** test/unit/patroni/fixtures, found from the compiled file in dist/test/unit/<area>/. */
export const FIXTURES_DIR = new URL('../../../../test/unit/patroni/fixtures/', import.meta.url);

export interface Scenario {
  name: string;
  description: string;
  scope: string;
  namespace: string;
  keys: Record<string, string>;
}

export function readFixture(file: string): string {
  return readFileSync(new URL(file, FIXTURES_DIR), 'utf8');
}

export function readJsonFixture<T>(file: string): T {
  return JSON.parse(readFixture(file)) as T;
}

export function loadScenarios(): Scenario[] {
  return readdirSync(FIXTURES_DIR)
    .filter((file) => file.endsWith('.keys.json'))
    .sort()
    .map((file) => ({ name: file.slice(0, -'.keys.json'.length), ...readJsonFixture<Omit<Scenario, 'name'>>(file) }));
}

function parseObject(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function memberFrom(name: string, text: string, modRevision: number): Member {
  const data = parseObject(text) ?? {};
  const tags = data['tags'];
  return {
    name,
    modRevision,
    leaseId: null,
    connUrl: stringOrNull(data['conn_url']),
    apiUrl: stringOrNull(data['api_url']),
    state: typeof data['state'] === 'string' ? data['state'] : 'unknown',
    role: typeof data['role'] === 'string' ? data['role'] : '',
    xlogLocation: numberOrNull(data['xlog_location']),
    receiveLsn: numberOrNull(data['receive_lsn']),
    replayLsn: numberOrNull(data['replay_lsn']),
    replicationState: stringOrNull(data['replication_state']),
    timeline: numberOrNull(data['timeline']),
    tags: typeof tags === 'object' && tags !== null && !Array.isArray(tags) ? (tags as Record<string, unknown>) : {},
    data,
  };
}

function failoverFrom(text: string): FailoverRequest {
  const data = parseObject(text) ?? {};
  const request: FailoverRequest = {};
  if (typeof data['leader'] === 'string') request.leader = data['leader'];
  if (typeof data['member'] === 'string') request.candidate = data['member'];
  if (typeof data['scheduled_at'] === 'string') request.scheduledAt = data['scheduled_at'];
  return request;
}

function historyFrom(text: string): HistoryEntry[] {
  const lines: unknown = JSON.parse(text);
  if (!Array.isArray(lines)) return [];
  return lines.filter(Array.isArray).map((line: unknown[]) => {
    const entry: HistoryEntry = { timeline: Number(line[0]), lsn: Number(line[1]), reason: String(line[2]) };
    if (typeof line[3] === 'string') entry.timestamp = line[3];
    if (typeof line[4] === 'string') entry.newLeader = line[4];
    return entry;
  });
}

/** The ClusterView for a scenario's keys; mod revisions follow the keys' order in the file. */
export function viewFromKeys(keys: Record<string, string>): ClusterView {
  const revisionOf = new Map(Object.keys(keys).map((key, index) => [key, index + 2]));
  const rev = (key: string): number => revisionOf.get(key) ?? 0;
  const config = parseObject(keys['config']);
  const status = parseObject(keys['status']);
  const sync = parseObject(keys['sync']);
  const members = Object.entries(keys)
    .filter(([key]) => key.startsWith('members/') && key.split('/').length === 2)
    .map(([key, value]) => memberFrom(key.slice('members/'.length), value, rev(key)));
  const leader = keys['leader'];
  const optime = status?.['optime'];
  return {
    revision: Object.keys(keys).length + 1,
    initialize: keys['initialize'] ?? null,
    config: config === null ? null : { value: config, modRevision: rev('config') },
    leader: leader === undefined ? null : { name: leader, modRevision: rev('leader'), leaseId: null },
    members,
    failover: keys['failover'] === undefined ? null : { value: failoverFrom(keys['failover']), modRevision: rev('failover') },
    sync:
      sync === null
        ? null
        : {
            value: {
              leader: stringOrNull(sync['leader']),
              syncStandbys: String(sync['sync_standby'] ?? '')
                .split(',')
                .map((name) => name.trim())
                .filter((name) => name !== ''),
              quorum: typeof sync['quorum'] === 'number' ? sync['quorum'] : 0,
            },
            modRevision: rev('sync'),
          },
    history: keys['history'] === undefined ? null : { value: historyFrom(keys['history']), modRevision: rev('history') },
    status: status === null ? null : { optime: typeof optime === 'number' ? optime : null, slots: {} },
    failsafe: null,
  };
}
