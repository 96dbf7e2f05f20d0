/**
 * Which PostgreSQL parameters end up in postgresql.conf, merged as Patroni 3.0.2 merges them
 * (patroni/config.py _build_effective_configuration and _process_postgresql_parameters,
 * patroni/postgresql/config.py CMDLINE_OPTIONS and get_server_parameters):
 *
 *  1. Patroni's defaults for the parameters it controls (CMDLINE_PARAMETERS below);
 *  2. the dynamic (DCS) postgresql.parameters: any parameter, except that a controlled one is
 *     taken only when it passes Patroni's check (max_connections >= 25, wal_level replica or
 *     logical, ...; otherwise the default stays), and listen_addresses, port, cluster_name,
 *     hot_standby and wal_log_hints are never taken;
 *  3. the local file's postgresql.parameters, which WIN over the dynamic ones, except that
 *     controlled parameters are ignored locally (they must be equal on every member);
 *  4. what keel derives: listen_addresses and port from postgresql.listen, cluster_name from
 *     scope, hba_file and ident_file in the config directory, wal_keep_segments <-> wal_keep_size
 *     for the server version.
 *
 * Output contract: lower-case parameter names mapped to the value exactly as PostgreSQL must
 * read it, unquoted (booleans as on/off, numbers in decimal, memory and time units kept as
 * written: "256MB"). The writer (src/postgres/conf-files.ts) quotes every value. Names are
 * lower-cased because PostgreSQL parameter names are case-insensitive (Patroni uses a
 * case-insensitive dict); the last spelling wins.
 * synchronous_standby_names is left out in synchronous mode: the HA loop decides it.
 */
import { isAbsolute, join } from 'node:path';
import type { DynamicConfig, LocalConfig } from './types.js';
import { parseBoolLike, parseIntLike } from './values.js';

export interface ControlledParameter {
  /** Patroni's default; undefined when keel always derives the value itself. */
  defaultValue: string | undefined;
  /** Whether a value from the dynamic configuration is taken (Patroni's check function). */
  accepts: (value: unknown) => boolean;
  /** What an acceptable value is, for messages. */
  requirement: string;
}

function pythonInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  return parseIntLike(value);
}

const intAtLeast =
  (min: number) =>
  (value: unknown): boolean => {
    const parsed = pythonInt(value);
    return parsed !== undefined && parsed >= min;
  };

const SIZE_UNITS_IN_MB: Record<string, number> = { B: 1 / (1024 * 1024), kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 };

/** A memory size in MB (Patroni's parse_int(value, 'MB')); a bare number is already MB. */
export function sizeInMb(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(value);
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (SIZE_UNITS_IN_MB[match[2] ?? 'MB'] ?? 1));
}

const never = (): boolean => false;

/** Parameters Patroni always passes on the postmaster command line (CMDLINE_OPTIONS). */
export const CMDLINE_PARAMETERS: Readonly<Record<string, ControlledParameter>> = {
  listen_addresses: { defaultValue: undefined, accepts: never, requirement: 'is set from postgresql.listen' },
  port: { defaultValue: undefined, accepts: never, requirement: 'is set from postgresql.listen' },
  cluster_name: { defaultValue: undefined, accepts: never, requirement: 'is set from scope' },
  wal_level: {
    defaultValue: 'replica',
    accepts: (v) => typeof v === 'string' && ['hot_standby', 'replica', 'logical'].includes(v.toLowerCase()),
    requirement: 'expected replica or logical',
  },
  hot_standby: { defaultValue: 'on', accepts: never, requirement: 'is always on' },
  max_connections: { defaultValue: '100', accepts: intAtLeast(25), requirement: 'expected an integer of at least 25' },
  max_wal_senders: { defaultValue: '10', accepts: intAtLeast(3), requirement: 'expected an integer of at least 3' },
  wal_keep_segments: { defaultValue: '8', accepts: intAtLeast(1), requirement: 'expected an integer of at least 1' },
  wal_keep_size: { defaultValue: '128MB', accepts: (v) => (sizeInMb(v) ?? 0) >= 16, requirement: 'expected a size of at least 16MB' },
  max_prepared_transactions: { defaultValue: '0', accepts: intAtLeast(0), requirement: 'expected an integer of at least 0' },
  max_locks_per_transaction: { defaultValue: '64', accepts: intAtLeast(32), requirement: 'expected an integer of at least 32' },
  track_commit_timestamp: { defaultValue: 'off', accepts: (v) => parseBoolLike(v) !== undefined, requirement: 'expected on or off' },
  max_replication_slots: { defaultValue: '10', accepts: intAtLeast(4), requirement: 'expected an integer of at least 4' },
  max_worker_processes: { defaultValue: '8', accepts: intAtLeast(2), requirement: 'expected an integer of at least 2' },
  wal_log_hints: { defaultValue: 'on', accepts: never, requirement: 'is always on' },
};

/** Whether a local postgresql.parameters entry is ignored because Patroni controls it cluster-wide. */
export function isClusterWideParameter(name: string): boolean {
  return CMDLINE_PARAMETERS[name.toLowerCase()] !== undefined;
}

/** A parameter value as postgresql.conf spells it (unquoted). */
export function renderParameterValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

export interface EffectiveParameterOptions {
  /** PostgreSQL major version (e.g. 15); decides wal_keep_size (13+) or wal_keep_segments. Default: 13 or later. */
  pgMajorVersion?: number;
}

function applyWalKeep(params: Map<string, string | number | boolean>, pgMajorVersion: number): void {
  if (pgMajorVersion >= 13) {
    const segments = pythonInt(params.get('wal_keep_segments') ?? CMDLINE_PARAMETERS['wal_keep_segments']?.defaultValue) ?? 8;
    params.delete('wal_keep_segments');
    if (!params.has('wal_keep_size')) params.set('wal_keep_size', `${segments * 16}MB`);
  } else {
    const sizeMb = sizeInMb(params.get('wal_keep_size') ?? CMDLINE_PARAMETERS['wal_keep_size']?.defaultValue) ?? 128;
    params.delete('wal_keep_size');
    if (!params.has('wal_keep_segments')) params.set('wal_keep_segments', Math.floor((sizeMb + 8) / 16));
  }
}

/** postgresql.conf parameters for this member now (see the module comment for the rules and contract). */
export function effectiveParameters(local: LocalConfig, dyn: DynamicConfig, options: EffectiveParameterOptions = {}): Record<string, string> {
  const params = new Map<string, string | number | boolean>();
  for (const [name, rule] of Object.entries(CMDLINE_PARAMETERS)) {
    if (rule.defaultValue !== undefined && name !== 'wal_keep_segments' && name !== 'wal_keep_size') params.set(name, rule.defaultValue);
  }
  for (const [name, value] of Object.entries(dyn.parameters)) {
    const key = name.toLowerCase();
    const rule = CMDLINE_PARAMETERS[key];
    if (rule === undefined || rule.accepts(value)) params.set(key, value);
  }
  for (const [name, value] of Object.entries(local.postgresql.parameters)) {
    if (!isClusterWideParameter(name)) params.set(name.toLowerCase(), value);
  }
  const pg = local.postgresql;
  params.set('listen_addresses', pg.listen.hosts.join(','));
  params.set('port', pg.listen.port);
  params.set('cluster_name', local.scope);
  if (String(params.get('wal_level')).toLowerCase() === 'hot_standby') params.set('wal_level', 'replica');
  applyWalKeep(params, options.pgMajorVersion ?? 13);
  if (dyn.synchronousMode !== 'off') params.delete('synchronous_standby_names');
  for (const [name, file] of [
    ['hba_file', 'pg_hba.conf'],
    ['ident_file', 'pg_ident.conf'],
  ] as const) {
    const given = params.get(name);
    const path = given === undefined || given === '' ? file : String(given);
    params.set(name, isAbsolute(path) ? path : join(pg.configDir, path));
  }
  const out: Record<string, string> = {};
  for (const [name, value] of params) out[name] = renderParameterValue(value);
  return out;
}

/** use_pg_rewind: the local file wins over the dynamic configuration (Patroni copies local postgresql.* last). */
export function effectiveUsePgRewind(local: LocalConfig, dyn: DynamicConfig): boolean {
  return local.postgresql.usePgRewind ?? dyn.usePgRewind;
}

/** pg_hba lines that replace pg_hba.conf, if any: the local postgresql.pg_hba wins over the dynamic one. */
export function effectivePgHba(local: LocalConfig, dyn: DynamicConfig): string[] | undefined {
  return local.postgresql.pgHba ?? dyn.pgHba;
}
