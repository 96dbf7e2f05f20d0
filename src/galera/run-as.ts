/** Runs a MariaDB program to completion as a given OS user, with a deadline; never throws for a non-zero exit. */
import { spawn } from 'node:child_process';
import { KeelError } from '../errors.js';
import type { OsUser } from '../postgres/os-user.js';

const OUTPUT_LIMIT_BYTES = 1 << 20;

export interface RunAsResult {
  code: number | null;
  /** stdout and stderr together. */
  output: string;
  /** The last lines of the output, for one-line error messages. */
  tail: string;
}

export function runProgramAs(user: OsUser | null, file: string, args: string[], timeoutMs: number): Promise<RunAsResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: user?.home ?? '/' },
      ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      if (output.length < OUTPUT_LIMIT_BYTES) output += chunk.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new KeelError('galera.spawn_failed', `cannot run ${file}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, tail: output.trim().split('\n').slice(-3).join(' | ') });
    });
  });
}
