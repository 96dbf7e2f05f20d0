/**
 * The production edges of an agent (the composition root): the system clock, etcd, this node's
 * PostgreSQL, other members' PostgreSQL and REST APIs, the watchdog device, the configuration
 * file. The only module of the HA shell that knows the real implementations.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createHttpPeerClient } from '../api/peer-client.js';
import { restClientSettings } from '../config/rest-client-settings.js';
import { loadConfigFile } from '../config/load.js';
import { adjustTimings, parseDynamicConfig } from '../config/dynamic.js';
import type { LocalConfig } from '../config/types.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import { systemClock } from '../engine/clock.js';
import type { Logger } from '../observability/log.js';
import { ProcessCallbacks } from '../postgres/callback-process.js';
import { LocalPostgres } from '../postgres/local-node.js';
import { remotePostgresClient } from '../postgres/remote.js';
import type { HaPorts } from './ports.js';
import { parseRecords } from './core/failover-record.js';
import { WatchdogDevice } from '../engine/watchdog-device.js';
import { ProcessFence } from '../engine/process-fence.js';
import { HaproxyRuntimeClient } from '../haproxy/runtime-client.js';

export function realPorts(local: LocalConfig, log: Logger): HaPorts {
  const dynamic = adjustTimings(parseDynamicConfig(local.bootstrap.dcs)).cfg;
  const pgc = local.postgresql;
  const haproxy = new HaproxyRuntimeClient(log);
  const dcs = new EtcdDcs({
    etcd: local.etcd,
    namespace: local.namespace,
    scope: local.scope,
    name: local.name,
    retryTimeoutMs: dynamic.retryTimeoutMs,
    ttlS: Math.round(dynamic.ttlMs / 1000),
  });
  const processFence = new ProcessFence({ dataDir: pgc.dataDir, clock: systemClock, log });
  return {
    clock: systemClock,
    dcs,
    failoverRecords: {
      load: async () => {
        const stored = await dcs.loadFailoverRecords();
        return { records: parseRecords(stored.text), version: stored.modRevision };
      },
      write: (records, version) => dcs.writeFailoverRecords(JSON.stringify(records), version),
    },
    postgres: new LocalPostgres({ dataDir: pgc.dataDir, configDir: pgc.configDir, binDir: pgc.binDir }),
    remote: remotePostgresClient,
    peers: createHttpPeerClient(restClientSettings(local), (message) => log.warning(`calling another member: ${message}`)),
    // keel-fence also holds the watchdog device: programming its timeout is an ioctl
    watchdog: new WatchdogDevice(local.watchdog.device, local.watchdog.mode !== 'off', processFence, log),
    processFence,
    callbacks: new ProcessCallbacks(log),
    routing: { announce: (sockets, commands, what) => void haproxy.announce(sockets, commands, what) },
    nextWalWrite: (onWrite) => nextWalWrite(join(pgc.dataDir, 'pg_wal'), onWrite),
    loadConfig: () => {
      if (local.file === null) throw new Error('the configuration did not come from a file');
      return loadConfigFile(local.file, process.env);
    },
  };
}

/**
 * One inotify watch on pg_wal (through fs.watch) until its first event: a WAL write, a new or
 * recycled segment, or pg_wal itself going. Armed only while the WAL is quiet: a busy primary
 * writes many times a second, and each event would wake the agent.
 */
export function nextWalWrite(walDir: string, onWrite: () => void): (() => void) | null {
  let watcher: FSWatcher;
  try {
    watcher = watch(walDir, { persistent: false });
  } catch {
    return null; // no pg_wal (not a primary's data directory yet), or no inotify
  }
  let done = false;
  const stop = (): void => {
    done = true;
    watcher.close();
  };
  const fire = (): void => {
    if (done) return;
    stop();
    onWrite();
  };
  watcher.on('change', fire);
  watcher.on('error', fire); // a watch that breaks counts as a write: the fast pace again
  return stop;
}
