/**
 * What the benchmarks share: command-line options, a monotonic clock, the writer (an application
 * going through a libpq multi-host string with target_session_attrs=read-write, one line per
 * acknowledged commit), and median/min/max.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Timings compared by the benchmarks: the seed's patroni.yml, and short ones. */
export interface Setting {
  name: string;
  ttlS: number;
  loopWaitS: number;
  retryTimeoutS: number;
}
export const SETTINGS: Setting[] = [
  { name: 'seed', ttlS: 30, loopWaitS: 10, retryTimeoutS: 10 },
  { name: 'fast', ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 },
];

export function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

/** CLOCK_MONOTONIC in ms: the same clock as the Python writer's time.monotonic_ns(). */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Ack {
  id: number;
  port: number;
  atMs: number;
}

/** bench/failover-writer.py as a child process; `acks` grows as commits are acknowledged. */
export class Writer {
  readonly acks: Ack[] = [];
  private child: ChildProcess;
  private finished: Promise<void>;
  constructor(dsn: string, table: string) {
    const script = fileURLToPath(new URL('../../bench/failover-writer.py', import.meta.url));
    this.child = spawn('/usr/bin/python3', [script, dsn, table], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => {
      const [kind, id, port, ns] = line.split(' ');
      if (kind === 'ack') this.acks.push({ id: Number(id), port: Number(port), atMs: Number(ns) / 1e6 });
    });
    this.finished = new Promise((resolve) => this.child.on('close', () => resolve()));
  }
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await Promise.race([this.finished, new Promise((r) => setTimeout(r, 5000))]);
    this.child.kill('SIGKILL');
  }
}

export function stats(values: Array<number | null>): { median: number | null; min: number | null; max: number | null } {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
  return { median, min: v[0] ?? null, max: v[v.length - 1] ?? null };
}

/** Seconds with two decimals, '-' for none. */
export const fmt = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(2));

/**
 * RSS and CPU seconds of a process: `cpuS` its own (utime + stime), `childrenCpuS` that of the
 * children it has waited for (cutime + cstime: the pg_controldata, psql or callback runs it
 * spawned and reaped).
 */
export function procStats(pid: number): { rssKb: number; cpuS: number; childrenCpuS: number } {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`]).toString();
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = execFileSync('cat', [`/proc/${pid}/stat`]).toString();
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const childTicks = Number(fields[13]) + Number(fields[14]);
    return { rssKb, cpuS: ticks / 100, childrenCpuS: childTicks / 100 };
  } catch {
    return { rssKb: 0, cpuS: 0, childrenCpuS: 0 };
  }
}
