/**
 * Structured logging: one line per event, readable text by default, JSON with
 * --log-format json (or KEEL_LOG_FORMAT=json). Fields whose name looks secret are redacted,
 * and so are passwords inside connection strings.
 */
const LEVEL_RANK = { debug: 10, info: 20, warning: 30, error: 40 };
const SECRET_FIELD = /pass(word)?|secret|token|cipher/i;
export function redact(value, key = '') {
    if (SECRET_FIELD.test(key) && value !== undefined && value !== null)
        return '<redacted>';
    if (typeof value === 'string')
        return value.replace(/(password=)('[^']*'|\S+)/gi, '$1<redacted>').replace(/(:\/\/[^:/@\s]+:)[^@\s]+@/g, '$1<redacted>@');
    if (Array.isArray(value))
        return value.map((item) => redact(item));
    if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
    }
    return value;
}
export function createLogger(options, base = {}) {
    const write = options.write ?? ((line) => process.stderr.write(line + '\n'));
    const now = options.now ?? (() => new Date());
    const emit = (level, message, fields = {}) => {
        if (LEVEL_RANK[level] < LEVEL_RANK[options.level])
            return;
        const all = redact({ ...base, ...fields });
        const time = now().toISOString();
        if (options.format === 'json') {
            write(JSON.stringify({ time, level, msg: redact(message), ...all }));
            return;
        }
        const extras = Object.entries(all)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
        write(`${time.replace('T', ' ').replace('Z', '')} ${level.toUpperCase()}: ${String(redact(message))}${extras === '' ? '' : ` ${extras}`}`);
    };
    return {
        debug: (m, f) => emit('debug', m, f),
        info: (m, f) => emit('info', m, f),
        warning: (m, f) => emit('warning', m, f),
        error: (m, f) => emit('error', m, f),
        child: (fields) => createLogger(options, { ...base, ...fields }),
    };
}
/** Maps Patroni's log levels (DEBUG, INFO, WARNING, ERROR, CRITICAL) to keel's. */
export function levelFromPatroni(level) {
    switch (level.toLowerCase()) {
        case 'debug':
            return 'debug';
        case 'warning':
        case 'warn':
            return 'warning';
        case 'error':
        case 'critical':
        case 'fatal':
            return 'error';
        default:
            return 'info';
    }
}
//# sourceMappingURL=log.js.map