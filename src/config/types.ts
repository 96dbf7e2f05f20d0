/**
 * The shapes keel works with after a patroni.yml has been loaded, validated and defaulted.
 *
 * Two kinds of configuration, as in Patroni:
 *  - LocalConfig: this node's file (patroni.yml) plus PATRONI_* / KEEL_* environment overrides.
 *  - DynamicConfig: the cluster-wide settings stored in the DCS `config` key, seeded once from
 *    `bootstrap.dcs` and changed later with `keel edit-config`.
 * Patroni's units (seconds, byte counts, "256MB" strings) are converted exactly once, in the
 * parser; every field here carries its unit in its name.
 */

import type { BackupNodeConfig } from './backup-section.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface Credentials {
  username: string;
  password?: string;
}

/** Tags as Patroni defines them; unknown tags are kept in `extra` and published unchanged. */
export interface Tags {
  nofailover: boolean;
  noloadbalance: boolean;
  clonefrom: boolean;
  nosync: boolean;
  nostream: boolean;
  /** Member name to replicate from (cascading replication), or undefined for the leader. */
  replicatefrom?: string;
  /** Higher wins a leader race among equally advanced members; 0 behaves like nofailover (Patroni 3.2 semantics). */
  failoverPriority?: number;
  /** Every tag exactly as it appeared in the file (Patroni publishes the tags dict as-is). */
  raw: Record<string, unknown>;
}

export interface EtcdConfig {
  /**
   * The file's section: `etcd` (Patroni's v2 protocol, read by keel as v3: the agent first checks
   * that no Patroni runs the cluster on v2 keys, dcs/patroni-v2-guard.ts) or `etcd3`.
   */
  section?: 'etcd' | 'etcd3';
  /** Endpoints tried in order; a failing endpoint is skipped for the next call. */
  endpoints: HostPort[];
  protocol: 'http' | 'https';
  username?: string;
  password?: string;
  /** TLS files (Patroni's etcd cacert / cert / key): CA bundle to verify etcd, client certificate and key. */
  cacert?: string;
  cert?: string;
  key?: string;
}

/**
 * restapi.verify_client (Patroni's meaning): `none` asks no client certificate; `optional` asks
 * for one at the TLS handshake (an invalid one is refused there) and unsafe requests without a
 * valid one are answered 403; `required` refuses every connection without a valid one.
 */
export type VerifyClient = 'none' | 'optional' | 'required';

export interface RestApiConfig {
  listen: HostPort;
  connectAddress: HostPort;
  /** Basic auth required for unsafe (POST/PUT/PATCH/DELETE) requests when set. */
  authentication?: Credentials;
  /** restapi.allowlist: addresses, CIDR networks or host names that may make unsafe requests ([] = no list). */
  allowlist: string[];
  /** restapi.allowlist_include_members: members' api_url/conn_url hosts may too. */
  allowlistIncludeMembers: boolean;
  /**
   * TLS files (paths, checked readable when loaded). The REST API serves HTTPS exactly when
   * `certfile` is set, and api_url then says https. `cafile` also verifies the other members
   * when this node calls them (Patroni's PatroniRequest falls back to it).
   */
  certfile?: string;
  /** Private key; absent = the key is in certfile. */
  keyfile?: string;
  keyfilePassword?: string;
  /** CA bundle that client certificates (and, as a client, other members) are verified against; absent = system CAs. */
  cafile?: string;
  /** OpenSSL cipher list for TLS <= 1.2. */
  ciphers?: string;
  verifyClient: VerifyClient;
}

/**
 * The `ctl` section: how a client (the CLI, and as in Patroni the agent calling other members)
 * talks to members' REST APIs. Each unset field falls back to the restapi one (see
 * src/api/rest-client.ts restClientSettings).
 */
export interface CtlConfig {
  authentication?: Credentials;
  /** Do not verify the members' certificates (patronictl -k). */
  insecure: boolean;
  cacert?: string;
  certfile?: string;
  keyfile?: string;
  keyfilePassword?: string;
}

export interface PostgresAuthentication {
  superuser: Credentials;
  replication: Credentials;
  /** pg_rewind user; defaults to the superuser. */
  rewind?: Credentials;
}

export interface PostgresLocalConfig {
  /** Addresses PostgreSQL listens on (listen_addresses) and its port. */
  listen: { hosts: string[]; port: number };
  connectAddress: HostPort;
  dataDir: string;
  /** Directory holding initdb, pg_ctl, pg_basebackup, pg_rewind, postgres; '' = look them up in PATH (Patroni's default). */
  binDir: string;
  /** Where postgresql.conf lives; defaults to dataDir. */
  configDir: string;
  pgpass: string;
  authentication: PostgresAuthentication;
  /**
   * postgresql.parameters from the local file. As in Patroni these WIN over the dynamic ones,
   * except the cluster-wide parameters Patroni controls (max_connections, wal_level, ...), which
   * are ignored locally; see src/config/parameters.ts.
   */
  parameters: Record<string, string | number | boolean>;
  /** When set, replaces pg_hba.conf entirely (Patroni's postgresql.pg_hba). */
  pgHba?: string[];
  useUnixSocket: boolean;
  useUnixSocketRepl: boolean;
  /** Extra pg_basebackup options from postgresql.basebackup, rendered as CLI flags. */
  basebackupArgs: string[];
  removeDataDirectoryOnRewindFailure: boolean;
  removeDataDirectoryOnDivergedTimelines: boolean;
  pgCtlTimeoutMs: number;
  /** postgresql.callbacks: event name -> command. */
  callbacks: Record<string, string>;
  /** Local postgresql.use_pg_rewind; when set it wins over the dynamic one (Patroni's merge order). */
  usePgRewind?: boolean;
  /** postgresql.recovery_conf: settings written on a replica (restore_command, recovery_min_apply_delay, ...); they win over the dynamic ones. */
  recoveryConf?: Record<string, string | number | boolean>;
}

export interface BootstrapConfig {
  /** The raw `bootstrap.dcs` mapping, written as-is to the DCS `config` key by the initializing node. */
  dcs: Record<string, unknown>;
  /** initdb arguments rendered as CLI flags, e.g. ["--encoding=UTF8", "--data-checksums"]. */
  initdbArgs: string[];
  /** Lines appended to pg_hba.conf after initdb. */
  pgHba: string[];
}

export type WatchdogMode = 'off' | 'automatic' | 'required';

export interface WatchdogConfig {
  mode: WatchdogMode;
  device: string;
  /** -1 is Patroni's special value: the watchdog fires at half the ttl instead of ttl - margin. */
  safetyMarginMs: number;
}

export interface LogConfig {
  level: 'debug' | 'info' | 'warning' | 'error' | 'critical';
  format: 'text' | 'json';
  /** log.dir: lines go to <dir>/patroni.log instead of stderr, rotated as Patroni's RotatingFileHandler does. Absent: stderr. */
  file?: LogFileConfig;
}

/** Patroni's log.dir / log.file_size / log.file_num. */
export interface LogFileConfig {
  dir: string;
  /** log.file_size (default 25000000): the file is rotated before a line would take it past this size; 0 never rotates. */
  sizeMaxBytes: number;
  /** log.file_num (default 4): rotated files kept (patroni.log.1 ... patroni.log.N); 0 keeps none and never rotates, as Python's handler. */
  keptFiles: number;
}

/**
 * keel's `haproxy` section: the HAProxy runtime APIs (stats sockets at admin level) the agent tells
 * about its role changes, and the backends whose server named like this member it sets.
 */
export interface HaproxyRuntimeConfig {
  /** Absolute unix socket paths or host:port. */
  runtimeSockets: string[];
  writeBackend: string;
  readBackend: string;
}

export interface LocalConfig {
  /** Absolute path of the file this was loaded from (null when built in memory). */
  file: string | null;
  scope: string;
  /** Normalised as Patroni does: leading and trailing slash, e.g. "/service/". */
  namespace: string;
  name: string;
  restapi: RestApiConfig;
  ctl: CtlConfig;
  etcd: EtcdConfig;
  bootstrap: BootstrapConfig;
  postgresql: PostgresLocalConfig;
  tags: Tags;
  watchdog: WatchdogConfig;
  log: LogConfig;
  /** Absent: no runtime-API announcements (HAProxy's health checks alone move the traffic). */
  haproxy?: HaproxyRuntimeConfig;
  /** keel's `backup:` section (src/config/backup-section.ts); absent: the agent leaves archiving to postgresql.parameters. */
  backup?: BackupNodeConfig;
  /** Warnings found while loading (unknown keys, deprecated spellings); printed once at start. */
  warnings: string[];
}

/**
 * Cluster-wide settings from the DCS `config` key, with Patroni's defaults filled in.
 * `raw` is the mapping as stored (what `keel edit-config` shows and what is written back).
 */
/** Patroni's synchronous_mode values. */
export type SynchronousMode = 'off' | 'on' | 'quorum';

/** One entry of the `slots` mapping. keel keeps physical ones; logical ones are neither created nor dropped. */
export interface PermanentSlot {
  name: string;
  type: 'physical' | 'logical';
  database?: string;
  plugin?: string;
}

/** One entry of `ignore_slots`: a slot matches when every attribute given here equals its own. */
export interface SlotMatcher {
  name?: string;
  type?: string;
  database?: string;
  plugin?: string;
}

export interface DynamicConfig {
  ttlMs: number;
  loopWaitMs: number;
  retryTimeoutMs: number;
  maximumLagOnFailoverBytes: number;
  /** -1 = unlimited (Patroni's default). */
  maximumLagOnSyncnodeBytes: number;
  primaryStartTimeoutMs: number;
  primaryStopTimeoutMs: number;
  checkTimeline: boolean;
  /** `synchronous_mode`: off, on (true) or quorum (Patroni 4's quorum commit). */
  synchronousMode: SynchronousMode;
  synchronousModeStrict: boolean;
  synchronousNodeCount: number;
  failsafeMode: boolean;
  maxTimelinesHistory: number;
  /** Maintenance mode (`pause`, parsed with Patroni's parse_bool): no automatic failover. */
  pause: boolean;
  usePgRewind: boolean;
  useSlots: boolean;
  /**
   * Patroni's permanent slots (`slots`, also spelled `permanent_slots` or
   * `permanent_replication_slots`): the leader keeps the physical ones beside its members' slots.
   */
  permanentSlots: PermanentSlot[];
  /** Patroni's `ignore_slots`: slots matching one of these are never dropped. */
  ignoreSlots: SlotMatcher[];
  /**
   * postgresql.parameters from the DCS config. The local file's win over these, except for the
   * cluster-wide parameters Patroni controls; see src/config/parameters.ts.
   */
  parameters: Record<string, string | number | boolean>;
  /** When set, replaces pg_hba.conf on every member. */
  pgHba?: string[];
  /** postgresql.recovery_conf from the DCS config: settings written on replicas. */
  recoveryConf?: Record<string, string | number | boolean>;
  raw: Record<string, unknown>;
}
