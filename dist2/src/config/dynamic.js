import { describe, isRecord, parseBoolLike, parseIntLike } from './values.js';
import { CMDLINE_PARAMETERS } from './parameters.js';
const INT_FIELDS = {
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
const BOOL_FIELDS = {
    checkTimeline: 'check_timeline',
    synchronousMode: 'synchronous_mode',
    synchronousModeStrict: 'synchronous_mode_strict',
    failsafeMode: 'failsafe_mode',
    pause: 'pause',
};
/** Python's int(): integers, decimal strings, and floats truncated toward zero. */
function pythonInt(value) {
    if (typeof value === 'number')
        return Number.isFinite(value) ? Math.trunc(value) : undefined;
    return parseIntLike(value);
}
function readInt(raw, field, problems) {
    const key = field.legacy !== undefined && raw[field.key] === undefined && raw[field.legacy] !== undefined ? field.legacy : field.key;
    const value = raw[key];
    const scale = field.seconds ? 1000 : 1;
    if (value === undefined || value === null)
        return field.defaultValue * scale;
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
/**
 * Patroni reads these switches with parse_bool (unrecognised text counts as false).
 * `synchronous_mode: quorum` (Patroni 4) is read as plain synchronous mode: never weaker than asked.
 */
function readBool(raw, key, defaultValue, path, problems) {
    const value = raw[key];
    if (value === undefined || value === null)
        return defaultValue;
    if (key === 'synchronous_mode' && typeof value === 'string' && value.trim().toLowerCase() === 'quorum') {
        problems.push({ severity: 'error', path, message: 'quorum commit (Patroni 4) is not supported by keel; plain synchronous mode is used' });
        return true;
    }
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
function readParameters(value, problems) {
    if (value === undefined || value === null)
        return {};
    if (!isRecord(value)) {
        problems.push({
            severity: 'error',
            path: 'postgresql.parameters',
            message: `expected a mapping of PostgreSQL parameters, got ${describe(value)}; ignored`,
        });
        return {};
    }
    const out = {};
    for (const [name, v] of Object.entries(value)) {
        if (v === null || v === undefined)
            continue;
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
            out[name] = v;
        else
            problems.push({ severity: 'error', path: `postgresql.parameters.${name}`, message: `expected a string, number or boolean, got ${describe(v)}; ignored` });
    }
    return out;
}
function readPgHba(value, problems) {
    if (value === undefined || value === null)
        return undefined;
    if (Array.isArray(value) && value.every((line) => typeof line === 'string'))
        return value;
    problems.push({ severity: 'error', path: 'postgresql.pg_hba', message: `expected a list of pg_hba.conf lines, got ${describe(value)}; ignored` });
    return undefined;
}
function parseWithProblems(input) {
    const problems = [];
    const raw = isRecord(input) ? input : {};
    if (input !== null && input !== undefined && !isRecord(input))
        problems.push({ severity: 'error', path: '', message: `expected a mapping, got ${describe(input)}` });
    let pg = {};
    if (isRecord(raw['postgresql']))
        pg = raw['postgresql'];
    else if (raw['postgresql'] !== undefined && raw['postgresql'] !== null)
        problems.push({ severity: 'error', path: 'postgresql', message: `expected a mapping, got ${describe(raw['postgresql'])}; ignored` });
    const ints = {};
    for (const [target, field] of Object.entries(INT_FIELDS))
        ints[target] = readInt(raw, field, problems);
    const bools = {};
    for (const [target, key] of Object.entries(BOOL_FIELDS))
        bools[target] = readBool(raw, key, false, key, problems);
    const pgHba = readPgHba(pg['pg_hba'], problems);
    const cfg = {
        ...ints,
        ...bools,
        usePgRewind: readBool(pg, 'use_pg_rewind', false, 'postgresql.use_pg_rewind', problems),
        useSlots: readBool(pg, 'use_slots', true, 'postgresql.use_slots', problems),
        parameters: readParameters(pg['parameters'], problems),
        ...(pgHba === undefined ? {} : { pgHba }),
        raw: structuredClone(raw),
    };
    return { cfg, problems };
}
/** The dynamic configuration with Patroni's defaults filled in; never throws (see the module comment). */
export function parseDynamicConfig(raw) {
    return parseWithProblems(raw).cfg;
}
function checkShapes(raw, problems) {
    const expectMapping = (key) => {
        const value = raw[key];
        if (value !== undefined && value !== null && !isRecord(value))
            problems.push({ severity: 'error', path: key, message: `expected a mapping, got ${describe(value)}` });
    };
    expectMapping('slots');
    expectMapping('standby_cluster');
    const ignore = raw['ignore_slots'];
    if (ignore !== undefined && ignore !== null && !(Array.isArray(ignore) && ignore.every(isRecord))) {
        problems.push({ severity: 'error', path: 'ignore_slots', message: `expected a list of mappings, got ${describe(ignore)}` });
    }
}
/** `hot_standby: on` where keel forces on anyway is not worth a word. */
function isForcedValue(forced, value) {
    if (forced === undefined)
        return false;
    const forcedBool = parseBoolLike(forced);
    return forcedBool !== undefined ? parseBoolLike(value) === forcedBool : String(value) === forced;
}
/** Values Patroni would silently replace by its own default in postgresql.parameters. */
function checkControlledParameters(raw, problems) {
    const pg = raw['postgresql'];
    const params = isRecord(pg) && isRecord(pg['parameters']) ? pg['parameters'] : {};
    for (const [name, value] of Object.entries(params)) {
        const rule = CMDLINE_PARAMETERS[name.toLowerCase()];
        if (rule === undefined || value === null || value === undefined || rule.accepts(value) || isForcedValue(rule.defaultValue, value))
            continue;
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
export function validateDynamicConfig(raw) {
    if (!isRecord(raw))
        return [{ severity: 'error', path: '', message: `expected a mapping of dynamic settings, got ${describe(raw)}` }];
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
const seconds = (ms) => `${ms / 1000}`;
/**
 * Raises ttl, loop_wait and retry_timeout to their minimums, then makes
 * `loop_wait + 2 * retry_timeout <= ttl` hold: loop_wait is reduced first; only when even the
 * minimal loop_wait does not fit is retry_timeout reduced too (to whole seconds), as Patroni 3.2+.
 * Pure: returns the adjusted copy and one warning per change.
 */
export function adjustTimings(cfg) {
    const warnings = [];
    const atLeast = (name, valueMs, minMs) => {
        if (valueMs >= minMs)
            return valueMs;
        warnings.push(`${name}=${seconds(valueMs)} is below the minimum of ${seconds(minMs)} seconds; using ${seconds(minMs)}`);
        return minMs;
    };
    let loopWaitMs = atLeast('loop_wait', cfg.loopWaitMs, MIN_LOOP_WAIT_MS);
    let retryTimeoutMs = atLeast('retry_timeout', cfg.retryTimeoutMs, MIN_RETRY_TIMEOUT_MS);
    const ttlMs = atLeast('ttl', cfg.ttlMs, MIN_TTL_MS);
    const rule = 'loop_wait + 2*retry_timeout <= ttl';
    if (MIN_LOOP_WAIT_MS + 2 * retryTimeoutMs > ttlMs) {
        const newRetryMs = Math.floor((ttlMs - MIN_LOOP_WAIT_MS) / 2000) * 1000;
        warnings.push(`timings break the rule "${rule}" (ttl=${seconds(ttlMs)}): loop_wait lowered from ${seconds(loopWaitMs)} to ${seconds(MIN_LOOP_WAIT_MS)} and retry_timeout from ${seconds(retryTimeoutMs)} to ${seconds(newRetryMs)}`);
        loopWaitMs = MIN_LOOP_WAIT_MS;
        retryTimeoutMs = newRetryMs;
    }
    else if (loopWaitMs + 2 * retryTimeoutMs > ttlMs) {
        const newLoopMs = ttlMs - 2 * retryTimeoutMs;
        warnings.push(`timings break the rule "${rule}" (ttl=${seconds(ttlMs)}, retry_timeout=${seconds(retryTimeoutMs)}): loop_wait lowered from ${seconds(loopWaitMs)} to ${seconds(newLoopMs)}`);
        loopWaitMs = newLoopMs;
    }
    return { cfg: { ...cfg, ttlMs, loopWaitMs, retryTimeoutMs }, warnings };
}
//# sourceMappingURL=dynamic.js.map