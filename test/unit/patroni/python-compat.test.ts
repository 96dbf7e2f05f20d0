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
  for (const { input, dumps } of readJsonFixture<{ input: unknown; dumps: string }[]>('json-compat.json')) {
    // An integral float (Python 2.5e+20) reaches JavaScript as a plain integer: out of scope.
    if (typeof input === 'number' && Number.isInteger(input) && dumps.includes('e')) continue;
    assert.equal(pyJsonDumps(input), dumps);
  }
});

test('json.dumps escapes exactly what Python escapes, plain text included (the fast path) and large integers', () => {
  // Expected values printed by CPython 3.11's json.dumps.
  const cases: [unknown, string][] = [
    ['node1', '"node1"'],
    [' !#[]~', '"' + ' !#[]~' + '"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\data', '"C:\\\\data"'],
    ['tab\tnew\nline', '"tab\\tnew\\nline"'],
    ['\u007f', '"\\u007f"'],
    ['\u0001', '"\\u0001"'],
    ['café', '"caf\\u00e9"'],
    ['\u{1F600}', '"\\ud83d\\ude00"'],
    [{ role: 'replica', lag: 0, timeline: 12 }, '{"role": "replica", "lag": 0, "timeline": 12}'],
    [2 ** 53 - 1, '9007199254740991'],
    [2 ** 60, '1152921504606846976'],
    [-42, '-42'],
    [0.5, '0.5'],
  ];
  for (const [input, dumps] of cases) assert.equal(pyJsonDumps(input), dumps, JSON.stringify(input));
});

test('scheduled_at is printed as dateutil.parser.parse(...).isoformat()', () => {
  for (const { input, isoformat } of readJsonFixture<{ input: string; isoformat: string }[]>('dateutil-compat.json')) {
    assert.equal(pythonIsoformat(input), isoformat, input);
  }
  assert.equal(pythonIsoformat('2030-01-02T03:04:05-00:00'), '2030-01-02T03:04:05+00:00');
  assert.equal(pythonIsoformat('next tuesday'), 'next tuesday', 'unparseable text is kept');
});

test('lag in MB rounds halves to even, like Python 3', () => {
  for (const { lag, mb } of readJsonFixture<{ lag: number; mb: number }[]>('round-compat.json')) {
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
