/**
 * The Python behaviours keel reproduces for Patroni-identical output, checked against values
 * recorded from Python itself (fixtures/record-python.py): json.dumps, dateutil + isoformat for
 * scheduled_at, round() for "Lag in MB", and a few str()/title()/urlparse cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonIsoformat } from '../../../src/patroni/iso-datetime.js';
import { parseBool, pyJsonDumps, pyRound, pyStr, pyTitle, pyUrlHostPort } from '../../../src/patroni/python-compat.js';
import { readJsonFixture } from './recorded-scenarios.js';
test('json.dumps output is reproduced (ensure_ascii, separators, floats)', () => {
    for (const { input, dumps } of readJsonFixture('json-compat.json')) {
        // An integral float (Python 2.5e+20) reaches JavaScript as a plain integer: out of scope.
        if (typeof input === 'number' && Number.isInteger(input) && dumps.includes('e'))
            continue;
        assert.equal(pyJsonDumps(input), dumps);
    }
});
test('scheduled_at is printed as dateutil.parser.parse(...).isoformat()', () => {
    for (const { input, isoformat } of readJsonFixture('dateutil-compat.json')) {
        assert.equal(pythonIsoformat(input), isoformat, input);
    }
    assert.equal(pythonIsoformat('2030-01-02T03:04:05-00:00'), '2030-01-02T03:04:05+00:00');
    assert.equal(pythonIsoformat('next tuesday'), 'next tuesday', 'unparseable text is kept');
});
test('lag in MB rounds halves to even, like Python 3', () => {
    for (const { lag, mb } of readJsonFixture('round-compat.json')) {
        assert.equal(pyRound(lag / 1024 / 1024), mb, String(lag));
    }
});
test('str(), title() and parse_bool() behave as in Python/Patroni', () => {
    assert.equal(pyStr(null), 'None');
    assert.equal(pyStr(true), 'True');
    assert.equal(pyStr({}), '{}');
    assert.equal(pyStr({ a: [1, 'x', null] }), "{'a': [1, 'x', None]}");
    assert.equal(pyStr(0.5), '0.5');
    assert.equal(pyTitle('standby leader'), 'Standby Leader');
    assert.equal(pyTitle('sync standby'), 'Sync Standby');
    assert.equal(parseBool(true), true);
    assert.equal(parseBool('Off'), false);
    assert.equal(parseBool('foo'), undefined);
});
test('urlparse host and port', () => {
    assert.deepEqual(pyUrlHostPort('postgres://u:p@DB.Example:5433/postgres'), { hostname: 'db.example', port: 5433 });
    assert.deepEqual(pyUrlHostPort('postgres://[::1]:5432/postgres'), { hostname: '::1', port: 5432 });
    assert.deepEqual(pyUrlHostPort('postgres://h/postgres'), { hostname: 'h', port: null });
    assert.deepEqual(pyUrlHostPort('postgres://h:x/postgres'), { hostname: 'h', port: undefined });
    assert.deepEqual(pyUrlHostPort('host=h port=5432'), { hostname: null, port: null });
});
//# sourceMappingURL=python-compat.test.js.map