/**
 * etcd authentication: with a username and password EtcdDcs obtains a token, uses it for unary
 * calls and the watch, renews it when etcd drops it (token TTL of 1 s here), and a wrong password
 * is reported as an EtcdError of kind auth_failed rather than as an unreachable etcd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EtcdError } from '../../../src/engine/etcd/etcd-errors.js';
import { freshScope, startFixture, waitFor } from './etcd-fixture.js';
const run = promisify(execFile);
let fixture;
async function etcdctl(...args) {
    const endpoints = fixture.cluster.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
    await run('etcdctl', [`--endpoints=${endpoints}`, ...args], { timeout: 20_000, env: { ...process.env, ETCDCTL_API: '3' } });
}
before(async () => {
    fixture = await startFixture(1, 'auth', ['--auth-token-ttl=1']);
    await etcdctl('user', 'add', 'root:rootpw');
    await etcdctl('user', 'add', 'keel:keelpw');
    await etcdctl('role', 'add', 'keel');
    await etcdctl('role', 'grant-permission', 'keel', '--prefix=true', 'readwrite', '/service/');
    await etcdctl('user', 'grant-role', 'keel', 'keel');
    await etcdctl('auth', 'enable');
});
after(async () => {
    await fixture?.teardown();
});
function authed(name, password, scope) {
    return fixture.dcs(name, { scope, etcd: { endpoints: fixture.cluster.endpoints, protocol: 'http', username: 'keel', password } });
}
test('with credentials every call works, also after the token expired', async () => {
    const scope = freshScope('auth');
    const dcs = authed('n1', 'keelpw', scope);
    const watcher = authed('n2', 'keelpw', scope);
    const view = await watcher.loadCluster();
    const events = [];
    const controller = new AbortController();
    try {
        watcher.watch(view.revision, (event) => events.push(event), controller.signal);
        assert.equal(await dcs.attemptToAcquireLeader(), true);
        await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader)), 5_000, 'a watch event with auth');
        await new Promise((resolve) => setTimeout(resolve, 2_500)); // simple tokens expire after --auth-token-ttl
        assert.equal(await dcs.refreshLease(), true);
        assert.equal(await dcs.updateLeader(), true);
        assert.equal((await dcs.loadCluster()).leader?.name, 'n1');
    }
    finally {
        controller.abort();
    }
});
test('a wrong password is an auth_failed EtcdError, not an unreachable etcd', async () => {
    const dcs = authed('n1', 'wrong', freshScope('auth-bad'));
    await assert.rejects(dcs.loadCluster(), (error) => error instanceof EtcdError && error.kind === 'auth_failed');
});
test('without credentials etcd refuses and the error says why', async () => {
    const dcs = fixture.dcs('n1', { scope: freshScope('auth-none') });
    await assert.rejects(dcs.loadCluster(), (error) => error instanceof EtcdError && error.kind === 'user_empty');
});
//# sourceMappingURL=etcd-auth.test.js.map