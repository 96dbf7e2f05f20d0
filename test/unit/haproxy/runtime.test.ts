/**
 * Runtime re-routing, the pure parts: which runtime-API commands a role change sends, which
 * answers count as failures, and the node file's `haproxy` section (defaults, bad values).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleChangeCommands, runtimeErrors } from '../../../src/haproxy/runtime-commands.js';
import { parseStatsCsv } from '../../../src/sandbox/haproxy.js';
import { assertConfigError, load, minimal, setPath } from '../config/helpers.js';

const BACKENDS = { write: 'postgres_write', read: 'postgres_read' };

test('a promotion takes the writes for itself, from everybody else, and leaves the reads', () => {
  assert.deepEqual(roleChangeCommands('promoted', 'node2', ['node1', 'node3'], BACKENDS), [
    'set server postgres_write/node2 health up',
    'set server postgres_write/node1 health down',
    'set server postgres_write/node3 health down',
    'set server postgres_read/node2 health down',
  ]);
});

test('a demotion or a fence stops the writes here; the reads come back through the checks', () => {
  for (const change of ['demoted', 'fenced'] as const) {
    assert.deepEqual(roleChangeCommands(change, 'node1', ['node2'], { write: 'w', read: 'r' }), ['set server w/node1 health down']);
  }
});

test('runtime answers: silence is success, a missing (noloadbalance) read server is not an error', () => {
  assert.deepEqual(runtimeErrors(''), []);
  assert.deepEqual(runtimeErrors('\nNo such server.\n\n'), []);
  assert.deepEqual(runtimeErrors('No such backend.\n'), ['No such backend.']);
  assert.deepEqual(runtimeErrors('Permission denied\n'), ['Permission denied']);
});

test('the haproxy section: absent means no announcements; backends default to the seed names', () => {
  assert.equal(load(minimal()).haproxy, undefined);
  const config = load(setPath(minimal(), 'haproxy', { runtime_sockets: ['/run/haproxy/admin.sock', '10.0.1.100:9999'] }));
  assert.deepEqual(config.haproxy, {
    runtimeSockets: ['/run/haproxy/admin.sock', '10.0.1.100:9999'],
    writeBackend: 'postgres_write',
    readBackend: 'postgres_read',
  });
  const one = load(setPath(minimal(), 'haproxy', { runtime_sockets: '/run/haproxy/admin.sock', write_backend: 'pg_rw', read_backend: 'pg_ro' }));
  assert.deepEqual(one.haproxy, { runtimeSockets: ['/run/haproxy/admin.sock'], writeBackend: 'pg_rw', readBackend: 'pg_ro' });
  assert.deepEqual(one.warnings, []);
});

test('the haproxy section: bad values name their key', () => {
  assertConfigError(() => load(setPath(minimal(), 'haproxy', { write_backend: 'w' })), 'haproxy.runtime_sockets');
  assertConfigError(() => load(setPath(minimal(), 'haproxy', { runtime_sockets: ['admin.sock'] })), 'haproxy.runtime_sockets');
  assertConfigError(() => load(setPath(minimal(), 'haproxy', { runtime_sockets: ['/s'], read_backend: 'two words' })), 'haproxy.read_backend');
});

test("the stats page's CSV: servers with their status, without the frontend/backend summaries", () => {
  const csv = [
    '# pxname,svname,qcur,status,weight',
    'postgres_write,FRONTEND,,OPEN,',
    'postgres_write,node1,0,UP,1',
    'postgres_write,node2,0,DOWN,1',
    'postgres_write,BACKEND,0,UP,1',
    'postgres_read,node2,0,UP 1/2,1',
    '',
  ].join('\n');
  assert.deepEqual(parseStatsCsv(csv), [
    { backend: 'postgres_write', server: 'node1', status: 'UP' },
    { backend: 'postgres_write', server: 'node2', status: 'DOWN' },
    { backend: 'postgres_read', server: 'node2', status: 'UP 1/2' },
  ]);
});
