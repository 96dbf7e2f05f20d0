/**
 * The archive-get server (src/backup/archive-get-server.ts) without PostgreSQL: the request line
 * keel-wal-get sends and every other line refused; the socket path rule (the C client's, checked
 * against the client itself in test/integration/backup/wal-get.test.ts); requests for one
 * destination taking turns; and a server whose client goes away mid-request: the request is told
 * (so it puts nothing in place) and the server still exits when idle.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationTurns, isWalGetSocketPath, parseWalRequest, runArchiveGetServer } from '../../../src/backup/archive-get-server.js';
import { walGetEnvironmentHash, walGetSocketPath } from '../../../src/backup/wal-get-command.js';

const made: string[] = [];
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

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

test('the socket path: $TMPDIR when absolute, else /tmp, then keel-wal-get-<uid>/<name>-<hash of the PGBACKREST_* variables>', () => {
  const none = walGetEnvironmentHash({});
  assert.equal(none, 'cbf29ce484222325', "FNV-1a 64's offset basis: nothing hashed");
  assert.equal(walGetSocketPath('abc', { TMPDIR: '/var/tmp/x', HOME: '/h' }, 108), `/var/tmp/x/keel-wal-get-108/abc-${none}.sock`);
  assert.equal(walGetSocketPath('abc', { TMPDIR: 'relative' }, 108), `/tmp/keel-wal-get-108/abc-${none}.sock`);
  const withRepo = walGetEnvironmentHash({ PGBACKREST_REPO1_PATH: '/r', PATH: '/bin' });
  assert.notEqual(withRepo, none);
  assert.equal(
    walGetEnvironmentHash({ PGBACKREST_STANZA: 'a', PGBACKREST_REPO1_PATH: '/r' }),
    walGetEnvironmentHash({ PGBACKREST_REPO1_PATH: '/r', PGBACKREST_STANZA: 'a' }),
    'order-free',
  );
  assert.notEqual(walGetEnvironmentHash({ PGBACKREST_REPO1_PATH: '/r2' }), withRepo);
  assert.ok(isWalGetSocketPath(`/tmp/keel-wal-get-108/${'a'.repeat(24)}-${none}.sock`, 108));
  for (const path of [
    `/tmp/keel-wal-get-0/${'a'.repeat(24)}-${none}.sock`,
    `/tmp/keel-wal-get-108/${'a'.repeat(24)}.sock`,
    '/etc/passwd',
    `tmp/keel-wal-get-108/${'a'.repeat(24)}-${none}.sock`,
  ])
    assert.equal(isWalGetSocketPath(path, 108), false, path);
});

test('work for one destination takes turns, in arrival order; other destinations do not wait', async () => {
  const turns = new DestinationTurns();
  const order: string[] = [];
  let releaseFirst: () => void = () => undefined;
  const first = turns.run('/d/RECOVERYXLOG', async () => {
    order.push('first starts');
    await new Promise<void>((resolve) => (releaseFirst = resolve));
    order.push('first ends');
    throw new Error('the first failed');
  });
  const second = turns.run('/d/RECOVERYXLOG', async () => {
    order.push('second runs');
    return 2;
  });
  const other = await turns.run('/d/RECOVERYHISTORY', async () => {
    order.push('other runs');
    return 3;
  });
  assert.equal(other, 3);
  assert.deepEqual(order, ['first starts', 'other runs'], 'the second waits for the first; another destination does not');
  releaseFirst();
  await assert.rejects(first, /the first failed/);
  assert.equal(await second, 2, 'runs after a failure too');
  assert.deepEqual(order, ['first starts', 'other runs', 'first ends', 'second runs']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(turns.size, 0, 'nothing kept once done');
});

test('a client that goes away mid-request: the request is told, and the server still exits when idle', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-unit-'));
  made.push(dir);
  const socketPath = join(dir, `keel-wal-get-${process.geteuid?.() ?? 0}`, `${'b'.repeat(24)}-${walGetEnvironmentHash({})}.sock`);
  let clientGone: () => void = () => undefined;
  const gone = new Promise<void>((resolve) => (clientGone = resolve));
  let wantedAfter: boolean | null = null;
  let serving: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (serving = resolve));
  const server = runArchiveGetServer(
    socketPath,
    async (_request, wanted) => {
      serving();
      await gone;
      // the server hears the close on its own time: ask until it has (bounded by the test's timeout)
      while (wanted()) await new Promise((resolve) => setTimeout(resolve, 10));
      wantedAfter = wanted();
      return { found: true, log: '' };
    },
    { idleMs: 200, unusedMs: 60_000 },
  );
  const client = await new Promise<ReturnType<typeof createConnection>>((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection(socketPath);
      socket.once('connect', () => resolve(socket));
      socket.once('error', () => setTimeout(attempt, 20)); // until the server listens
    };
    attempt();
    setTimeout(() => reject(new Error('the server never listened')), 10_000);
  });
  client.write(`get\t00000001000000000000004C\t${join(dir, 'RECOVERYXLOG')}\t${dir}\n`);
  await started;
  client.destroy();
  clientGone();
  assert.equal(await server, true, 'the server exits (idle) after the request of the client that went away');
  assert.equal(wantedAfter, false, 'the request was told its client had gone');
});
