/**
 * The sandbox's etcd launcher and port picker: distinct free ports, PID files, a member that can
 * be stopped and started again on its data, every process gone after stop(), and a start failure
 * (port already taken) reported with the tail of etcd's log instead of a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts } from '../../../src/sandbox/ports.js';
import { isAlive, startEtcdCluster } from '../../../src/sandbox/etcd-cluster.js';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';
test('freePorts returns distinct ports, never the same port twice across calls', async () => {
    const first = await freePorts(20);
    const second = await freePorts(20);
    const single = await freePort();
    const all = [...first, ...second, single];
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.every((port) => port > 0 && port < 65536));
});
test('a 3-member cluster starts healthy, survives a member restart, and stop() leaves nothing running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-etcd-cluster-'));
    const cluster = await startEtcdCluster({ dir, size: 3, namePrefix: 'm' });
    const client = new EtcdClient({ endpoints: cluster.endpoints, requestTimeoutMs: 5_000 });
    try {
        assert.deepEqual(cluster.members.map((m) => m.name), ['m1', 'm2', 'm3']);
        for (const member of cluster.members) {
            assert.equal((await readFile(member.pidFile, 'utf8')).trim(), String(member.pid));
            assert.ok(isAlive(member.pid));
        }
        await client.put('/k', 'v1');
        const oldPid = cluster.members[1]?.pid ?? 0;
        await cluster.stopMember(1);
        assert.equal(isAlive(oldPid), false);
        await client.put('/k', 'v2');
        await cluster.startMember(1);
        assert.notEqual(cluster.members[1]?.pid, oldPid);
        const onRestarted = new EtcdClient({ endpoints: [cluster.endpoints[1] ?? { host: '', port: 0 }], requestTimeoutMs: 5_000 });
        try {
            assert.equal((await onRestarted.range('/k')).kvs[0]?.value, 'v2', 'the restarted member caught up');
        }
        finally {
            onRestarted.close();
        }
    }
    finally {
        client.close();
        const pids = cluster.members.map((m) => m.pid);
        await cluster.stop();
        assert.ok(pids.every((pid) => !isAlive(pid)));
        await rm(dir, { recursive: true, force: true });
    }
});
test('a member that cannot start fails fast with the end of its log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-etcd-busy-'));
    const busy = createServer((socket) => socket.destroy()); // holds the port, answers nothing
    await new Promise((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const address = busy.address();
    assert.ok(address !== null && typeof address !== 'string');
    try {
        const started = performance.now();
        await assert.rejects(startEtcdCluster({ dir, size: 1, clientPorts: [address.port], startTimeoutMs: 20_000 }), (error) => {
            assert.ok(error instanceof Error);
            assert.match(error.message, /exited while starting/);
            assert.match(error.message, /address already in use/);
            return true;
        });
        assert.ok(performance.now() - started < 15_000, 'did not wait for the whole start timeout');
    }
    finally {
        await new Promise((resolve) => busy.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
    }
});
//# sourceMappingURL=etcd-cluster.test.js.map