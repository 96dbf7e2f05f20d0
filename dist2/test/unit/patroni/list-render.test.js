/**
 * `keel list` against the real patronictl 3.0.2: for each recorded scenario (etcd keys in
 * test/unit/patroni/fixtures/<name>.keys.json) the output must equal, byte for byte, what
 * `patronictl list` printed for those keys in every format, with and without -e.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderList } from '../../../src/patroni/list-render.js';
import { loadScenarios, readFixture, viewFromKeys } from './recorded-scenarios.js';
const VARIANTS = [
    { suffix: 'pretty', format: 'pretty', extended: false },
    { suffix: 'json', format: 'json', extended: false },
    { suffix: 'yaml', format: 'yaml', extended: false },
    { suffix: 'tsv', format: 'tsv', extended: false },
    { suffix: 'extended.pretty', format: 'pretty', extended: true },
    { suffix: 'extended.json', format: 'json', extended: true },
];
const scenarios = loadScenarios();
test('there are recorded scenarios to compare with', () => {
    assert.ok(scenarios.length >= 4);
});
for (const scenario of scenarios) {
    for (const variant of VARIANTS) {
        test(`patronictl list ${variant.extended ? '-e ' : ''}--format ${variant.format}: ${scenario.name}`, () => {
            const view = viewFromKeys(scenario.keys);
            const output = renderList(view, variant.format, { scope: scenario.scope, extended: variant.extended, systemIdInTitle: false });
            assert.equal(output, readFixture(`${scenario.name}.list.${variant.suffix}.txt`));
        });
    }
}
test('the paused option overrides the config key for the footer', () => {
    const basic = scenarios.find((s) => s.name === 'basic');
    assert.ok(basic);
    const output = renderList(viewFromKeys(basic.keys), 'pretty', { scope: 'demo', paused: false, systemIdInTitle: false });
    assert.ok(!output.includes('Maintenance mode'));
    assert.ok(output.includes(' Switchover scheduled at: 2030-01-02T03:04:05.500000+00:00\n'));
});
test('a title longer than the table is cut to the border', () => {
    const output = renderList(viewFromKeys({}), 'pretty', { scope: 'a-very-long-cluster-name-that-is-wider-than-the-table-itself', systemIdInTitle: false });
    const [top = '', header = ''] = output.split('\n');
    assert.equal(top.length, header.length);
    assert.ok(top.startsWith('+ Cluster: a-very-long-cluster-name'));
    assert.ok(top.endsWith('+'));
});
test('the default title carries the system identifier, as the seed and Patroni >= 3.2 show it', () => {
    const basic = scenarios.find((s) => s.name === 'basic');
    assert.ok(basic);
    const withId = renderList({ ...viewFromKeys(basic.keys), initialize: '7123456789012345678' }, 'pretty', { scope: 'demo' });
    assert.ok(withId.split('\n')[0]?.startsWith('+ Cluster: demo (7123456789012345678) '), withId.split('\n')[0]);
    const fresh = renderList({ ...viewFromKeys({}), initialize: null }, 'pretty', { scope: 'demo' });
    assert.ok(fresh.split('\n')[0]?.startsWith('+ Cluster: demo (uninitialized) '));
});
//# sourceMappingURL=list-render.test.js.map