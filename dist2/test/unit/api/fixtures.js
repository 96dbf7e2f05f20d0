/**
 * Test support (no tests here): the node states of test/unit/api/fixtures/scenarios.json as
 * NodeStatus values, and what the real Patroni 3.0.2 REST API handler answered for them
 * (fixtures/recorded.json, re-recorded with /usr/bin/python3 test/unit/api/fixtures/record.py).
 */
import { readFileSync } from 'node:fs';
/** test/unit/api/fixtures, found from the compiled file in dist/test/unit/api/. */
const FIXTURES_DIR = new URL('../../../../test/unit/api/fixtures/', import.meta.url);
function readJson(file) {
    return JSON.parse(readFileSync(new URL(file, FIXTURES_DIR), 'utf8'));
}
export function loadScenarios() {
    const spec = readJson('scenarios.json');
    const recorded = readJson('recorded.json');
    return spec.scenarios.map((scenario) => {
        const base = spec.bases[scenario.base];
        if (base === undefined)
            throw new Error(`scenario ${scenario.name}: no base ${scenario.base}`);
        const status = { ...structuredClone(base), ...structuredClone(scenario.set ?? {}) };
        const record = recorded.scenarios[scenario.name];
        if (record === undefined)
            throw new Error(`scenario ${scenario.name} is not recorded: run fixtures/record.py`);
        return { name: scenario.name, status, nowMs: scenario.nowMs, codes: record.codes, bodies: record.bodies };
    });
}
/** A base node of scenarios.json ('primary' or 'replica'), for hand-written cases. */
export function baseStatus(name) {
    const base = readJson('scenarios.json').bases[name];
    if (base === undefined)
        throw new Error(`no base ${name}`);
    return structuredClone(base);
}
/** "GET /replica?lag=1MB" -> method, path and query. */
export function parseRequestLine(line) {
    const [method = '', target = ''] = line.split(' ');
    const mark = target.indexOf('?');
    return {
        method,
        path: mark === -1 ? target : target.slice(0, mark),
        query: new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1)),
    };
}
//# sourceMappingURL=fixtures.js.map