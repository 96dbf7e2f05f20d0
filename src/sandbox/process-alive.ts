/**
 * Whether a process still lives, for the sandbox's PID bookkeeping (its record, etcd members, the
 * port reservations of ports.ts). Kept apart so that ports.ts, which etcd-cluster.ts imports, can
 * use it too.
 */
import { readFileSync } from 'node:fs';

/** Whether `pid` is a live process (zombies count as gone). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}
