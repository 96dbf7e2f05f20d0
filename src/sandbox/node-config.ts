/**
 * The patroni.yml files `keel sandbox up` writes, one per node. They are ordinary Patroni-format
 * files (a user can read them to learn the format, and Patroni itself could load them), with
 * short timings when asked and every address on loopback.
 *
 * As strict as production (issue 6): initdb asks for passwords on every connection, loopback
 * and socket included (never initdb's default `trust`), there is a pg_rewind user with its own
 * password, and wal_log_hints is left to its default — data checksums make pg_rewind possible,
 * as in the seed's configuration.
 */
import { stringify } from 'yaml';

export interface SandboxTimings {
  ttlS: number;
  loopWaitS: number;
  retryTimeoutS: number;
}

export interface SandboxNodePlan {
  name: string;
  pgPort: number;
  apiPort: number;
  dataDir: string;
  /** Directory for the node's unix socket (owned by the PostgreSQL OS user). */
  socketDir: string;
  /** Tags set to true on this node (e.g. noloadbalance), on top of the all-false defaults. */
  tags?: string[];
}

export interface SandboxPlan {
  scope: string;
  namespace: string;
  host: string;
  etcdEndpoints: string[];
  timings: SandboxTimings;
  binDir: string;
  superuserPassword: string;
  replicationPassword: string;
  rewindPassword: string;
  /** restapi.authentication for every node, when set. */
  restApiAuth?: { username: string; password: string };
  /** The sandbox's HAProxy runtime API, which the agents tell about role changes (absent: no HAProxy). */
  haproxy?: { runtimeSockets: string[] };
  /** The backup: section of every node (absent: no archiving). */
  backup?: Record<string, string | number | boolean>;
  nodes: SandboxNodePlan[];
}

/** Renders the patroni.yml of one sandbox node (pure). */
export function renderNodeConfig(plan: SandboxPlan, node: SandboxNodePlan): string {
  const document = {
    scope: plan.scope,
    namespace: plan.namespace,
    name: node.name,
    restapi: {
      listen: `${plan.host}:${node.apiPort}`,
      connect_address: `${plan.host}:${node.apiPort}`,
      ...(plan.restApiAuth === undefined ? {} : { authentication: plan.restApiAuth }),
    },
    etcd3: { hosts: plan.etcdEndpoints.join(',') },
    bootstrap: {
      dcs: {
        ttl: plan.timings.ttlS,
        loop_wait: plan.timings.loopWaitS,
        retry_timeout: plan.timings.retryTimeoutS,
        maximum_lag_on_failover: 1048576,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            max_connections: 50,
            shared_buffers: '32MB',
            wal_level: 'replica',
            hot_standby: 'on',
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '128MB',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums', { 'auth-host': 'scram-sha-256' }, { 'auth-local': 'scram-sha-256' }],
      pg_hba: [`host replication replicator ${plan.host}/32 md5`, `host all all ${plan.host}/32 md5`, 'host all all 0.0.0.0/0 reject'],
    },
    postgresql: {
      listen: `${plan.host}:${node.pgPort}`,
      connect_address: `${plan.host}:${node.pgPort}`,
      data_dir: node.dataDir,
      pgpass: `${node.socketDir}/pgpass`,
      // A sandbox node always finds its way back as a replica: re-clone when rewind cannot work.
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
      bin_dir: plan.binDir,
      authentication: {
        replication: { username: 'replicator', password: plan.replicationPassword },
        superuser: { username: 'postgres', password: plan.superuserPassword },
        rewind: { username: 'rewind_user', password: plan.rewindPassword },
      },
      use_unix_socket: true,
      parameters: { unix_socket_directories: node.socketDir },
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, ...Object.fromEntries((node.tags ?? []).map((tag) => [tag, true])) },
    watchdog: { mode: 'off' },
    ...(plan.haproxy === undefined ? {} : { haproxy: { runtime_sockets: plan.haproxy.runtimeSockets } }),
    ...(plan.backup === undefined ? {} : { backup: plan.backup }),
  };
  return `# written by keel sandbox up\n${stringify(document, { version: '1.1' })}`;
}
