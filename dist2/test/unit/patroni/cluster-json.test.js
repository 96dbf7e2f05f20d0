/**
 * GET /cluster and GET /history bodies: keel's clusterAsJson/historyAsJson against what Patroni
 * 3.0.2's own code returned for the same etcd keys (fixtures recorded by fixtures/record.py),
 * compared byte for byte after serialising the way Patroni's API does (json.dumps), plus the
 * rules that the recorded scenarios do not exercise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterAsJson, historyAsJson, isPaused } from '../../../src/patroni/cluster-json.js';
import { pyJsonDumps } from '../../../src/patroni/python-compat.js';
import { loadScenarios, readFixture, viewFromKeys } from './recorded-scenarios.js';
const scenarios = loadScenarios();
test('the recorded scenarios are present', () => {
    assert.deepEqual(scenarios.map((s) => s.name), ['basic', 'empty', 'ports', 'standby']);
});
for (const scenario of scenarios) {
    test(`GET /cluster matches Patroni 3.0.2 byte for byte: ${scenario.name}`, () => {
        const view = viewFromKeys(scenario.keys);
        assert.equal(pyJsonDumps(clusterAsJson(view)) + '\n', readFixture(`${scenario.name}.cluster.json`));
    });
    test(`GET /history matches Patroni 3.0.2 byte for byte: ${scenario.name}`, () => {
        const view = viewFromKeys(scenario.keys);
        assert.equal(pyJsonDumps(historyAsJson(view)) + '\n', readFixture(`${scenario.name}.history.json`));
    });
}
function basicView() {
    const basic = scenarios.find((s) => s.name === 'basic');
    assert.ok(basic);
    return viewFromKeys(basic.keys);
}
test('pause comes from the config key unless the caller overrides it', () => {
    const view = basicView();
    assert.equal(isPaused(view), true);
    assert.equal(clusterAsJson(view).pause, true);
    assert.equal(clusterAsJson(view, { paused: false }).pause, undefined);
    const config = view.config;
    assert.ok(config);
    for (const [value, paused] of [
        ['on', true],
        ['TRUE', true],
        [1, true],
        ['off', false],
        ['maybe', false],
        [null, false],
    ]) {
        const withPause = { ...view, config: { ...config, value: { ...config.value, pause: value } } };
        assert.equal(clusterAsJson(withPause).pause === true, paused, `pause: ${String(value)}`);
    }
    assert.equal(clusterAsJson({ ...view, config: null }).pause, undefined);
});
test('lag is measured from the status optime, not from the leader member', () => {
    const view = basicView();
    const lagOf = (v, name) => clusterAsJson(v).members.find((m) => m.name === name)?.lag;
    assert.equal(lagOf(view, 'node3'), 50331808 - 47710368);
    assert.equal(lagOf(view, 'node2'), 0, 'a member ahead of the optime has lag 0');
    assert.equal(lagOf(view, 'node5'), 'unknown', 'no xlog_location');
    assert.equal(lagOf({ ...view, status: null }, 'node3'), 0, 'no status key: optime 0');
    assert.equal(clusterAsJson(view).members.find((m) => m.name === 'node1')?.lag, undefined, 'the leader has no lag');
});
test('without a leader key every member is a replica with a lag', () => {
    const json = clusterAsJson({ ...basicView(), leader: null });
    assert.deepEqual(json.members.map((m) => m.role), ['replica', 'replica', 'replica', 'replica', 'replica']);
    assert.equal(json.members[0]?.lag, 0);
});
test('members are sorted by code point, as Python sorts names', () => {
    const view = basicView();
    const template = view.members[0];
    assert.ok(template);
    const names = ['\u{1F600}', '\uFF21', 'b', 'B', 'a10', 'a9'];
    const members = names.map((name) => ({ ...template, name }));
    const sorted = clusterAsJson({ ...view, members }).members.map((m) => m.name);
    assert.deepEqual(sorted, ['B', 'a10', 'a9', 'b', '\uFF21', '\u{1F600}']);
});
test('no failover key or one without scheduled_at gives no scheduled_switchover', () => {
    const view = basicView();
    assert.equal(clusterAsJson({ ...view, failover: null }).scheduled_switchover, undefined);
    assert.equal(clusterAsJson({ ...view, failover: { value: { leader: 'node1' }, modRevision: 3 } }).scheduled_switchover, undefined);
});
test('a history line with a new leader but no timestamp keeps its position', () => {
    const view = { ...basicView(), history: { value: [{ timeline: 2, lsn: 5, reason: 'r', newLeader: 'n' }], modRevision: 1 } };
    assert.deepEqual(historyAsJson(view), [[2, 5, 'r', null, 'n']]);
    assert.deepEqual(historyAsJson({ ...view, history: null }), []);
});
//# sourceMappingURL=cluster-json.test.js.map