/**
 * Structured logging: one line per event, readable text by default, JSON with
 * --log-format json (or KEEL_LOG_FORMAT=json, log.type json): one object per line,
 * `{"ts", "level", "msg", "fields"}`, `fields` always an object. Fields whose name looks secret
 * are redacted, and so are passwords inside connection strings (key=value and URL forms), in the
 * message as in the fields. Where lines go (stderr, or log.dir's rotated file) is the `write`
 * option: see log-file.ts.
 */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warning(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const SECRET_FIELD = /pass(word)?|secret|token|cipher/i;

export function redact(value: unknown, key = ''): unknown {
  if (SECRET_FIELD.test(key) && value !== undefined && value !== null) return '<redacted>';
  if (typeof value === 'string') return value.replace(/(password=)('[^']*'|\S+)/gi, '$1<redacted>').replace(/(:\/\/[^:/@\s]+:)[^@\s]+@/g, '$1<redacted>@');
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

export interface LoggerOptions {
  level: LogLevel;
  format: 'text' | 'json';
  write?: (line: string) => void;
  /** Wall-clock source for timestamps (log lines only; never used for decisions). */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (LEVEL_RANK[level] < LEVEL_RANK[options.level]) return;
    const all = redact({ ...base, ...fields }) as LogFields;
    const time = now().toISOString();
    if (options.format === 'json') {
      write(JSON.stringify({ ts: time, level, msg: redact(message), fields: all }));
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
export function levelFromPatroni(level: string): LogLevel {
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
