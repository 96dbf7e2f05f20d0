/**
 * The archive-get server's request line (src/backup/archive-get-server.ts): what keel-wal-get
 * sends, and every other line refused (the connection is then closed without a status, and the
 * client runs the plain archive-get).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWalRequest } from '../../../src/backup/archive-get-server.js';
import { walGetSocketPath } from '../../../src/backup/wal-get-command.js';

test('a request names a WAL file, an absolute destination and the caller working directory', () => {
  assert.deepEqual(parseWalRequest('get\t00000001000000000000004C\t/pg/data/pg_wal/RECOVERYXLOG\t/pg/data'), {
    name: '00000001000000000000004C',
    destination: '/pg/data/pg_wal/RECOVERYXLOG',
    cwd: '/pg/data',
  });
  for (const name of ['00000002.history', '00000001000000000000004C.partial', '00000001000000000000004C.00000028.backup'])
    assert.equal(parseWalRequest(`get\t${name}\t/d/pg_wal/x\t/d`)?.name, name);
});

test('anything else is refused', () => {
  for (const line of [
    '',
    'get',
    'put\t00000001000000000000004C\t/d/x\t/d',
    'get\t../../etc/passwd\t/d/x\t/d',
    'get\t00000001000000000000004c\t/d/x\t/d', // PostgreSQL names are upper case
    'get\t00000001000000000000004C\tpg_wal/x\t/d', // a relative destination
    'get\t00000001000000000000004C\t/d/x\td',
    'get\t00000001000000000000004C\t/d/x\t/d\textra',
  ])
    assert.equal(parseWalRequest(line), null, line);
});

test('the socket path follows the client rule: $TMPDIR when absolute, else /tmp, then keel-wal-get-<uid>', () => {
  const uid = process.geteuid?.() ?? 0;
  assert.equal(walGetSocketPath('abc', { TMPDIR: '/var/tmp/x' }), `/var/tmp/x/keel-wal-get-${uid}/abc.sock`);
  assert.equal(walGetSocketPath('abc', { TMPDIR: 'relative' }), `/tmp/keel-wal-get-${uid}/abc.sock`);
  assert.equal(walGetSocketPath('abc', {}), `/tmp/keel-wal-get-${uid}/abc.sock`);
});
