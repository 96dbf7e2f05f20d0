/**
 * Endpoint fail-over against a real 3-member etcd: with one member stopped (or one endpoint that
 * accepts connections but never answers) every call still succeeds through another endpoint and
 * the watch resumes without losing changes; with every member stopped, calls fail with
 * DcsUnavailableError within their deadline.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { DcsUnavailableError } from '../../../src/dcs/types.js';
import { freshScope, startFixture, waitFor } from './etcd-fixture.js';
let fixture;
before(async () => {
    fixture = await startFixture(3, 'fo');
});
after(async () => {
    await fixture?.teardown();
});
test('an endpoint that accepts but never answers is skipped after its share of the deadline', async () => {
    const sockets = [];
    const hole = createServer((socket) => sockets.push(socket));
    await new Promise((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const address = hole.address();
    assert.ok(address !== null && typeof address !== 'string');
    try {
        const dcs = fixture.dcs('n1', {
            scope: freshScope('hole'),
            retryTimeoutMs: 3_000,
            endpoints: [{ host: '127.0.0.1', port: address.port }, ...fixture.cluster.endpoints],
        });
        const started = performance.now();
        await dcs.loadCluster();
        const firstMs = performance.now() - started;
        assert.ok(firstMs < 3_000, `took ${Math.round(firstMs)} ms`);
        const again = performance.now();
        await dcs.setConfig({ ttl: 30 }, null);
        assert.ok(performance.now() - again < 500, 'the answering endpoint is tried first afterwards');
    }
    finally {
        for (const socket of sockets)
            socket.destroy();
        await new Promise((resolve) => hole.close(() => resolve()));
    }
});
test('with one member stopped, calls and the watch go on through the others', async () => {
    const scope = freshScope('one-down');
    const agent = fixture.dcs('n1', { scope, ttlS: 10, retryTimeoutMs: 5_000 });
    const writer = fixture.dcs('n2', { scope, retryTimeoutMs: 5_000, endpoints: [...fixture.cluster.endpoints].reverse() });
    const view = await agent.loadCluster();
    const events = [];
    const controller = new AbortController();
    try {
        agent.watch(view.revision, (event) => events.push(event), controller.signal);
        await writer.setConfig({ ttl: 30 }, null);
        await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(agent.keys.config)), 5_000, 'the first watch event');
        await fixture.cluster.stopMember(0); // the endpoint agent uses first, and its watch's
        const started = performance.now();
        assert.equal(await agent.refreshLease(), true);
        assert.equal(await agent.attemptToAcquireLeader(), true);
        await agent.touchMember({
            connUrl: 'postgres://127.0.0.1:5432/postgres',
            apiUrl: 'http://127.0.0.1:8008/patroni',
            state: 'running',
            role: 'master',
            version: '3.0.2',
            tags: {},
        });
        const loaded = await agent.loadCluster();
        assert.equal(loaded.leader?.name, 'n1');
        assert.ok(performance.now() - started < 5_000);
        await writer.writeStatus({ optime: 42, slots: {} });
        await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(agent.keys.status)), 10_000, 'a watch event after the member stopped');
        assert.ok(!events.some((e) => e.kind === 'reset'), 'resuming on another member needs no reset');
    }
    finally {
        controller.abort();
        await fixture.cluster.startMember(0);
    }
});
test('with every member stopped, calls throw DcsUnavailableError within the deadline', async () => {
    const dcs = fixture.dcs('n1', { scope: freshScope('all-down'), retryTimeoutMs: 2_000 });
    await dcs.loadCluster();
    for (let i = fixture.cluster.members.length - 1; i >= 0; i--)
        await fixture.cluster.stopMember(i);
    for (const call of [() => dcs.loadCluster(), () => dcs.refreshLease(), () => dcs.attemptToAcquireLeader()]) {
        const started = performance.now();
        await assert.rejects(call(), (error) => {
            assert.ok(error instanceof DcsUnavailableError, String(error));
            return true;
        });
        const elapsedMs = performance.now() - started;
        assert.ok(elapsedMs <= 2_000 + 300, `gave up after ${Math.round(elapsedMs)} ms, deadline 2000 ms`);
        assert.ok(elapsedMs >= 1_500, `gave up too early (${Math.round(elapsedMs)} ms): it should keep trying until the deadline`);
    }
});
//# sourceMappingURL=etcd-failover.test.js.map