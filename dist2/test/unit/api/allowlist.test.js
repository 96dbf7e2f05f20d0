/**
 * restapi.allowlist / allowlist_include_members (Patroni's check_access): unsafe requests from
 * outside the list get 403 "Access is denied" before authentication is even looked at; GET stays
 * open; member hosts count with allowlist_include_members.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Allowlist, unmapIpv4 } from '../../../src/api/allowlist.js';
import { startApiServer } from '../../../src/api/server.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/log.js';
import { baseStatus } from './fixtures.js';
const resolveFake = async (host) => {
    if (host === 'app.example')
        return ['192.0.2.7', '2001:db8::7'];
    if (host === 'node2')
        return ['127.0.0.1'];
    throw new Error('getaddrinfo ENOTFOUND');
};
test('addresses, CIDR networks and host names; IPv4-mapped IPv6 clients match their IPv4 form', async () => {
    const list = await Allowlist.build({ entries: ['10.0.1.0/24', '127.0.0.1', 'app.example', 'fd00::/8'], includeMembers: false }, resolveFake);
    const members = () => [];
    assert.equal(await list.allows('10.0.1.200', members), true);
    assert.equal(await list.allows('10.0.2.1', members), false);
    assert.equal(await list.allows('::ffff:127.0.0.1', members), true);
    assert.equal(await list.allows('192.0.2.7', members), true);
    assert.equal(await list.allows('2001:db8::7', members), true);
    assert.equal(await list.allows('fd12::1', members), true);
    assert.equal(await list.allows('2001:db8::8', members), false);
    assert.equal(unmapIpv4('::ffff:10.1.2.3'), '10.1.2.3');
});
test('members count only with allowlist_include_members; an unresolvable member host allows nobody', async () => {
    const without = await Allowlist.build({ entries: ['10.0.0.0/8'], includeMembers: false }, resolveFake);
    assert.equal(await without.allows('127.0.0.1', () => ['node2']), false);
    const withMembers = await Allowlist.build({ entries: [], includeMembers: true }, resolveFake);
    assert.equal(await withMembers.allows('127.0.0.1', () => ['nowhere', 'node2']), true);
    assert.equal(await withMembers.allows('127.0.0.2', () => ['nowhere', 'node2', '198.51.100.4']), false);
    assert.equal(await withMembers.allows('198.51.100.4', () => ['198.51.100.4']), true);
});
test('an invalid network or an unknown host name is a configuration error naming the entry', async () => {
    await assert.rejects(Allowlist.build({ entries: ['10.0.0.0/33'], includeMembers: false }, resolveFake), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^restapi\.allowlist: "10\.0\.0\.0\/33" is not/);
        return true;
    });
    await assert.rejects(Allowlist.build({ entries: ['nowhere'], includeMembers: false }, resolveFake), /restapi\.allowlist: cannot resolve "nowhere"/);
    assert.equal(Allowlist.wanted({ entries: [], includeMembers: false }), false);
    assert.equal(Allowlist.wanted({ entries: [], includeMembers: true }), true);
});
// A server whose allowlist does not contain 127.0.0.1, the address this test connects from.
let memberHosts = [];
let reloads = 0;
const provider = {
    getStatus: () => baseStatus('primary'),
    getClusterJson: async () => ({ members: [] }),
    getHistory: async () => [],
    getConfig: async () => ({}),
    memberHosts: () => memberHosts,
    postReload: async () => {
        reloads++;
        return { code: 202, text: 'reload scheduled' };
    },
};
const server = await startApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    auth: { username: 'keel', password: 's3cret' },
    allowlist: await Allowlist.build({ entries: ['10.0.0.0/8'], includeMembers: true }, resolveFake),
    provider,
    log: createLogger({ level: 'error', format: 'text', write: () => undefined }),
});
after(() => server.close());
function call(method, path, authorized) {
    const headers = authorized ? { Authorization: `Basic ${Buffer.from('keel:s3cret').toString('base64')}` } : {};
    return new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end();
    });
}
test('outside the allowlist: 403 before authentication, nothing done; GET stays open', async () => {
    memberHosts = ['10.9.9.9'];
    assert.deepEqual(await call('POST', '/reload', true), { code: 403, body: 'Access is denied' });
    assert.deepEqual(await call('POST', '/reload', false), { code: 403, body: 'Access is denied' });
    assert.equal(reloads, 0);
    assert.equal((await call('GET', '/patroni', false)).code, 200);
});
test('a member host is allowed with allowlist_include_members, and still needs the credentials', async () => {
    memberHosts = ['node2']; // resolves to 127.0.0.1
    assert.equal((await call('POST', '/reload', false)).code, 401);
    assert.equal(reloads, 0);
    assert.equal((await call('POST', '/reload', true)).code, 202);
    assert.equal(reloads, 1);
});
//# sourceMappingURL=allowlist.test.js.map