/**
 * Test support (no tests here): the node states of test/unit/api/fixtures/scenarios.json as
 * NodeStatus values, and what the real Patroni 3.0.2 REST API handler answered for them
 * (fixtures/recorded.json, re-recorded with /usr/bin/python3 test/unit/api/fixtures/record.py).
 */
import { readFileSync } from 'node:fs';
import type { NodeStatus } from '../../../src/api/status.js';

/** test/unit/api/fixtures, found from the compiled file in dist/test/unit/api/. */
const FIXTURES_DIR = new URL('../../../../test/unit/api/fixtures/', import.meta.url);

interface ScenarioSpec {
  name: string;
  base: string;
  nowMs: number;
  set?: Record<string, unknown>;
  requests?: string[];
}

interface ScenarioFile {
  defaultRequests: string[];
  bases: Record<string, NodeStatus>;
  scenarios: ScenarioSpec[];
}

interface RecordedFile {
  recordedWith: string;
  scenarios: Record<string, { codes: Record<string, number>; bodies: Record<string, string> }>;
}

export interface Scenario {
  name: string;
  status: NodeStatus;
  nowMs: number;
  /** Request line ("GET /replica?lag=1MB") -> status code Patroni 3.0.2 answered. */
  codes: Record<string, number>;
  /** Request line -> the exact body Patroni 3.0.2 answered ("GET /patroni" and "GET /"). */
  bodies: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(file, FIXTURES_DIR), 'utf8')) as T;
}

export function loadScenarios(): Scenario[] {
  const spec = readJson<ScenarioFile>('scenarios.json');
  const recorded = readJson<RecordedFile>('recorded.json');
  return spec.scenarios.map((scenario) => {
    const base = spec.bases[scenario.base];
    if (base === undefined) throw new Error(`scenario ${scenario.name}: no base ${scenario.base}`);
    const status = { ...structuredClone(base), ...structuredClone(scenario.set ?? {}) } as NodeStatus;
    const record = recorded.scenarios[scenario.name];
    if (record === undefined) throw new Error(`scenario ${scenario.name} is not recorded: run fixtures/record.py`);
    return { name: scenario.name, status, nowMs: scenario.nowMs, codes: record.codes, bodies: record.bodies };
  });
}

/** A base node of scenarios.json ('primary' or 'replica'), for hand-written cases. */
export function baseStatus(name: 'primary' | 'replica'): NodeStatus {
  const base = readJson<ScenarioFile>('scenarios.json').bases[name];
  if (base === undefined) throw new Error(`no base ${name}`);
  return structuredClone(base);
}

/** "GET /replica?lag=1MB" -> method, path and query. */
export function parseRequestLine(line: string): { method: string; path: string; query: URLSearchParams } {
  const [method = '', target = ''] = line.split(' ');
  const mark = target.indexOf('?');
  return {
    method,
    path: mark === -1 ? target : target.slice(0, mark),
    query: new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1)),
  };
}
