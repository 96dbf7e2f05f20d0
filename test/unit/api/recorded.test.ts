/**
 * keel's health codes and /patroni JSON against what the real Patroni 3.0.2 REST API handler
 * answered for the same node states (fixtures/recorded.json, recorded by fixtures/record.py
 * through Patroni's own RestApiHandler). Every request of every scenario must give the same
 * status code, and the JSON must be byte-identical once keel's own `keel` key is removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyJsonDumps } from '../../../src/patroni/python-compat.js';
import { healthResponse, patroniStatusJson } from '../../../src/api/status.js';
import { loadScenarios, parseRequestLine } from './fixtures.js';

const scenarios = loadScenarios();

test('the recording covers the situations the health rules distinguish', () => {
  assert.ok(scenarios.length >= 30, `only ${scenarios.length} scenarios`);
});

for (const scenario of scenarios) {
  test(`health codes match Patroni 3.0.2: ${scenario.name}`, () => {
    for (const [line, expected] of Object.entries(scenario.codes)) {
      const { path, query } = parseRequestLine(line);
      // GET /patroni is not a health endpoint: it always answers 200 (checked in server.test.ts).
      if (path === '/patroni') {
        assert.equal(expected, 200, line);
        continue;
      }
      const { code } = healthResponse(path, query, scenario.status, scenario.nowMs);
      assert.equal(code, expected, `${scenario.name}: ${line}`);
    }
  });

  test(`GET /patroni and GET / bodies are byte-identical to Patroni 3.0.2's: ${scenario.name}`, () => {
    const json = patroniStatusJson(scenario.status);
    const { replication_state: replicationState, local_only_commits: localOnly, ...keel } = json['keel'] as Record<string, unknown>;
    assert.equal(localOnly, 0);
    assert.deepEqual(keel, { name: scenario.status.patroni.name, last_why: scenario.status.lastWhy });
    // A running replica says whether it streams (Patroni >= 3.1's replication_state), under `keel`.
    const runningReplica = json['role'] === 'replica' && json['xlog'] !== undefined;
    assert.equal(replicationState, runningReplica ? (scenario.status.replicaStreaming ? 'streaming' : 'in archive recovery') : undefined);
    // keel's additions: the `keel` key and `patroni.name` (as Patroni >= 3.1 publishes it).
    const withoutKeel = Object.fromEntries(Object.entries(json).filter(([key]) => key !== 'keel'));
    if (withoutKeel['patroni'] !== undefined) {
      const { name: _name, ...rest } = withoutKeel['patroni'] as Record<string, unknown>;
      withoutKeel['patroni'] = rest;
    }
    for (const [line, body] of Object.entries(scenario.bodies)) {
      if (line === 'GET /metrics') continue; // compared metric by metric in metrics.test.ts
      assert.equal(pyJsonDumps(withoutKeel), body, `${scenario.name}: ${line}`);
    }
  });
}
