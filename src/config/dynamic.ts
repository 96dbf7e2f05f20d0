/**
 * The cluster-wide (dynamic) configuration: Patroni's `config` key in the DCS, seeded from
 * bootstrap.dcs and edited with `keel edit-config`.
 *
 * parseDynamicConfig never throws: the DCS is written by other programs (patronictl, etcdctl),
 * and the HA loop must keep running whatever it finds there. A value of the wrong type falls
 * back to Patroni's default for that setting; validateDynamicConfig lists exactly those values
 * (edit-config refuses them, the agent logs them). Units are converted here, once: seconds to
 * milliseconds, byte counts stay bytes.
 *
 * adjustTimings enforces `loop_wait + 2 * retry_timeout <= ttl` with Patroni's minimums
 * (loop_wait 1 s, retry_timeout 3 s; ttl 7 s where Patroni says 20 s). Patroni 3.0.2 did not enforce the rule; 3.2.0
 * introduced it (patroni/config.py, _validate_and_adjust_timeouts) and keel follows 3.2+,
 * because a retry_timeout that outlives the leader lease lets a leader keep acknowledging
 * writes after its key expired.
 */
import type { DynamicConfig, PermanentSlot, SlotMatcher, SynchronousMode } from './types.js';
import { describe, isRecord, parseBoolLike, parseIntLike } from './values.js';
import { CMDLINE_PARAMETERS } from './parameters.js';

export interface DynamicProblem {
  /** Dotted key path inside the dynamic configuration, e.g. `postgresql.parameters.max_connections`. */
  path: string;
  message: string;
  /**
   * 'error': a wrong type or impossible value (the default is used instead).
   * 'warning': a value Patroni accepts but silently replaces (a parameter it controls).
   */
  severity: 'error' | 'warning';
}

interface IntField {
  key: string;
  /** Patroni's pre-3.0 name, used only when the new one is absent. */
  legacy?: string;
  min: number;
  defaultValue: number;
  /** Seconds converted to milliseconds. */
  seconds: boolean;
}

type IntTarget =
  | 'ttlMs'
  | 'loopWaitMs'
  | 'retryTimeoutMs'
  | 'maximumLagOnFailoverBytes'
  | 'maximumLagOnSyncnodeBytes'
  | 'primaryStartTimeoutMs'
  | 'primaryStopTimeoutMs'
  | 'synchronousNodeCount'
  | 'maxTimelinesHistory';

const INT_FIELDS: Record<IntTarget, IntField> = {
  ttlMs: { key: 'ttl', min: 1, defaultValue: 30, seconds: true },
  loopWaitMs: { key: 'loop_wait', min: 1, defaultValue: 10, seconds: true },
  retryTimeoutMs: { key: 'retry_timeout', min: 1, defaultValue: 10, seconds: true },
  maximumLagOnFailoverBytes: { key: 'maximum_lag_on_failover', min: 0, defaultValue: 1048576, seconds: false },
  maximumLagOnSyncnodeBytes: { key: 'maximum_lag_on_syncnode', min: -1, defaultValue: -1, seconds: false },
  primaryStartTimeoutMs: { key: 'primary_start_timeout', legacy: 'master_start_timeout', min: 0, defaultValue: 300, seconds: true },
  primaryStopTimeoutMs: { key: 'primary_stop_timeout', legacy: 'master_stop_timeout', min: 0, defaultValue: 0, seconds: true },
  synchronousNodeCount: { key: 'synchronous_node_count', min: 1, defaultValue: 1, seconds: false },
  maxTimelinesHistory: { key: 'max_timelines_history', min: 0, defaultValue: 0, seconds: false },
};

type BoolTarget = 'checkTimeline' | 'synchronousModeStrict' | 'failsafeMode' | 'pause';

const BOOL_FIELDS: Record<BoolTarget, string> = {
  checkTimeline: 'check_timeline',
  synchronousModeStrict: 'synchronous_mode_strict',
  failsafeMode: 'failsafe_mode',
  pause: 'pause',
};

/** Python's int(): integers, decimal strings, and floats truncated toward zero. */
function pythonInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  return parseIntLike(value);
}

function readInt(raw: Record<string, unknown>, field: IntField, problems: DynamicProblem[]): number {
  const key = field.legacy !== undefined && raw[field.key] === undefined && raw[field.legacy] !== undefined ? field.legacy : field.key;
  const value = raw[key];
  const scale = field.seconds ? 1000 : 1;
  if (value === undefined || value === null) return field.defaultValue * scale;
  const parsed = pythonInt(value);
  if (parsed === undefined || parsed < field.min) {
    const unit = field.seconds ? ' (seconds)' : '';
    problems.push({
      severity: 'error',
      path: key,
      message: `expected an integer of at least ${field.min}${unit}, got ${describe(value)}; using ${field.defaultValue}`,
    });
    return field.defaultValue * scale;
  }
  return parsed * scale;
}

/** Patroni reads these switches with parse_bool (unrecognised text counts as false). */
function readBool(raw: Record<string, unknown>, key: string, defaultValue: boolean, path: string, problems: DynamicProblem[]): boolean {
  const value = raw[key];
  if (value === undefined || value === null) return defaultValue;
  const parsed = parseBoolLike(value);
  if (parsed === undefined) {
    problems.push({
      severity: 'error',
      path,
      message: `expected a boolean (true/false, on/off, yes/no), got ${describe(value)}; using ${String(defaultValue)}`,
    });
    return defaultValue;
  }
  return parsed;
}

/**
 * synchronous_mode as Patroni 4 reads it: `quorum`, or a boolean (true/on = on). A value that is
 * neither is an error and reads as `on` — never weaker than what was probably asked.
 */
function readSynchronousMode(value: unknown, problems: DynamicProblem[]): SynchronousMode {
  if (value === undefined || value === null) return 'off';
  if (typeof value === 'string' && value.trim().toLowerCase() === 'quorum') return 'quorum';
  const parsed = parseBoolLike(value);
  if (parsed !== undefined) return parsed ? 'on' : 'off';
  problems.push({ severity: 'error', path: 'synchronous_mode', message: `expected on, off, true, false or quorum, got ${describe(value)}; using on` });
  return 'on';
}

function readParameters(value: unknown, problems: DynamicProblem[], key = 'parameters'): Record<string, string | number | boolean> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    problems.push({
      severity: 'error',
      path: `postgresql.${key}`,
      message: `expected a mapping of PostgreSQL parameters, got ${describe(value)}; ignored`,
    });
    return {};
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [name, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = v;
    else problems.push({ severity: 'error', path: `postgresql.${key}.${name}`, message: `expected a string, number or boolean, got ${describe(v)}; ignored` });
  }
  return out;
}

function readPgHba(value: unknown, problems: DynamicProblem[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.every((line) => typeof line === 'string')) return value as string[];
  problems.push({ severity: 'error', path: 'postgresql.pg_hba', message: `expected a list of pg_hba.conf lines, got ${describe(value)}; ignored` });
  return undefined;
}

/** PostgreSQL's rule for a replication slot's name (ReplicationSlotValidateName), which Patroni checks too. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/**
 * `slots` (or its older spellings): `{name: {type: physical}}` or `{name: {type: logical,
 * database, plugin}}`; a bare name (null value) is a physical slot. Invalid entries are reported
 * and left out, as Patroni logs and skips them.
 */
function readPermanentSlots(raw: Record<string, unknown>, problems: DynamicProblem[]): PermanentSlot[] {
  const key = ['slots', 'permanent_slots', 'permanent_replication_slots'].find((k) => raw[k] !== undefined && raw[k] !== null);
  if (key === undefined) return [];
  const value = raw[key];
  if (!isRecord(value)) {
    problems.push({ severity: 'error', path: key, message: `expected a mapping of slot names, got ${describe(value)}; ignored` });
    return [];
  }
  const slots: PermanentSlot[] = [];
  for (const [name, spec] of Object.entries(value)) {
    const path = `${key}.${name}`;
    if (!SLOT_NAME.test(name)) {
      problems.push({ severity: 'error', path, message: 'a slot name is 1 to 63 lower-case letters, digits and underscores; ignored' });
      continue;
    }
    if (spec !== null && spec !== undefined && !isRecord(spec)) {
      problems.push({ severity: 'error', path, message: `expected a mapping (type, database, plugin), got ${describe(spec)}; ignored` });
      continue;
    }
    const fields = spec ?? {};
    const type = fields['type'] ?? 'physical';
    if (type === 'physical') slots.push({ name, type });
    else if (type === 'logical' && typeof fields['database'] === 'string' && typeof fields['plugin'] === 'string')
      slots.push({ name, type, database: fields['database'], plugin: fields['plugin'] });
    else
      problems.push({
        severity: 'error',
        path,
        message: `expected type physical, or type logical with a database and a plugin, got ${describe(spec)}; ignored`,
      });
  }
  return slots;
}

/** `ignore_slots`: a list of mappings of name, type, database, plugin (strings). */
function readIgnoreSlots(value: unknown, problems: DynamicProblem[]): SlotMatcher[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push({ severity: 'error', path: 'ignore_slots', message: `expected a list of mappings, got ${describe(value)}; ignored` });
    return [];
  }
  const matchers: SlotMatcher[] = [];
  value.forEach((entry, i) => {
    const fields = ['name', 'type', 'database', 'plugin'] as const;
    if (
      !isRecord(entry) ||
      Object.keys(entry).length === 0 ||
      !Object.entries(entry).every(([k, v]) => (fields as readonly string[]).includes(k) && typeof v === 'string')
    ) {
      problems.push({
        severity: 'error',
        path: `ignore_slots[${i}]`,
        message: `expected a mapping of name, type, database and/or plugin (strings), got ${describe(entry)}; ignored`,
      });
      return;
    }
    const matcher: SlotMatcher = {};
    for (const field of fields) if (typeof entry[field] === 'string') matcher[field] = entry[field];
    matchers.push(matcher);
  });
  return matchers;
}

function parseWithProblems(input: Record<string, unknown> | null | undefined): { cfg: DynamicConfig; problems: DynamicProblem[] } {
  const problems: DynamicProblem[] = [];
  const raw = isRecord(input) ? input : {};
  if (input !== null && input !== undefined && !isRecord(input))
    problems.push({ severity: 'error', path: '', message: `expected a mapping, got ${describe(input)}` });
  let pg: Record<string, unknown> = {};
  if (isRecord(raw['postgresql'])) pg = raw['postgresql'];
  else if (raw['postgresql'] !== undefined && raw['postgresql'] !== null)
    problems.push({ severity: 'error', path: 'postgresql', message: `expected a mapping, got ${describe(raw['postgresql'])}; ignored` });

  const ints = {} as Record<IntTarget, number>;
  for (const [target, field] of Object.entries(INT_FIELDS) as Array<[IntTarget, IntField]>) ints[target] = readInt(raw, field, problems);
  const bools = {} as Record<BoolTarget, boolean>;
  for (const [target, key] of Object.entries(BOOL_FIELDS) as Array<[BoolTarget, string]>) bools[target] = readBool(raw, key, false, key, problems);
  const synchronousMode = readSynchronousMode(raw['synchronous_mode'], problems);

  const pgHba = readPgHba(pg['pg_hba'], problems);
  const recoveryConf = readParameters(pg['recovery_conf'], problems, 'recovery_conf');
  const cfg: DynamicConfig = {
    ...ints,
    ...bools,
    synchronousMode,
    usePgRewind: readBool(pg, 'use_pg_rewind', false, 'postgresql.use_pg_rewind', problems),
    useSlots: readBool(pg, 'use_slots', true, 'postgresql.use_slots', problems),
    parameters: readParameters(pg['parameters'], problems),
    permanentSlots: readPermanentSlots(raw, problems),
    ignoreSlots: readIgnoreSlots(raw['ignore_slots'], problems),
    ...(pgHba === undefined ? {} : { pgHba }),
    ...(Object.keys(recoveryConf).length === 0 ? {} : { recoveryConf }),
    raw: structuredClone(raw),
  };
  return { cfg, problems };
}

/** The dynamic configuration with Patroni's defaults filled in; never throws (see the module comment). */
export function parseDynamicConfig(raw: Record<string, unknown>): DynamicConfig {
  return parseWithProblems(raw).cfg;
}

function checkShapes(raw: Record<string, unknown>, problems: DynamicProblem[]): void {
  const expectMapping = (key: string): void => {
    const value = raw[key];
    if (value !== undefined && value !== null && !isRecord(value))
      problems.push({ severity: 'error', path: key, message: `expected a mapping, got ${describe(value)}` });
  };
  // slots and ignore_slots are checked by their readers (parseWithProblems)
  expectMapping('standby_cluster');
}

/** `hot_standby: on` where keel forces on anyway is not worth a word. */
function isForcedValue(forced: string | undefined, value: unknown): boolean {
  if (forced === undefined) return false;
  const forcedBool = parseBoolLike(forced);
  return forcedBool !== undefined ? parseBoolLike(value) === forcedBool : String(value) === forced;
}

/** Values Patroni would silently replace by its own default in postgresql.parameters. */
function checkControlledParameters(raw: Record<string, unknown>, problems: DynamicProblem[]): void {
  const pg = raw['postgresql'];
  const params = isRecord(pg) && isRecord(pg['parameters']) ? pg['parameters'] : {};
  for (const [name, value] of Object.entries(params)) {
    const rule = CMDLINE_PARAMETERS[name.toLowerCase()];
    if (rule === undefined || value === null || value === undefined || rule.accepts(value) || isForcedValue(rule.defaultValue, value)) continue;
    problems.push({
      severity: 'warning',
      path: `postgresql.parameters.${name}`,
      message: `${rule.requirement}, got ${describe(value)} (keel uses ${rule.defaultValue ?? 'its own value'} instead)`,
    });
  }
}

/**
 * Problems in a dynamic configuration: wrong types and impossible values, as {path, message}.
 * Empty when the configuration is fine. Used by edit-config before writing, and by the loader
 * for bootstrap.dcs.
 */
export function validateDynamicConfig(raw: unknown): DynamicProblem[] {
  if (!isRecord(raw)) return [{ severity: 'error', path: '', message: `expected a mapping of dynamic settings, got ${describe(raw)}` }];
  const { problems } = parseWithProblems(raw);
  checkShapes(raw, problems);
  checkControlledParameters(raw, problems);
  return problems;
}

const MIN_LOOP_WAIT_MS = 1000;
const MIN_RETRY_TIMEOUT_MS = 3000;
// Patroni's validator says 20 s; keel allows shorter leases (tests, the fast benchmark setting,
// loopback clusters) as long as the timing rule holds: the rule, not the minimum, is what the
// lease guard's safety rests on.
const MIN_TTL_MS = 7_000;

const seconds = (ms: number): string => `${ms / 1000}`;

/**
 * Raises ttl, loop_wait and retry_timeout to their minimums, then makes
 * `loop_wait + 2 * retry_timeout <= ttl` hold: loop_wait is reduced first; only when even the
 * minimal loop_wait does not fit is retry_timeout reduced too (to whole seconds), as Patroni 3.2+.
 * Pure: returns the adjusted copy and one warning per change.
 */
export function adjustTimings(cfg: DynamicConfig): { cfg: DynamicConfig; warnings: string[] } {
  const warnings: string[] = [];
  const atLeast = (name: string, valueMs: number, minMs: number): number => {
    if (valueMs >= minMs) return valueMs;
    warnings.push(`${name}=${seconds(valueMs)} is below the minimum of ${seconds(minMs)} seconds; using ${seconds(minMs)}`);
    return minMs;
  };
  let loopWaitMs = atLeast('loop_wait', cfg.loopWaitMs, MIN_LOOP_WAIT_MS);
  let retryTimeoutMs = atLeast('retry_timeout', cfg.retryTimeoutMs, MIN_RETRY_TIMEOUT_MS);
  const ttlMs = atLeast('ttl', cfg.ttlMs, MIN_TTL_MS);
  const rule = 'loop_wait + 2*retry_timeout <= ttl';
  if (MIN_LOOP_WAIT_MS + 2 * retryTimeoutMs > ttlMs) {
    const newRetryMs = Math.floor((ttlMs - MIN_LOOP_WAIT_MS) / 2000) * 1000;
    warnings.push(
      `timings break the rule "${rule}" (ttl=${seconds(ttlMs)}): loop_wait lowered from ${seconds(loopWaitMs)} to ${seconds(MIN_LOOP_WAIT_MS)} and retry_timeout from ${seconds(retryTimeoutMs)} to ${seconds(newRetryMs)}`,
    );
    loopWaitMs = MIN_LOOP_WAIT_MS;
    retryTimeoutMs = newRetryMs;
  } else if (loopWaitMs + 2 * retryTimeoutMs > ttlMs) {
    const newLoopMs = ttlMs - 2 * retryTimeoutMs;
    warnings.push(
      `timings break the rule "${rule}" (ttl=${seconds(ttlMs)}, retry_timeout=${seconds(retryTimeoutMs)}): loop_wait lowered from ${seconds(loopWaitMs)} to ${seconds(newLoopMs)}`,
    );
    loopWaitMs = newLoopMs;
  }
  return { cfg: { ...cfg, ttlMs, loopWaitMs, retryTimeoutMs }, warnings };
}
