/**
 * Typed errors for expected operational failures.
 *
 * An expected failure (bad config, unreachable etcd, foreign data directory, ...) is a KeelError:
 * it carries a stable `code`, a one-line user-facing message and optionally a hint with the next
 * step. The CLI prints `message` (and `hint`) and exits with `exitCode`; stack traces only with
 * --debug. Anything that is not a KeelError is a bug and is printed with its stack.
 */
export class KeelError extends Error {
    code;
    hint;
    exitCode;
    constructor(code, message, options = {}) {
        super(message, options.cause === undefined ? undefined : { cause: options.cause });
        this.name = 'KeelError';
        this.code = code;
        this.hint = options.hint;
        this.exitCode = options.exitCode ?? 1;
    }
}
/** Invalid configuration: exit code 2, nothing started. `path` is the YAML key path (e.g. `postgresql.listen`). */
export class ConfigError extends KeelError {
    path;
    constructor(path, message, hint) {
        super('config.invalid', path === '' ? message : `${path}: ${message}`, { exitCode: 2, ...(hint === undefined ? {} : { hint }) });
        this.name = 'ConfigError';
        this.path = path;
    }
}
/** Renders an error for a terminal: one line for expected failures, the stack for bugs. */
export function renderError(error, debug) {
    if (error instanceof KeelError) {
        const lines = [`keel: ${error.message}`];
        if (error.hint !== undefined)
            lines.push(`hint: ${error.hint}`);
        if (debug && error.stack !== undefined)
            lines.push(error.stack);
        return lines.join('\n');
    }
    if (error instanceof Error)
        return `keel: internal error: ${error.stack ?? error.message}`;
    return `keel: internal error: ${String(error)}`;
}
//# sourceMappingURL=errors.js.map