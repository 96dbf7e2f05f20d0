/**
 * Test support: one etcd member per host of a network-namespace lab (netns-lab.ts) — clients on
 * 127.0.0.1 and both host addresses, peers on the cluster network — started, stopped and
 * restarted by PID, as real hosts would run it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, stopPids } from '../../src/sandbox/etcd-cluster.js';
import type { Lab, LabHost } from './netns-lab.js';

const POLL_MS = 200;

export interface LabEtcdOptions {
  /** Data directories etcd<i>.data and logs etcd<i>.log go here (created when missing). */
  dir: string;
  clientPort?: number;
  peerPort?: number;
  /** How long every member has to report healthy (ms); default 30 s. */
  startTimeoutMs?: number;
}

export interface LabEtcd {
  /** host:port of every member on the cluster network, `host`'s own member first: an agent's etcd hosts. */
  endpointsFor(host: LabHost): string[];
  /** host:port of every member on the client network, reachable from the test process. */
  clientEndpoints: string[];
  /** PID of each member (index as in lab.hosts), current after stopMember/startMember; 0 while stopped. */
  readonly pids: number[];
  /** Stops the member on lab.hosts[index] (SIGTERM, SIGKILL after a grace period) and waits until gone. */
  stopMember(index: number): Promise<void>;
  /** Starts a stopped member again on its data directory and waits until it is healthy. */
  startMember(index: number): Promise<void>;
}

const ETCD_HEARTBEAT_MS = 100;
const ETCD_ELECTION_MS = 1_000;
const ETCD_STOP_GRACE_MS = 10_000;
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
const LOG_TAIL_LINES = 15;

interface LabEtcdMember {
  host: LabHost;
  name: string;
  pid: number;
  args: string[];
  logFile: string;
  healthUrl: string;
}

/**
 * Starts one etcd member per host (etcd<i> on host h<i>): clients on 127.0.0.1 and both host
 * addresses, peers on the cluster network. Returns once every member answers GET /health with
 * {"health":"true"} from the root namespace; otherwise stops them and throws with the log tail.
 */
export async function startEtcdOnLab(lab: Lab, options: LabEtcdOptions): Promise<LabEtcd> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const clientPort = options.clientPort ?? 2379;
  const peerPort = options.peerPort ?? 2380;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const initialCluster = lab.hosts.map((host, i) => `etcd${i + 1}=http://${host.clusterAddress}:${peerPort}`).join(',');
  const members = lab.hosts.map((host, i): LabEtcdMember => ({
    host,
    name: `etcd${i + 1}`,
    pid: 0,
    args: etcdArgs(host, `etcd${i + 1}`, { dir, clientPort, peerPort, initialCluster, token: `keel-lab-${lab.id}` }),
    logFile: join(dir, `etcd${i + 1}.log`),
    healthUrl: `http://${host.clientAddress}:${clientPort}/health`,
  }));
  const start = async (member: LabEtcdMember) => {
    member.pid = await lab.spawn(member.host, 'etcd', member.args, { logFile: member.logFile });
  };
  try {
    for (const member of members) await start(member);
    await Promise.all(members.map((member) => waitEtcdHealthy(member, timeoutMs)));
  } catch (error) {
    await stopPids(
      members.map((m) => m.pid).filter((pid) => pid > 0),
      ETCD_STOP_GRACE_MS,
    ).catch(() => undefined);
    throw error;
  }
  return labEtcdApi(members, clientPort, start, timeoutMs);
}

function labEtcdApi(members: LabEtcdMember[], clientPort: number, start: (member: LabEtcdMember) => Promise<void>, timeoutMs: number): LabEtcd {
  const memberAt = (index: number) => {
    const member = members[index];
    if (member === undefined) throw new RangeError(`no etcd member #${index} (the lab has ${members.length})`);
    return member;
  };
  return {
    endpointsFor: (host) => {
      const own = members.filter((m) => m.host.name === host.name);
      return [...own, ...members.filter((m) => m.host.name !== host.name)].map((m) => `${m.host.clusterAddress}:${clientPort}`);
    },
    clientEndpoints: members.map((m) => `${m.host.clientAddress}:${clientPort}`),
    get pids() {
      return members.map((m) => m.pid);
    },
    stopMember: async (index) => {
      const member = memberAt(index);
      await stopPids(member.pid > 0 ? [member.pid] : [], ETCD_STOP_GRACE_MS);
      member.pid = 0;
    },
    startMember: async (index) => {
      const member = memberAt(index);
      if (isAlive(member.pid)) return;
      await start(member);
      await waitEtcdHealthy(member, timeoutMs);
    },
  };
}

function etcdArgs(host: LabHost, name: string, c: { dir: string; clientPort: number; peerPort: number; initialCluster: string; token: string }): string[] {
  const clientUrls = ['127.0.0.1', host.clusterAddress, host.clientAddress].map((address) => `http://${address}:${c.clientPort}`);
  const peerUrl = `http://${host.clusterAddress}:${c.peerPort}`;
  return [
    `--name=${name}`,
    `--data-dir=${join(c.dir, `${name}.data`)}`,
    `--listen-client-urls=${clientUrls.join(',')}`,
    `--advertise-client-urls=http://${host.clusterAddress}:${c.clientPort}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${c.initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${c.token}`,
    `--heartbeat-interval=${ETCD_HEARTBEAT_MS}`,
    `--election-timeout=${ETCD_ELECTION_MS}`,
    // etcd 3.5 (the seed installs 3.5.11) runs a pre-vote by default; Debian's 3.4 does not, and
    // there a member healed from a partition, its term raised by failed elections, deposes the
    // leader and leaves etcd without one for seconds (measured: every read from a healed host
    // failed for 5 s, delaying the old leader's rejoin; bench/chaos leader-isolated)
    '--pre-vote=true',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
}

async function waitEtcdHealthy(member: LabEtcdMember, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!isAlive(member.pid)) {
      throw new Error(
        `etcd member ${member.name} on ${member.host.name} (pid ${member.pid}) exited while starting; end of ${member.logFile}:\n${await logTail(member.logFile)}`,
      );
    }
    try {
      const response = await fetch(member.healthUrl, { signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS) });
      last = (await response.text()).trim();
      if (isHealthyBody(last)) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() >= deadline) {
      throw new Error(
        `etcd member ${member.name} at ${member.healthUrl} not healthy after ${timeoutMs} ms (last answer: ${last}); end of ${member.logFile}:\n${await logTail(member.logFile)}`,
      );
    }
    await sleep(POLL_MS);
  }
}

function isHealthyBody(body: string): boolean {
  try {
    return (JSON.parse(body) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => `(no log at ${file})`);
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}
