/**
 * How keel hands credentials to libpq and reads back why a connection failed: the pgpass file
 * (issue 6: a port written as `0` never matched, so replicas never found their password), the
 * choice of keel's own local connection, and the WAL receiver's last error in the server log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPgpass, writePgpass } from '../../../src/postgres/procedures.js';
import { lastReceiverError } from '../../../src/postgres/server-log.js';
import { tcpLocalHost, unixSocketHost } from '../../../src/ha/postgres-tracker.js';
test('pgpass lines use * wildcards, never a port 0, and escape : and \\ as libpq requires', () => {
    const text = renderPgpass([
        { host: '*', port: '*', database: '*', user: { username: 'replicator', password: 'rep:pass\\word' } },
        { host: '10.0.1.21', port: '5432', database: '*', user: { username: 'post:gres', password: 'p' } },
        { host: '*', port: '*', database: '*', user: { username: 'nopassword' } },
    ]);
    assert.equal(text, '*:*:*:replicator:rep\\:pass\\\\word\n10.0.1.21:5432:*:post\\:gres:p\n');
    assert.equal(renderPgpass([]), '');
});
test('the pgpass file is written 0600, atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-pgpass-'));
    try {
        const path = join(dir, 'pgpass');
        await writePgpass(path, [{ host: '*', port: '*', database: '*', user: { username: 'replicator', password: 'x' } }]);
        assert.equal(await readFile(path, 'utf8'), '*:*:*:replicator:x\n');
        assert.equal((await stat(path)).mode & 0o777, 0o600);
    }
    finally {
        await rm(dir, { recursive: true, force: true });
    }
});
test("keel's own connection goes where Patroni's does: loopback when listened on, else the first address", () => {
    assert.equal(tcpLocalHost(['127.0.0.1', '198.18.2.1', '198.18.3.1']), '127.0.0.1');
    assert.equal(tcpLocalHost(['198.18.2.1', '0.0.0.0']), '127.0.0.1');
    assert.equal(tcpLocalHost(['*']), '127.0.0.1');
    assert.equal(tcpLocalHost(['10.0.1.21']), '10.0.1.21');
    assert.equal(tcpLocalHost(['::']), '::1');
    assert.equal(tcpLocalHost(['fd00::5', '10.0.0.1']), 'fd00::5');
    assert.equal(unixSocketHost("'/run/pg', /tmp"), '/run/pg');
    assert.equal(unixSocketHost('@abstract'), '/var/run/postgresql');
    assert.equal(unixSocketHost(undefined), '/var/run/postgresql');
});
const LOG = `2026-12-01 10:00:00.000 UTC [100] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1
2026-12-01 10:01:00.000 UTC [100] FATAL:  could not receive data from WAL stream: server closed the connection unexpectedly
2026-12-01 10:01:05.000 UTC [101] FATAL:  could not connect to the primary server: connection to server at "198.18.2.1", port 5432 failed: FATAL:  password authentication failed for user "replicator"
`;
test("the WAL receiver's last error is read from the server log, innermost cause first", () => {
    assert.equal(lastReceiverError(LOG), 'password authentication failed for user "replicator"');
    const diverged = `${LOG}2026-12-01 10:02:00.000 UTC [102] FATAL:  could not start WAL streaming: ERROR:  requested starting point 0/5000000 on timeline 1 is not in this server's history\n`;
    assert.equal(lastReceiverError(diverged), "requested starting point 0/5000000 on timeline 1 is not in this server's history");
    const healed = `${LOG}2026-12-01 10:03:00.000 UTC [103] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1\n`;
    assert.equal(lastReceiverError(healed), null, 'an error before the receiver streamed again is history');
    assert.equal(lastReceiverError(''), null);
});
//# sourceMappingURL=credentials.test.js.map