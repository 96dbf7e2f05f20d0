/**
 * POST /restart as Patroni 3.0.2 reads it (api.py do_POST_restart, ha.py restart_matches and
 * should_run_scheduled_action), as pure functions: validating the request body, checking its
 * filters against this node, and when a scheduled restart is due. No clock is read here: the
 * caller passes the wall-clock time (schedules are wall-clock instants given by people).
 */
/**
 * Patroni's postgres_version_to_int: "X.Y" (10 and later) or "X.Y.Z", as server_version_num
 * (15.6 -> 150006, 9.6.2 -> 90602). Throws Patroni's message.
 */
export function postgresVersionToInt(version) {
    const parts = version.split('.');
    if (parts.some((p) => !/^\s*[+-]?\d+\s*$/.test(p)))
        throw new RangeError(`Invalid PostgreSQL version: ${version}`);
    const numbers = parts.map(Number);
    if (numbers.length < 2 || (numbers.length === 2 && (numbers[0] ?? 0) < 10) || numbers.length > 3) {
        throw new RangeError(`Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${version}`);
    }
    // 10.1 is 10.0.1: two digits per component.
    if (numbers.length === 2)
        numbers.splice(1, 0, 0);
    return Number(numbers.map((n) => String(n).padStart(2, '0')).join(''));
}
/** Patroni's parse_int(value, 's') for `timeout`: a number, or a string with an optional unit. */
function timeoutSeconds(value) {
    if (typeof value === 'number')
        return Number.isFinite(value) ? Math.round(value) : undefined;
    if (typeof value !== 'string')
        return undefined;
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(value);
    if (match === null)
        return undefined;
    const factor = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };
    return Math.round(Number(match[1]) * (factor[match[2] ?? 's'] ?? 1));
}
/** An ISO 8601 timestamp; a timezone is mandatory (as Patroni: 400 without one). */
function parseSchedule(value, nowWallMs) {
    const unparsable = { ok: false, code: 422, text: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601' };
    if (typeof value !== 'string')
        return unparsable;
    const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim());
    if (match === null)
        return unparsable;
    if (match[3] === undefined)
        return { ok: false, code: 400, text: 'Timezone information is mandatory for the scheduled restart' };
    const zone = match[3].toUpperCase() === 'Z' ? 'Z' : match[3].length === 3 ? `${match[3]}:00` : match[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
    const atWallMs = Date.parse(`${match[1]}T${match[2]}${zone}`);
    if (!Number.isFinite(atWallMs))
        return unparsable;
    if (atWallMs < nowWallMs)
        return { ok: false, code: 422, text: 'Cannot schedule restart in the past' };
    return { ok: true, atWallMs, iso: `${match[1]}T${match[2]}${zone === 'Z' ? '+00:00' : zone}` };
}
/**
 * Validates a POST /restart body in Patroni's order: "Can't schedule restart in the paused
 * state" (500) first, then each key as it comes (the first bad one answers).
 */
export function parseRestartRequest(body, nowWallMs, paused) {
    if (paused && 'schedule' in body)
        return { ok: false, code: 500, text: "Can't schedule restart in the paused state" };
    const filters = {};
    let schedule = null;
    for (const [key, value] of Object.entries(body)) {
        if (key === 'schedule') {
            const parsed = parseSchedule(value, nowWallMs);
            if (!parsed.ok)
                return parsed;
            schedule = parsed;
        }
        else if (key === 'role') {
            if (value !== 'master' && value !== 'primary' && value !== 'replica')
                return { ok: false, code: 400, text: 'PostgreSQL role should be either primary or replica' };
            filters.role = value === 'replica' ? 'replica' : 'primary';
        }
        else if (key === 'postgres_version') {
            try {
                postgresVersionToInt(String(value));
            }
            catch (error) {
                return { ok: false, code: 400, text: error.message };
            }
            filters.postgresVersion = String(value);
        }
        else if (key === 'timeout') {
            const seconds = timeoutSeconds(value);
            if (seconds === undefined || seconds <= 0)
                return { ok: false, code: 400, text: 'Timeout should be a positive number of seconds' };
            filters.timeoutMs = seconds * 1000;
        }
        else if (key === 'restart_pending') {
            // Patroni tests the key's presence, not its value.
            filters.restartPending = true;
        }
        else {
            return { ok: false, code: 400, text: `Unknown filter for the scheduled restart: ${key}` };
        }
    }
    if (schedule === null)
        return { ok: true, kind: 'now', filters };
    return {
        ok: true,
        kind: 'scheduled',
        scheduled: { atWallMs: schedule.atWallMs, scheduleIso: schedule.iso, filters, raw: { ...body, schedule: schedule.iso } },
    };
}
/** Patroni's restart_matches: null when the filters allow the restart, else why not. */
export function restartMismatch(filters, target) {
    let reason = null;
    if (filters.role !== undefined && filters.role !== target.role)
        reason = 'host role mismatch';
    if (filters.postgresVersion !== undefined && postgresVersionToInt(filters.postgresVersion) <= (target.serverVersion ?? 0))
        reason = 'postgres version mismatch';
    if (filters.restartPending === true && !target.pendingRestart)
        reason = 'pending restart flag is not set';
    return reason;
}
/** A scheduled restart this close ahead runs now (the loop wakes for it about this early). */
export const SCHEDULE_EARLY_MS = 1000;
/**
 * should_run_scheduled_action for a restart: 'wait' while it is ahead (more than SCHEDULE_EARLY_MS),
 * 'stale' once it is more than 1.5 x loop_wait behind (the loop was held up; drop it), else 'run'.
 */
export function scheduledRestartTiming(atWallMs, nowWallMs, loopWaitMs) {
    const deltaMs = atWallMs - nowWallMs;
    if (deltaMs > SCHEDULE_EARLY_MS)
        return 'wait';
    if (deltaMs < -Math.trunc((loopWaitMs * 1.5) / 1000) * 1000)
        return 'stale';
    return 'run';
}
//# sourceMappingURL=restart-request.js.map