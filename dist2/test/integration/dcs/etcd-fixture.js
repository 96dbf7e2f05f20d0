/**
 * Shared set-up for the DCS integration tests: a real etcd (1 or 3 members) on free loopback
 * ports in a temporary directory, and EtcdDcs clients pointed at it. Callers stop it in after().
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcdCluster } from '../../../src/sandbox/etcd-cluster.js';
import { EtcdDcs } from '../../../src/dcs/etcd-dcs.js';
let scopeCounter = 0;
/** A unique scope per call so tests sharing one etcd never see each other's keys. */
export function freshScope(label) {
    scopeCounter += 1;
    return `${label}-${process.pid}-${scopeCounter}`;
}
export async function startFixture(size, label, extraArgs = []) {
    const dir = await mkdtemp(join(tmpdir(), `keel-dcs-${label}-`));
    const cluster = await startEtcdCluster({ dir, size, namePrefix: `${label}-`, extraArgs });
    const clients = [];
    return {
        cluster,
        dir,
        dcs(name, options = {}) {
            const { endpoints, ...rest } = options;
            const dcs = new EtcdDcs({
                etcd: { endpoints: endpoints ?? cluster.endpoints, protocol: 'http' },
                namespace: '/service/',
                scope: 'test',
                name,
                retryTimeoutMs: 5_000,
                ...rest,
            });
            clients.push(dcs);
            return dcs;
        },
        async teardown() {
            await Promise.all(clients.map((client) => client.close()));
            await cluster.stop();
            await rm(dir, { recursive: true, force: true });
        },
    };
}
/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check, timeoutMs, what) {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
        if (await check())
            return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
//# sourceMappingURL=etcd-fixture.js.map