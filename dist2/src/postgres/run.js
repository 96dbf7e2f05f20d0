/**
 * Spawning PostgreSQL's command-line programs with a deadline, as the right OS user, capturing
 * their output for error messages. Secrets travel in the environment (PGPASSWORD), never in argv.
 */
import { spawn } from 'node:child_process';
import { KeelError } from '../errors.js';
import { postgresRunAs } from './os-user.js';
const OUTPUT_LIMIT_BYTES = 1 << 20;
/** Runs a program to completion; never throws for a non-zero exit (callers decide). */
export function runProgram(file, args, options) {
    const user = postgresRunAs();
    const env = {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        LANG: process.env['LANG'] ?? 'C.UTF-8',
        LC_ALL: process.env['LC_ALL'] ?? '',
        HOME: user?.home ?? process.env['HOME'] ?? '/',
        ...options.env,
    };
    if (env['LC_ALL'] === '')
        delete env['LC_ALL'];
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, {
            env,
            cwd: options.cwd ?? '/',
            stdio: ['ignore', 'pipe', 'pipe'],
            ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk) => {
            if (stdout.length < OUTPUT_LIMIT_BYTES)
                stdout += chunk;
        });
        child.stderr.setEncoding('utf8').on('data', (chunk) => {
            if (stderr.length < OUTPUT_LIMIT_BYTES)
                stderr += chunk;
            options.onStderr?.(chunk);
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
        child.on('error', (error) => {
            clearTimeout(timer);
            reject(new KeelError('postgres.spawn_failed', `cannot run ${file}: ${error.message}`, { cause: error }));
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}
/** Runs a program and throws a one-line KeelError quoting its last stderr line when it fails. */
export async function runProgramOrFail(file, args, options, what) {
    const result = await runProgram(file, args, options);
    if (result.code !== 0) {
        const detail = lastLines(result.stderr || result.stdout, 3) || (result.signal !== null ? `killed by ${result.signal}` : `exit code ${String(result.code)}`);
        throw new KeelError('postgres.command_failed', `${what} failed: ${detail}`);
    }
    return result;
}
export function lastLines(text, count) {
    return text.trim().split('\n').slice(-count).join(' | ');
}
//# sourceMappingURL=run.js.map