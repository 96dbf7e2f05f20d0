/**
 * The pure halves of PATCH /config and edit-config: Patroni's merge (null deletes), patronictl's
 * -s/-p pairs (dotted paths, parameter names with dots, YAML 1.1 values), what keel refuses to
 * write, the unified diff as Python's difflib prints it, and the history and topology renderings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySetPairs, ConfigEditInputError, configEditProblems, mergeConfigPatch, parseYamlMapping, pgParameterPair, sameConfig, } from '../../../src/patroni/config-edit.js';
import { unifiedDiffLines } from '../../../src/patroni/unified-diff.js';
import { renderHistory } from '../../../src/patroni/history-render.js';
import { topologyOrder } from '../../../src/patroni/list-render.js';
const BASE = { ttl: 30, loop_wait: 10, postgresql: { use_slots: true, parameters: { max_connections: 100, work_mem: '4MB' } } };
test('merge: mappings merge recursively, null deletes, other values replace; the base is not changed', () => {
    const before = structuredClone(BASE);
    const merged = mergeConfigPatch(BASE, { loop_wait: 5, pause: true, postgresql: { parameters: { work_mem: null, shared_buffers: '1GB' } } });
    assert.deepEqual(merged, {
        ttl: 30,
        loop_wait: 5,
        pause: true,
        postgresql: { use_slots: true, parameters: { max_connections: 100, shared_buffers: '1GB' } },
    });
    assert.deepEqual(BASE, before);
    assert.deepEqual(mergeConfigPatch({ pause: true }, { pause: null }), {});
    assert.deepEqual(mergeConfigPatch({ postgresql: { parameters: {} } }, { postgresql: 'x' }), { postgresql: 'x' });
});
test('-s pairs: dotted paths create mappings, values are YAML 1.1, null removes and empty mappings go', () => {
    const changed = applySetPairs(BASE, [
        'loop_wait=3',
        'synchronous_mode=on',
        'postgresql.parameters.work_mem=8MB',
        'postgresql.pg_hba=["host all all 0.0.0.0/0 md5"]',
        'standby_cluster.port=5433',
        'postgresql.use_slots = null',
    ]);
    assert.deepEqual(changed, {
        ttl: 30,
        loop_wait: 3,
        synchronous_mode: true,
        standby_cluster: { port: 5433 },
        postgresql: { parameters: { max_connections: 100, work_mem: '8MB' }, pg_hba: ['host all all 0.0.0.0/0 md5'] },
    });
    assert.deepEqual(applySetPairs({ a: { b: 1 } }, ['a.b=null']), {}, 'a mapping left empty is removed, as patronictl does');
});
test('-p pairs: the parameter name is one key even with dots in it', () => {
    assert.equal(pgParameterPair(' work_mem=8MB'), 'postgresql.parameters.work_mem=8MB');
    const changed = applySetPairs({}, [pgParameterPair('pg_stat_statements.max=1000'), pgParameterPair('work_mem=8MB')]);
    assert.deepEqual(changed, { postgresql: { parameters: { 'pg_stat_statements.max': 1000, work_mem: '8MB' } } });
});
test('bad pairs and bad YAML are input errors naming what is wrong', () => {
    assert.throws(() => applySetPairs({}, ['loop_wait']), (e) => e instanceof ConfigEditInputError && e.message.includes('"loop_wait"'));
    assert.throws(() => applySetPairs({}, ['=3']), ConfigEditInputError);
    assert.throws(() => applySetPairs({}, ['a..b=3']), ConfigEditInputError);
    assert.throws(() => applySetPairs({}, ['loop_wait=[1']), (e) => e instanceof ConfigEditInputError && e.message.startsWith('value of loop_wait: invalid YAML'));
    assert.throws(() => parseYamlMapping('- a\n- b\n', 'file.yml'), /file\.yml: expected a mapping of settings, got a list/);
    assert.deepEqual(parseYamlMapping('', 'empty'), {});
});
test('problems: wrong types and impossible values are refused with their path; unknown keys only when the edit adds them', () => {
    assert.deepEqual(configEditProblems(BASE, { ...BASE, loop_wait: 'abc' }), ['loop_wait: expected an integer of at least 1 (seconds), got "abc"']);
    assert.deepEqual(configEditProblems(BASE, { ...BASE, ttl: 0 }), ['ttl: expected an integer of at least 1 (seconds), got 0']);
    assert.deepEqual(configEditProblems(BASE, { ...BASE, lop_wait: 3 }), ['lop_wait: unknown setting (not a dynamic configuration key)']);
    assert.match(configEditProblems(BASE, { ...BASE, postgresql: { ...BASE.postgresql, use_slots: 'maybe' } })[0] ?? '', /^postgresql\.use_slots: expected a boolean/);
    const stray = { ...BASE, written_by_someone_else: 1 };
    assert.deepEqual(configEditProblems(stray, { ...stray, loop_wait: 5 }), [], 'a stray key already stored does not block other edits');
    assert.deepEqual(configEditProblems(BASE, mergeConfigPatch(BASE, { pause: true, postgresql: { parameters: { work_mem: '8MB' } } })), []);
});
test('sameConfig ignores key order and compares deeply', () => {
    assert.ok(sameConfig({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }));
    assert.ok(!sameConfig({ a: 1 }, { a: 1, b: null }));
    assert.ok(!sameConfig({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!sameConfig({ a: '1' }, { a: 1 }));
});
// Expected lines produced by Python 3.11's difflib.unified_diff, as patronictl's show_diff calls it.
const DIFFLIB_CASES = [
    ['a\nb\nc\n', 'a\nB\nc\n', ['--- ', '+++ ', '@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c']],
    ['', 'x: 1\n', ['--- ', '+++ ', '@@ -1 +1 @@', '-', '+x: 1']],
    ['x: 1\n', '', ['--- ', '+++ ', '@@ -1 +1 @@', '-x: 1', '+']],
    [
        'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n',
        'a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n',
        ['--- ', '+++ ', '@@ -2,9 +2,10 @@', ' b', ' c', ' d', '-e', '+E', ' f', ' g', ' h', ' i', ' j', '+k'],
    ],
    ['a\n', 'a\nb\n', ['--- ', '+++ ', '@@ -1 +1,2 @@', ' a', '+b']],
];
test("the unified diff is difflib's, line for line", () => {
    for (const [before, after, expected] of DIFFLIB_CASES)
        assert.deepEqual(unifiedDiffLines(before, after), expected, JSON.stringify([before, after]));
    assert.deepEqual(unifiedDiffLines('a\n', 'a\n'), []);
});
function viewWithHistory(lines) {
    return { revision: 1, initialize: '1', config: null, leader: null, members: [], failover: null, sync: null, history: lines, status: null, failsafe: null };
}
test("history: patronictl's table, short lines padded, TL and LSN right-aligned", () => {
    const view = viewWithHistory({
        modRevision: 3,
        value: [
            { timeline: 1, lsn: 25623960, reason: 'no recovery target specified' },
            { timeline: 2, lsn: 50331856, reason: 'no recovery target specified', timestamp: '2024-09-24T09:35:52+02:00', newLeader: 'node2' },
        ],
    });
    assert.equal(renderHistory(view), [
        '+----+----------+------------------------------+---------------------------+------------+',
        '| TL |      LSN | Reason                       | Timestamp                 | New Leader |',
        '+----+----------+------------------------------+---------------------------+------------+',
        '|  1 | 25623960 | no recovery target specified |                           |            |',
        '|  2 | 50331856 | no recovery target specified | 2024-09-24T09:35:52+02:00 | node2      |',
        '+----+----------+------------------------------+---------------------------+------------+',
        '',
    ].join('\n'));
    assert.equal(renderHistory(view, 'tsv'), 'TL\tLSN\tReason\tTimestamp\tNew Leader\n1\t25623960\tno recovery target specified\t\t\n2\t50331856\tno recovery target specified\t2024-09-24T09:35:52+02:00\tnode2\n');
    assert.equal(renderHistory(viewWithHistory(null), 'json'), '[]\n');
});
function member(name, role, tags) {
    return { name, role, state: 'running', api_url: `http://h/${name}`, host: 'h', port: 5432, ...(tags === undefined ? {} : { tags }) };
}
test('topology: the leader, then each replica under the member it replicates from, "+ " indented per level', () => {
    const ordered = topologyOrder([
        member('a', 'replica', { replicatefrom: 'c' }),
        member('b', 'leader'),
        member('c', 'replica'),
        member('d', 'replica', { replicatefrom: 'b' }),
        member('e', 'replica', { replicatefrom: 'a' }),
        member('f', 'replica', { replicatefrom: 'nobody' }),
    ]);
    assert.deepEqual(ordered.map((m) => m.name), ['b', '+ c', '  + a', '    + e', '+ d', '+ f']);
    assert.deepEqual(topologyOrder([member('x', 'replica'), member('y', 'replica', { replicatefrom: 'x' })]).map((m) => m.name), ['+ x', '  + y'], 'without a leader the replicas hang from nobody, as in patronictl');
});
//# sourceMappingURL=config-edit.test.js.map