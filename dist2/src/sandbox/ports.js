/**
 * Free TCP ports for local clusters (tests, `keel sandbox`, benchmarks).
 *
 * A port is found by binding port 0 and reading what the kernel picked. All ports of one
 * `freePorts` call are held open until every one is picked, so one call never returns the same
 * port twice; ports handed out earlier by this process are skipped too, so consecutive calls do
 * not collide either. There is still a window between closing the probe socket and the real
 * server binding the port, in which another process could take it: callers start their servers
 * promptly.
 */
import { createServer } from 'node:net';
/** Upper bound on probe binds per requested port before giving up (ports reused by the kernel). */
const MAX_PROBES_PER_PORT = 20;
/** Ports this process has already handed out (never handed out twice). */
const handedOut = new Set();
function listenOnFreePort(host) {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.once('error', reject);
        server.listen({ host, port: 0, exclusive: true }, () => {
            const address = server.address();
            if (address === null || typeof address === 'string') {
                server.close();
                reject(new Error(`cannot read the port bound on ${host}`));
                return;
            }
            resolve({ server, port: address.port });
        });
    });
}
function closeAll(servers) {
    return Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve())))).then(() => undefined);
}
/** `n` distinct free TCP ports on `host`. */
export async function freePorts(n, host = '127.0.0.1') {
    if (!Number.isInteger(n) || n < 0)
        throw new RangeError(`freePorts: n must be a non-negative integer, got ${n}`);
    const held = [];
    const ports = [];
    try {
        let probes = 0;
        while (ports.length < n) {
            if (probes++ > MAX_PROBES_PER_PORT * (n + 1))
                throw new Error(`cannot find ${n} free ports on ${host}`);
            const { server, port } = await listenOnFreePort(host);
            held.push(server);
            if (handedOut.has(port))
                continue;
            ports.push(port);
        }
    }
    finally {
        await closeAll(held);
    }
    for (const port of ports)
        handedOut.add(port);
    return ports;
}
/** One free TCP port on `host`. */
export async function freePort(host = '127.0.0.1') {
    const [port] = await freePorts(1, host);
    if (port === undefined)
        throw new Error(`cannot find a free port on ${host}`);
    return port;
}
//# sourceMappingURL=ports.js.map