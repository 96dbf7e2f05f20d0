/**
 * pythonJsonDumps must equal Python's json.dumps(value, separators=(',', ':')) (ensure_ascii on),
 * because Patroni compares and rewrites these strings; expected values come from CPython 3.11.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonOr, pythonJsonDumps } from '../../../src/patroni/python-json.js';
test('non-ASCII, DEL and control characters are escaped like Python', () => {
    assert.equal(pythonJsonDumps({ name: 'nœud-é', x: 'a\u2028b\u007f\u0001\n"\\', e: '😀' }), '{"name":"n\\u0153ud-\\u00e9","x":"a\\u2028b\\u007f\\u0001\\n\\"\\\\","e":"\\ud83d\\ude00"}');
});
test('compact separators, nested values, null for undefined at the top', () => {
    assert.equal(pythonJsonDumps({ a: [1, { b: null }], c: true }), '{"a":[1,{"b":null}],"c":true}');
    assert.equal(pythonJsonDumps(undefined), 'null');
});
test('parseJsonOr returns the fallback for malformed text', () => {
    assert.equal(parseJsonOr('{', 'fallback'), 'fallback');
    assert.deepEqual(parseJsonOr('{"a":1}', null), { a: 1 });
    assert.equal(parseJsonOr(null, 3), 3);
});
//# sourceMappingURL=python-json.test.js.map