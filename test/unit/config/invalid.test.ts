/**
 * Invalid configuration: every class of mistake gives a ConfigError (exit code 2) whose path
 * is the YAML key path and whose message says what was expected and what was found. No raw
 * ZodError, YAMLError or TypeError ever escapes, whatever the input (checked by mutating
 * every key of the seed file and by corrupting its text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../../../src/errors.js';
import { parseConfig, loadConfigFile } from '../../../src/config/load.js';
import { SEED_FILE, assertConfigError, load, minimal, setPath, toYaml } from './helpers.js';

test('the message names the key path and what was expected', () => {
  const error = assertConfigError(() => load(setPath(minimal(), 'postgresql.listen', 'foo')), 'postgresql.listen');
  assert.equal(error.message, 'postgresql.listen: expected "host:port", got "foo"');
  assert.match(error.hint ?? '', /\/etc\/keel\/test\.yml/);
});

test('each class of invalid value is reported at its path', () => {
  const cases: Array<[string, unknown, string, string]> = [
    ['name', undefined, 'name', 'is required'],
    ['scope', '', 'scope', 'is required'],
    ['restapi', ['a'], 'restapi', 'expected a mapping, got a list'],
    ['restapi.listen', undefined, 'restapi.listen', 'is required'],
    ['restapi.listen', '10.0.0.1:99999', 'restapi.listen', 'port from 1 to 65535'],
    ['restapi.listen', '10.0.0.1', 'restapi.listen', 'expected "host:port", got "10.0.0.1"'],
    ['restapi.connect_address', 8008, 'restapi.connect_address', 'expected "host:port", got 8008'],
    ['postgresql', 'yes please', 'postgresql', 'expected a mapping, got "yes please"'],
    ['postgresql.listen', '*,10.0.0.1:5432', 'postgresql.listen', '"*" alone'],
    ['postgresql.data_dir', undefined, 'postgresql.data_dir', 'is required (the PostgreSQL data directory)'],
    ['postgresql.data_dir', ['x'], 'postgresql.data_dir', 'expected a string, got a list'],
    ['postgresql.authentication', undefined, 'postgresql.authentication.superuser.username', 'is required'],
    ['postgresql.authentication.replication.username', undefined, 'postgresql.authentication.replication.username', 'is required'],
    ['postgresql.authentication.superuser.password', true, 'postgresql.authentication.superuser.password', 'quote it'],
    ['postgresql.authentication.rewind', { password: 'x' }, 'postgresql.authentication.rewind.username', 'is required'],
    ['postgresql.parameters', ['work_mem=4MB'], 'postgresql.parameters', 'expected a mapping of PostgreSQL parameters, got a list'],
    ['postgresql.parameters', { work_mem: { a: 1 } }, 'postgresql.parameters.work_mem', 'expected a string, number or boolean, got a mapping'],
    ['postgresql.parameters', { unix_socket_directories: 5 }, 'postgresql.parameters.unix_socket_directories', 'directory path'],
    ['postgresql.pg_hba', 'host all all 0.0.0.0/0 md5', 'postgresql.pg_hba', 'expected a list of strings'],
    ['postgresql.pg_ctl_timeout', '-5', 'postgresql.pg_ctl_timeout', 'expected a number of seconds'],
    ['postgresql.use_unix_socket', 'sometimes', 'postgresql.use_unix_socket', 'expected a boolean (true/false, on/off, yes/no), got "sometimes"'],
    ['postgresql.callbacks', { on_start: ['a'] }, 'postgresql.callbacks', 'on_start'],
    ['postgresql.connect_address', 'h:0', 'postgresql.connect_address', 'port from 1 to 65535'],
    ['tags.nofailover', 'maybe', 'tags.nofailover', 'expected a boolean'],
    ['tags.failover_priority', -1, 'tags.failover_priority', 'expected an integer of at least 0, got -1'],
    ['watchdog.mode', 'sometimes', 'watchdog.mode', 'expected one of off, automatic, required, got "sometimes"'],
    ['watchdog.safety_margin', 'x', 'watchdog.safety_margin', 'expected an integer'],
    ['log.level', 'LOUD', 'log.level', 'expected one of DEBUG'],
    ['log.type', 'xml', 'log.type', 'expected plain or json'],
    ['bootstrap.dcs', [1], 'bootstrap.dcs', 'expected a mapping of dynamic settings'],
    ['bootstrap.dcs.ttl', 'abc', 'bootstrap.dcs.ttl', 'expected an integer of at least 1 (seconds), got "abc"'],
    ['bootstrap.dcs.synchronous_mode', 'perhaps', 'bootstrap.dcs.synchronous_mode', 'expected on, off, true, false or quorum'],
    ['bootstrap.dcs.postgresql.parameters', { wal_level: ['x'] }, 'bootstrap.dcs.postgresql.parameters.wal_level', 'expected a string, number or boolean'],
    ['bootstrap.pg_hba', [1, ['x']], 'bootstrap.pg_hba', 'expected a list of strings, got a list in it'],
    ['etcd3.port', 'http', 'etcd3.port', 'expected a port number'],
    ['etcd3.hosts', { a: 1 }, 'etcd3.hosts', 'expected "host:port,host:port" or a list'],
  ];
  for (const [path, value, errorPath, fragment] of cases) {
    assertConfigError(() => load(setPath(minimal(), path, value)), errorPath, fragment);
  }
});

test('the first issue is the error and the next few are listed in the hint', () => {
  const config = setPath(setPath(setPath(minimal(), 'name', undefined), 'restapi.listen', 'nope'), 'tags.nosync', 'perhaps');
  const error = assertConfigError(() => load(config), 'name', 'is required');
  assert.match(error.hint ?? '', /restapi\.listen: expected "host:port", got "nope"/);
  assert.match(error.hint ?? '', /tags\.nosync: expected a boolean/);
});

test('YAML syntax errors name the line', () => {
  const text = 'scope: demo\nname: n1\nrestapi:\n  listen: [10.0.0.1:8008\npostgresql:\n  listen: x\n';
  const error = assertConfigError(() => parseConfig(text, '/etc/patroni.yml', {}), '', /invalid YAML at line \d+, column \d+/);
  assert.match(error.message, /^\/etc\/patroni\.yml: /);
  assertConfigError(() => parseConfig('scope: a\n  name: b\n', null, {}), '', 'line 1');
  assertConfigError(() => parseConfig('- just\n- a list\n', null, {}), '', 'expected a mapping of settings at the top level, got a list');
  assertConfigError(() => parseConfig('"just a string"', null, {}), '', 'got a single value');
});

test('invalid environment values name the variable; KEEL_LOG_FORMAT is checked', () => {
  const error = assertConfigError(() => load(minimal(), { PATRONI_POSTGRESQL_LISTEN: 'foo' }), 'postgresql.listen');
  assert.equal(error.message, 'postgresql.listen: expected "host:port", got "foo" (set by PATRONI_POSTGRESQL_LISTEN)');
  assert.equal(error.hint, 'fix PATRONI_POSTGRESQL_LISTEN');
  assertConfigError(() => load(minimal(), { PATRONI_ETCD3_HOSTS: 'a:2379,b:x' }), 'etcd3.hosts[1]', '"b:x" (set by PATRONI_ETCD3_HOSTS)');
  assertConfigError(() => load(minimal(), { KEEL_LOG_FORMAT: 'xml' }), 'KEEL_LOG_FORMAT', 'expected json or text, got "xml"');
});

test('a missing or unreadable file is a ConfigError', () => {
  assertConfigError(() => loadConfigFile('/nonexistent/dir/patroni.yml', {}), '', 'cannot read /nonexistent/dir/patroni.yml: no such file or directory');
});

function assertOnlyConfigErrors(run: () => unknown, what: string): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${what}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function keyPaths(node: unknown, prefix: string[] = []): string[][] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [];
  return Object.entries(node).flatMap(([key, value]) => [[...prefix, key], ...keyPaths(value, [...prefix, key])]);
}

test('no input makes anything but a ConfigError escape: every key of the seed replaced by odd values', () => {
  const seedText = readFileSync(SEED_FILE, 'utf8');
  const seed = parse(seedText, { version: '1.1' }) as Record<string, unknown>;
  const oddValues: unknown[] = [
    null,
    '',
    'x',
    'a:b:c',
    '0.0.0.0:1',
    0,
    -1,
    1.5,
    70000,
    true,
    false,
    [],
    [1, { a: [] }],
    {},
    { z: null },
    ['data-checksums', { a: 1, b: 2 }],
  ];
  let runs = 0;
  for (const path of keyPaths(seed)) {
    for (const value of oddValues) {
      const copy = structuredClone(seed);
      setPath(copy, path.join('.'), value);
      assertOnlyConfigErrors(() => load(copy), `${path.join('.')} = ${JSON.stringify(value)}`);
      runs += 1;
    }
  }
  assert.ok(runs > 500, `ran ${runs} variations`);
});

test('no input makes anything but a ConfigError escape: the seed text corrupted at every position', () => {
  const text = toYaml(parse(readFileSync(SEED_FILE, 'utf8'), { version: '1.1' }) as Record<string, unknown>);
  const corruptions = ['', ':', '- ', '[', '{', '"', '\t', '\n  ', '&a ', '*a ', '!!binary '];
  for (let position = 0; position < text.length; position += 13) {
    for (const insert of corruptions) {
      const broken = text.slice(0, position) + insert + text.slice(position + 1);
      assertOnlyConfigErrors(() => parseConfig(broken, '/x.yml', {}, { findBinDir: () => '' }), `at ${position} insert ${JSON.stringify(insert)}`);
    }
  }
});
