/**
 * Shared set-up for the DCS integration tests: a real etcd (1 or 3 members) on free loopback
 * ports in a temporary directory, and EtcdDcs clients pointed at it. Callers stop it in after().
 * With `tls`, etcd serves clients over https (and may require client certificates); the EtcdDcs
 * clients then speak https with the given etcd files unless a test passes its own `etcd`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcdCluster, type EtcdCluster, type EtcdClusterTls } from '../../../src/sandbox/etcd-cluster.js';
import { EtcdDcs, type EtcdDcsOptions } from '../../../src/dcs/etcd-dcs.js';
import type { EtcdConfig, HostPort } from '../../../src/config/types.js';

export interface EtcdFixture {
  cluster: EtcdCluster;
  dir: string;
  /** The etcd section clients use by default (protocol, and with tls the CA and client certificate). */
  etcd: EtcdConfig;
  dcs(name: string, options?: Partial<EtcdDcsOptions> & { endpoints?: HostPort[] }): EtcdDcs;
  teardown(): Promise<void>;
}

let scopeCounter = 0;

/** A unique scope per call so tests sharing one etcd never see each other's keys. */
export function freshScope(label: string): string {
  scopeCounter += 1;
  return `${label}-${process.pid}-${scopeCounter}`;
}

export interface FixtureTls {
  server: EtcdClusterTls;
  /** The files clients use: EtcdConfig's cacert / cert / key. */
  client: Pick<EtcdConfig, 'cacert' | 'cert' | 'key'>;
}

export async function startFixture(size: number, label: string, extraArgs: string[] = [], tls?: FixtureTls): Promise<EtcdFixture> {
  const dir = await mkdtemp(join(tmpdir(), `keel-dcs-${label}-`));
  let cluster: EtcdCluster;
  try {
    cluster = await startEtcdCluster({ dir, size, namePrefix: `${label}-`, extraArgs, ...(tls === undefined ? {} : { tls: tls.server }) });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const clients: EtcdDcs[] = [];
  const etcd: EtcdConfig = { endpoints: cluster.endpoints, protocol: tls === undefined ? 'http' : 'https', ...(tls?.client ?? {}) };
  return {
    cluster,
    dir,
    etcd,
    dcs(name, options = {}) {
      const { endpoints, ...rest } = options;
      const dcs = new EtcdDcs({
        etcd: { ...etcd, endpoints: endpoints ?? cluster.endpoints },
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
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
