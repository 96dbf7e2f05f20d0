/**
 * Self-test of the network-namespace lab (test/support/netns-lab.ts) that host-level tests build
 * on: names carry the lab id; spawn() gives the command's own PID and can drop to the postgres
 * user; every host reaches every other on both networks; the test process reaches the client
 * network and never the cluster network; a partition of one leg cuts exactly that network and
 * heals; etcd runs as one cluster across the hosts; and close() leaves no namespace, interface
 * or process behind. Needs root (ip netns); two copies may run side by side.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../../src/sandbox/etcd-cluster.js';
import { eventually } from '../../support/sandbox.js';
import { startLab } from '../../support/netns-lab.js';
import { startEtcdOnLab } from '../../support/netns-etcd.js';
const PROBE_PORT = 7000;
/**
 * Every probe listener greets with a banner naming its host, and a probe only counts when it
 * reads the banner it expects: here the root namespace's default route leads to an egress proxy
 * that accepts any TCP connection, so a bare connect proves nothing.
 */
const listenerJs = (banner) => `require('node:net').createServer((socket) => socket.end('${banner}\\n')).listen(${PROBE_PORT}, '0.0.0.0')`;
const PROBE_TIMEOUT_MS = 5_000;
const ETCDCTL_ENV = { ETCDCTL_API: '3' };
describe('netns lab with 3 hosts', () => {
    let dir = '';
    let lab;
    let rootListener;
    const spawnedPids = [];
    const theLab = () => {
        assert.ok(lab !== undefined, 'the lab did not start');
        return lab;
    };
    const host = (index) => {
        const found = theLab().hosts[index];
        assert.ok(found !== undefined);
        return found;
    };
    /** Whether `from` reads `banner` from a listener at address:port (bash's /dev/tcp). */
    const reaches = async (from, address, banner, port = PROBE_PORT) => {
        const script = `exec 3<>/dev/tcp/${address}/${port} && read -r -t 3 line <&3 && [ "$line" = '${banner}' ]`;
        const result = await theLab().exec(from, 'bash', ['-c', script], { timeoutMs: PROBE_TIMEOUT_MS });
        return result.code === 0;
    };
    const etcdctl = (h, args) => etcdctlIn(theLab(), h, args);
    before(async () => {
        dir = await mkdtemp(join(tmpdir(), 'keel-lab-'));
        lab = await startLab({ hosts: 3, dir });
        for (const h of lab.hosts) {
            spawnedPids.push(await lab.spawn(h, process.execPath, ['-e', listenerJs(h.name)], { logFile: join(dir, `${h.name}-listener.log`) }));
        }
        for (const h of lab.hosts)
            await eventually(`probe listener on ${h.name}`, 15_000, async () => ((await reaches(h, '127.0.0.1', h.name)) ? true : undefined));
    });
    after(async () => {
        rootListener?.close();
        try {
            await lab?.close();
        }
        finally {
            await rm(dir, { recursive: true, force: true });
        }
    });
    it('names every namespace and interface after the lab id, within 15 characters', () => {
        const { id, hosts } = theLab();
        assert.match(id, /^[0-9a-f]{4}$/);
        assert.deepEqual(hosts.map((h) => h.netns), [1, 2, 3].map((i) => `keel-${id}-h${i}`));
        assert.deepEqual(labLinks(id), [`k${id}-root`]);
        assert.deepEqual(linkNames(host(0).netns).sort(), ['lo', `k${id}-h1cl`, `k${id}-h1cli`].sort());
        const switchLinks = linkNames(`keel-${id}-sw`).filter((name) => name !== 'lo');
        assert.equal(switchLinks.length, 2 + 2 * 3 + 1, switchLinks.join(' ')); // bridges, host legs, root leg
        for (const name of switchLinks)
            assert.ok(name.startsWith(`k${id}-`) && name.length <= 15, name);
    });
    it('spawn returns the PID of the command itself, which can run as the postgres user', async () => {
        const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
        const postgresGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
        const pid = await theLab().spawn(host(0), 'sleep', ['600'], { logFile: join(dir, 'sleep.log'), uid: postgresUid, gid: postgresGid });
        spawnedPids.push(pid);
        const status = await eventually('sleep running', 10_000, async () => {
            const text = await readFile(`/proc/${pid}/status`, 'utf8');
            return /^Name:\s+sleep$/m.test(text) ? text : undefined;
        });
        assert.match(status, new RegExp(`^Uid:\\s+${postgresUid}\\s`, 'm'));
        assert.match(status, new RegExp(`^Gid:\\s+${postgresGid}\\s`, 'm'));
    });
    it('each host reaches every other host on the cluster and the client network', async () => {
        for (const from of theLab().hosts) {
            for (const to of theLab().hosts.filter((h) => h !== from)) {
                assert.ok(await reaches(from, to.clusterAddress, to.name), `${from.name} -> ${to.name} cluster ${to.clusterAddress}`);
                assert.ok(await reaches(from, to.clientAddress, to.name), `${from.name} -> ${to.name} client ${to.clientAddress}`);
            }
        }
    });
    it('the root namespace reaches client addresses but not cluster addresses, and hosts reach it', async () => {
        const hosts = theLab().hosts;
        const toClient = await Promise.all(hosts.map((h) => reachesFromRoot(h.clientAddress, h.name)));
        const toCluster = await Promise.all(hosts.map((h) => reachesFromRoot(h.clusterAddress, h.name)));
        assert.deepEqual(toClient, [true, true, true]);
        assert.deepEqual(toCluster, [false, false, false]);
        rootListener = await listen(theLab().rootClientAddress, 'root');
        assert.ok(await reaches(host(1), theLab().rootClientAddress, 'root', serverPort(rootListener)));
    });
    it('setLink cuts one host from the cluster network only, and heals it', async () => {
        const [h1, h2] = [host(0), host(1)];
        await theLab().setLink(h1, 'cluster', false);
        try {
            assert.equal(await reaches(h1, h2.clusterAddress, h2.name), false, 'h1 -> h2 over a cut cluster leg');
            assert.equal(await reaches(h2, h1.clusterAddress, h1.name), false, 'h2 -> h1 over a cut cluster leg');
            assert.ok(await reaches(h1, h2.clientAddress, h2.name), 'h1 -> h2 client while the cluster leg is cut');
            assert.ok(await reachesFromRoot(h1.clientAddress, h1.name), 'root -> h1 client while the cluster leg is cut');
        }
        finally {
            await theLab().setLink(h1, 'cluster', true);
        }
        await eventually('h1 -> h2 cluster after healing', 15_000, async () => ((await reaches(h1, h2.clusterAddress, h2.name)) ? true : undefined));
    });
    it('runs one etcd cluster across the hosts: a put on h1 is read on h3, also after a member restart', async () => {
        const etcd = await startEtcdOnLab(theLab(), { dir: join(dir, 'etcd') });
        spawnedPids.push(...etcd.pids);
        const [h1, h2, h3] = [host(0), host(1), host(2)];
        assert.deepEqual(etcd.endpointsFor(h2), [h2, h1, h3].map((h) => `${h.clusterAddress}:2379`));
        const health = (await etcdctl(h2, ['--endpoints', etcd.endpointsFor(h2).join(','), 'endpoint', 'health'])).stderr;
        assert.equal(health.match(/is healthy/g)?.length, 3, health);
        assert.equal((await etcdctl(h1, ['put', '/lab/key', 'v1'])).stdout.trim(), 'OK');
        assert.equal((await etcdctl(h3, ['get', '/lab/key', '--print-value-only'])).stdout.trim(), 'v1');
        await etcd.stopMember(2);
        assert.equal(etcd.pids[2], 0);
        assert.equal((await etcdctl(h1, ['put', '/lab/key', 'v2'])).stdout.trim(), 'OK');
        await etcd.startMember(2);
        spawnedPids.push(etcd.pids[2] ?? 0);
        assert.equal((await etcdctl(h3, ['get', '/lab/key', '--print-value-only'])).stdout.trim(), 'v2');
    });
    it('close() removes every namespace and interface of the lab and stops every process', async () => {
        const { id } = theLab();
        await theLab().close();
        await theLab().close(); // idempotent
        const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
        assert.equal(namespaces.split('\n').filter((line) => line.startsWith(`keel-${id}-`)).length, 0, namespaces);
        assert.deepEqual(labLinks(id), []);
        assert.deepEqual(spawnedPids.filter(isAlive), []);
        assert.equal(existsSync(`/run/keel-labs/${id}.json`), false);
    });
});
/** Interface names in a namespace (null: the root namespace). */
function linkNames(netns) {
    const text = execFileSync('ip', [...(netns === null ? [] : ['-n', netns]), '-o', 'link'], { encoding: 'utf8' });
    return [...text.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1] ?? '');
}
/** Interfaces in the root namespace whose name carries the lab id. */
function labLinks(id) {
    return linkNames(null).filter((name) => name.startsWith(`k${id}-`));
}
/** Whether the test process itself reads `banner` from the probe listener at `address`. */
function reachesFromRoot(address, banner) {
    return new Promise((resolve) => {
        const socket = connect({ host: address, port: PROBE_PORT, timeout: PROBE_TIMEOUT_MS });
        let received = '';
        const finish = (reached) => {
            socket.destroy();
            resolve(reached);
        };
        socket.on('data', (chunk) => {
            received += chunk.toString();
            if (received.includes('\n'))
                finish(received === `${banner}\n`);
        });
        socket.once('end', () => finish(false));
        socket.once('timeout', () => finish(false));
        socket.once('error', () => finish(false));
    });
}
function listen(address, banner) {
    return new Promise((resolve, reject) => {
        const server = createServer((socket) => socket.end(`${banner}\n`));
        server.once('error', reject);
        server.listen(0, address, () => resolve(server));
    });
}
function serverPort(server) {
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return address.port;
}
/** etcdctl (v3 API) inside a host against its own member unless `args` names endpoints; fails the test on a non-zero exit. */
async function etcdctlIn(lab, host, args) {
    const endpoints = args.includes('--endpoints') ? [] : ['--endpoints', '127.0.0.1:2379'];
    const result = await lab.exec(host, 'etcdctl', [...endpoints, '--command-timeout=10s', ...args], { env: ETCDCTL_ENV, timeoutMs: 20_000 });
    assert.equal(result.code, 0, `etcdctl ${args.join(' ')} on ${host.name}: ${result.stderr}`);
    return result;
}
//# sourceMappingURL=lab.test.js.map