/**
 * keel's PyYAML emulation against PyYAML's own output (fixtures/yaml-compat.json, recorded with
 * yaml.safe_dump(..., allow_unicode=True, width=200) as patronictl 3.0.2 calls it): quoting, key
 * order, indentation, empty collections and line folding, in block and flow style.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyYamlDump } from '../../../src/patroni/pyyaml.js';
import { readJsonFixture } from './recorded-scenarios.js';
const cases = readJsonFixture('yaml-compat.json');
cases.forEach(({ input, block, flow }, index) => {
    test(`safe_dump block style, case ${index}`, () => {
        assert.equal(pyYamlDump(input), block);
    });
    test(`safe_dump flow style, case ${index}`, () => {
        assert.equal(pyYamlDump(input, { flowStyle: true }), flow);
    });
});
//# sourceMappingURL=pyyaml.test.js.map