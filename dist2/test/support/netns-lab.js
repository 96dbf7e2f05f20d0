/**
 * Test support: a lab of N "hosts" on this one machine, built from Linux network namespaces, so
 * tests run real processes on real addresses and cut real links (DESIGN.md §4).
 *
 * Topology of a lab with id <id> (4 hex digits) and network number <c> (even, 2..250):
 *
 *   keel-<id>-h1 .. keel-<id>-hN  one namespace per host: `lo` up, one veth leg per network
 *   keel-<id>-sw                  the "switch": bridge k<id>-brcl (cluster), k<id>-brcli (client)
 *   cluster network  198.18.<c>.0/24,   host i = .i  etcd peers, replication, REST between members
 *   client network   198.18.<c+1>.0/24, host i = .i  where applications connect
 *   root namespace   one leg k<id>-root = 198.18.<c+1>.254/24 on the client bridge
 *
 * Invariants:
 * - The test process (root namespace) reaches every host's client address and nothing on the
 *   cluster network: it has no leg there, and hosts have no route beyond their two /24s (so they
 *   reach the root namespace only at its client-network address). The root leg and its connected
 *   route are the only change made to the root namespace. Beware: the root namespace's default
 *   route may lead to an egress proxy that accepts every TCP connect (it does on this machine),
 *   so "unreachable" shows as a connection that never answers, not as a refusal.
 * - Every name a lab creates starts with `keel-<id>-` (namespaces) or `k<id>-` (interfaces, at
 *   most 15 characters). Teardown deletes only names carrying its own id.
 * - Ids and networks are reserved by exclusive file creation in /run/keel-labs (a tmpfs: it lives
 *   exactly as long as the namespaces do), so labs in concurrent processes never collide. The
 *   record <id>.json names the owning process (PID + start time); `sweepStaleLabs` tears down
 *   labs whose owner is gone, and `startLab` calls it first. Unrecorded names are never touched.
 * - `close()` stops every process inside the lab's namespaces (spawned ones by process group, last
 *   started first, then anything else found there, e.g. a daemon forked by pg_ctl), then deletes
 *   the root leg and the namespaces (bridges and legs go with them). A process 'exit', SIGINT or
 *   SIGTERM does the same synchronously (SIGKILL, best effort) for every lab still open.
 * - A partition (`setLink`) takes the host's port on the switch down, like a pulled cable: the
 *   host keeps its address and route, and both sides see timeouts, never refusals.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
const RECORD_DIR = '/run/keel-labs';
const NETWORKS = ['cluster', 'client'];
const NETWORK_TAG = { cluster: 'cl', client: 'cli' };
const MAX_HOSTS = 32;
const IFNAME_MAX_CHARS = 15;
const ROOT_HOST_OCTET = 254;
const NETWORK_CHOICES = 125; // <c> in 2, 4, ..., 250
const MAX_ID_ATTEMPTS = 16;
const IP_TIMEOUT_MS = 10_000;
const IP_SYNC_TIMEOUT_MS = 2_000;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 10_000;
const POLL_MS = 50;
export async function startLab(options) {
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > MAX_HOSTS) {
        throw new RangeError(`a lab has 1 to ${MAX_HOSTS} hosts, got ${options.hosts}`);
    }
    const dir = resolve(options.dir);
    await mkdir(dir, { recursive: true });
    await sweepStaleLabs();
    const id = await reserveId(dir);
    const owned = { id, namespaces: [], rootLinks: [linkName(id, 'root')], leaders: new Map() };
    register(owned);
    try {
        const network = await reserveNetwork(id);
        const hosts = Array.from({ length: options.hosts }, (_, i) => makeHost(id, network, i + 1));
        owned.namespaces = [namespaceName(id, 'sw'), ...hosts.map((host) => host.netns)];
        await buildTopology(id, network, hosts);
        return labApi(owned, dir, network, hosts);
    }
    catch (error) {
        await teardown(owned).catch(() => undefined);
        throw error;
    }
}
function labApi(owned, dir, network, hosts) {
    let closing = null;
    return {
        id: owned.id,
        dir,
        hosts,
        clusterSubnet: `198.18.${network}.0/24`,
        clientSubnet: `198.18.${network + 1}.0/24`,
        rootClientAddress: `198.18.${network + 1}.${ROOT_HOST_OCTET}`,
        spawn: async (host, command, args, options) => {
            const pid = await spawnIn(host.netns, command, args, options);
            owned.leaders.set(pid, startTicks(pid) ?? 'gone');
            return pid;
        },
        exec: (host, command, args, options = {}) => execIn(host.netns, command, args, options),
        setLink: async (host, net, up) => {
            await ip(['-n', namespaceName(owned.id, 'sw'), 'link', 'set', switchLegName(owned.id, host.name, net), up ? 'up' : 'down']);
        },
        close: () => (closing ??= teardown(owned).catch((error) => {
            closing = null; // a failed teardown is tried again by the next close()
            throw error;
        })),
    };
}
// ---- names ----
function namespaceName(id, node) {
    return `keel-${id}-${node}`;
}
function linkName(id, suffix) {
    const name = `k${id}-${suffix}`;
    if (name.length > IFNAME_MAX_CHARS)
        throw new RangeError(`interface name ${name} is longer than ${IFNAME_MAX_CHARS} characters`);
    return name;
}
const bridgeName = (id, net) => linkName(id, `br${NETWORK_TAG[net]}`);
const hostLegName = (id, host, net) => linkName(id, `${host}${NETWORK_TAG[net]}`);
const switchLegName = (id, host, net) => linkName(id, `s${host}${NETWORK_TAG[net]}`);
function makeHost(id, network, index) {
    const name = `h${index}`;
    return { name, netns: namespaceName(id, name), clusterAddress: `198.18.${network}.${index}`, clientAddress: `198.18.${network + 1}.${index}` };
}
// ---- building ----
async function buildTopology(id, network, hosts) {
    const switchNs = namespaceName(id, 'sw');
    await ip(['netns', 'add', switchNs]);
    for (const net of NETWORKS) {
        // No STP: a port forwards as soon as it is up, so a healed partition heals at once.
        await ip(['-n', switchNs, 'link', 'add', bridgeName(id, net), 'type', 'bridge', 'stp_state', '0']);
        await ip(['-n', switchNs, 'link', 'set', bridgeName(id, net), 'up']);
    }
    for (const host of hosts) {
        await ip(['netns', 'add', host.netns]);
        await ip(['-n', host.netns, 'link', 'set', 'lo', 'up']);
        for (const net of NETWORKS) {
            const address = net === 'cluster' ? host.clusterAddress : host.clientAddress;
            await addLeg(id, host.netns, hostLegName(id, host.name, net), switchLegName(id, host.name, net), net, `${address}/24`);
        }
    }
    await addLeg(id, null, linkName(id, 'root'), linkName(id, 'sroot'), 'client', `198.18.${network + 1}.${ROOT_HOST_OCTET}/24`);
}
/** A veth pair from `netns` (null: the root namespace) into one network's bridge, addressed and up. */
async function addLeg(id, netns, leg, switchLeg, net, cidr) {
    const switchNs = namespaceName(id, 'sw');
    const inNs = netns === null ? [] : ['-n', netns];
    await ip(['link', 'add', leg, ...(netns === null ? [] : ['netns', netns]), 'type', 'veth', 'peer', 'name', switchLeg, 'netns', switchNs]);
    await ip(['-n', switchNs, 'link', 'set', switchLeg, 'master', bridgeName(id, net), 'up']);
    await ip([...inNs, 'addr', 'add', cidr, 'dev', leg]);
    await ip([...inNs, 'link', 'set', leg, 'up']);
}
// ---- reservations in /run/keel-labs ----
const recordPath = (id) => join(RECORD_DIR, `${id}.json`);
const networkLockPath = (network) => join(RECORD_DIR, `net-${network}.lock`);
async function reserveId(dir) {
    await mkdir(RECORD_DIR, { recursive: true });
    const namespaces = await listNamespaces();
    const links = await listRootLinks();
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
        const id = randomBytes(2).toString('hex');
        const taken = namespaces.some((n) => n.startsWith(`keel-${id}-`)) || links.some((l) => l.startsWith(`k${id}-`));
        const record = { id, ownerPid: process.pid, ownerStartTicks: startTicks(process.pid) ?? '', dir };
        if (!taken && (await createExclusive(recordPath(id), JSON.stringify(record))))
            return id;
    }
    throw new Error(`no free lab id after ${MAX_ID_ATTEMPTS} attempts (see ${RECORD_DIR})`);
}
/** Picks <c>: neither 198.18.<c>.0/24 nor 198.18.<c+1>.0/24 is on any interface or lab lock. */
async function reserveNetwork(id) {
    const used = await usedThirdOctets();
    const offset = randomInt(NETWORK_CHOICES);
    for (let k = 0; k < NETWORK_CHOICES; k++) {
        const network = 2 + 2 * ((offset + k) % NETWORK_CHOICES);
        if (used.has(network) || used.has(network + 1))
            continue;
        if (await createExclusive(networkLockPath(network), id))
            return network;
    }
    throw new Error(`no free pair of 198.18.<c>.0/24 networks (addresses in use: ${[...used].join(', ')}; locks in ${RECORD_DIR})`);
}
async function usedThirdOctets() {
    const listings = [await ip(['-4', '-o', 'addr'])];
    for (const netns of (await listNamespaces()).filter((n) => n.startsWith('keel-'))) {
        // A namespace deleted by a concurrent teardown since the listing holds no address any more.
        listings.push(await ip(['-n', netns, '-4', '-o', 'addr']).catch(() => ''));
    }
    const octets = listings.flatMap((text) => [...text.matchAll(/inet 198\.18\.(\d+)\./g)].map((m) => Number(m[1])));
    return new Set(octets);
}
/** Creates `path` with `content` only if it does not exist, atomically (never seen half-written). */
async function createExclusive(path, content) {
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, content);
    try {
        await link(tmp, path);
        return true;
    }
    catch (error) {
        if (error.code === 'EEXIST')
            return false;
        throw error;
    }
    finally {
        await rm(tmp, { force: true });
    }
}
async function releaseReservations(id) {
    for (const file of await readdir(RECORD_DIR).catch(() => [])) {
        if (!/^net-\d+\.lock$/.test(file))
            continue;
        const owner = await readFile(join(RECORD_DIR, file), 'utf8').catch(() => '');
        if (owner === id)
            await rm(join(RECORD_DIR, file), { force: true });
    }
    await rm(recordPath(id), { force: true }); // last: a lock without its record is stale
}
/**
 * Tears down every recorded lab whose owning process is gone (a run killed with SIGKILL), and
 * network locks whose lab record is gone. Returns the ids torn down.
 */
export async function sweepStaleLabs() {
    const swept = [];
    const files = await readdir(RECORD_DIR).catch(() => []);
    for (const file of files.filter((f) => /^[0-9a-f]{4}\.json$/.test(f))) {
        const record = await readRecord(join(RECORD_DIR, file));
        if (record === null || startTicks(record.ownerPid) === record.ownerStartTicks)
            continue;
        await teardown({ id: record.id, namespaces: [], rootLinks: [], leaders: new Map() });
        swept.push(record.id);
    }
    for (const file of files.filter((f) => /^net-\d+\.lock$/.test(f))) {
        const owner = await readFile(join(RECORD_DIR, file), 'utf8').catch(() => '');
        if (owner !== '' && (await readRecord(recordPath(owner))) === null)
            await rm(join(RECORD_DIR, file), { force: true });
    }
    return swept;
}
/** A record, or null when missing or unreadable (then its lab is left alone). */
async function readRecord(path) {
    try {
        const parsed = JSON.parse(await readFile(path, 'utf8'));
        const valid = typeof parsed.id === 'string' && typeof parsed.ownerPid === 'number' && typeof parsed.ownerStartTicks === 'string';
        return valid ? parsed : null;
    }
    catch {
        return null;
    }
}
// ---- teardown ----
/**
 * Deletes whatever exists with the lab's id; see Lab.close(). A name that vanishes meanwhile (a
 * concurrent sweep of the same stale lab) is no failure.
 */
async function teardown(owned) {
    const failures = [];
    const step = async (run, fallback) => {
        try {
            return await run();
        }
        catch (error) {
            failures.push(error);
            return fallback;
        }
    };
    const namespaces = await step(async () => (await listNamespaces()).filter((n) => n.startsWith(`keel-${owned.id}-`)), owned.namespaces);
    await step(() => stopLabProcesses(owned.leaders, namespaces), undefined);
    const rootLinks = await step(async () => (await listRootLinks()).filter((l) => l.startsWith(`k${owned.id}-`)), owned.rootLinks);
    // Deleting a namespace frees its interfaces asynchronously; the root leg is deleted explicitly
    // so that it is gone when close() returns.
    for (const rootLink of rootLinks)
        await step(() => unlessGone(() => ip(['link', 'del', rootLink]), () => rootLinkExists(rootLink), ''), '');
    for (const netns of namespaces)
        await step(() => unlessGone(() => ip(['netns', 'del', netns]), () => namespaceExists(netns), ''), '');
    await step(() => releaseReservations(owned.id), undefined);
    unregister(owned.id);
    if (failures.length > 0)
        throw new AggregateError(failures, `lab ${owned.id}: teardown incomplete: ${failures.map(String).join('; ')}`);
}
/** Runs `run`; when it fails because its target is gone (`exists` says no), returns `gone` instead. */
async function unlessGone(run, exists, gone) {
    try {
        return await run();
    }
    catch (error) {
        if (await exists())
            throw error;
        return gone;
    }
}
/**
 * Stops spawned processes one at a time, last started first (agents before the PostgreSQL and etcd
 * they use; etcd members stopped together spend seconds handing leadership to each other), then
 * whatever else is left in the namespaces.
 */
async function stopLabProcesses(leaders, namespaces) {
    for (const leader of [...leaders].reverse()) {
        const one = new Map([leader]);
        await stopProcesses(one, 'group', async () => liveOnly(one));
    }
    await stopProcesses(await labProcesses(leaders, namespaces), 'process', () => labProcesses(leaders, namespaces));
}
/** SIGTERM to each target (or its process group), SIGKILL after the grace period; waits until `alive()` is empty. */
async function stopProcesses(targets, scope, alive) {
    const signalAll = (signal) => {
        for (const [pid, ticks] of targets)
            if (startTicks(pid) === ticks)
                sendSignal(scope === 'group' ? -pid : pid, signal);
    };
    signalAll('SIGTERM');
    if (await waitEmpty(alive, STOP_GRACE_MS))
        return;
    signalAll('SIGKILL');
    if (await waitEmpty(alive, KILL_WAIT_MS))
        return;
    throw new Error(`processes survived SIGKILL for ${KILL_WAIT_MS} ms: ${[...(await alive()).keys()].join(', ')}`);
}
async function waitEmpty(alive, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    while ((await alive()).size > 0) {
        if (performance.now() >= deadline)
            return false;
        await sleep(POLL_MS);
    }
    return true;
}
function liveOnly(processes) {
    return new Map([...processes].filter(([pid, ticks]) => startTicks(pid) === ticks));
}
/** Live processes of the lab: recorded leaders plus everything inside its namespaces. */
async function labProcesses(leaders, namespaces) {
    const found = liveOnly(leaders);
    for (const netns of namespaces) {
        const listing = await unlessGone(() => ip(['netns', 'pids', netns]), () => namespaceExists(netns), '');
        const pids = listing
            .split('\n')
            .filter((line) => line !== '')
            .map(Number);
        for (const pid of pids) {
            const ticks = startTicks(pid);
            if (ticks !== null)
                found.set(pid, ticks);
        }
    }
    return found;
}
// ---- synchronous cleanup at process exit ----
const ownedLabs = new Map();
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM'];
function register(owned) {
    ownedLabs.set(owned.id, owned);
    if (ownedLabs.size > 1)
        return;
    process.on('exit', cleanupAllSync);
    for (const signal of EXIT_SIGNALS)
        process.on(signal, onExitSignal);
}
function unregister(id) {
    if (!ownedLabs.delete(id) || ownedLabs.size > 0)
        return;
    process.off('exit', cleanupAllSync);
    for (const signal of EXIT_SIGNALS)
        process.off(signal, onExitSignal);
}
function onExitSignal(signal) {
    cleanupAllSync();
    // Our listener replaced the default action (exit); restore it unless someone else handles it.
    if (process.listenerCount(signal) === 0)
        process.kill(process.pid, signal);
}
/** Best effort, no waiting: SIGKILL everything, delete every name; the kernel finishes the rest. */
function cleanupAllSync() {
    for (const owned of [...ownedLabs.values()]) {
        for (const [pid, ticks] of owned.leaders)
            if (startTicks(pid) === ticks)
                sendSignal(-pid, 'SIGKILL');
        for (const netns of owned.namespaces) {
            const pids = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8', timeout: IP_SYNC_TIMEOUT_MS }).stdout ?? '';
            for (const pid of pids.split('\n').filter((line) => line !== ''))
                sendSignal(Number(pid), 'SIGKILL');
        }
        for (const rootLink of owned.rootLinks)
            spawnSync('ip', ['link', 'del', rootLink], { stdio: 'ignore', timeout: IP_SYNC_TIMEOUT_MS });
        for (const netns of owned.namespaces)
            spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore', timeout: IP_SYNC_TIMEOUT_MS });
        rmSync(recordPath(owned.id), { force: true }); // its network lock is then stale: the next sweep removes it
        unregister(owned.id);
    }
}
// ---- processes and commands ----
async function spawnIn(netns, command, args, options) {
    const log = await open(options.logFile, 'a');
    try {
        const argv = ['netns', 'exec', netns, ...asUser(options), command, ...args];
        const env = { ...process.env, ...options.env };
        const child = spawn('ip', argv, { detached: true, stdio: ['ignore', log.fd, log.fd], env, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
        const pid = await spawned(child, `ip ${argv.join(' ')}`);
        child.unref();
        return pid;
    }
    finally {
        await log.close();
    }
}
/** setpriv drops root after `ip netns exec` has entered the namespace (which needs root), and execs. */
function asUser(options) {
    if (options.uid === undefined && options.gid === undefined)
        return [];
    if (options.uid === undefined || options.gid === undefined)
        throw new Error('spawn: give both uid and gid, or neither');
    return ['setpriv', `--reuid=${options.uid}`, `--regid=${options.gid}`, '--clear-groups', '--'];
}
function spawned(child, what) {
    return new Promise((resolvePid, reject) => {
        child.once('error', (error) => reject(new Error(`cannot start ${what}: ${error.message}`)));
        child.once('spawn', () => resolvePid(child.pid ?? 0));
    });
}
function execIn(netns, command, args, options) {
    return new Promise((resolveResult) => {
        const child = spawn('ip', ['netns', 'exec', netns, command, ...args], {
            detached: true,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, ...options.env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
        // Detached, so the timeout kills the whole group, also children that hold the pipes open.
        const timer = setTimeout(() => sendSignal(-(child.pid ?? 0), 'SIGKILL'), options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
        child.once('error', (error) => {
            clearTimeout(timer);
            resolveResult({ code: null, stdout, stderr: `${stderr}${error.message}` });
        });
        child.once('close', (code) => {
            clearTimeout(timer);
            resolveResult({ code, stdout, stderr });
        });
    });
}
/** Runs `ip` with a deadline; a failure throws an Error quoting the command and its stderr. */
function ip(args, timeoutMs = IP_TIMEOUT_MS) {
    return new Promise((resolveOutput, reject) => {
        execFile('ip', args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
            if (error === null)
                resolveOutput(stdout);
            else
                reject(new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
        });
    });
}
async function listNamespaces() {
    const text = await ip(['netns', 'list']);
    return text
        .split('\n')
        .map((line) => line.split(' ')[0] ?? '')
        .filter((name) => name !== '');
}
async function listRootLinks() {
    const text = await ip(['-o', 'link']);
    return [...text.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1] ?? '');
}
const namespaceExists = async (netns) => (await listNamespaces()).includes(netns);
const rootLinkExists = async (name) => (await listRootLinks()).includes(name);
/** The start time of a live process (field 22 of /proc/<pid>/stat), or null if gone or a zombie. */
function startTicks(pid) {
    if (!Number.isInteger(pid) || pid <= 0)
        return null;
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
        return fields[0] === 'Z' || fields[0] === 'X' ? null : (fields[19] ?? null);
    }
    catch {
        return null;
    }
}
/** Signals a PID (negative: a process group); never 0, which would be this process's own group. */
function sendSignal(pid, signal) {
    if (!Number.isInteger(pid) || pid === 0)
        return;
    try {
        process.kill(pid, signal);
    }
    catch {
        // already gone
    }
}
//# sourceMappingURL=netns-lab.js.map