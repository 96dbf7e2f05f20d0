/**
 * The Linux watchdog device (/dev/watchdog): opened ("armed") before promotion, written to
 * every cycle while we are the leader, closed with the magic 'V' on demote or pause so the
 * kernel does not reset the machine. If the agent hangs while leader, the kernel reboots the
 * node before a replica can be promoted — the last line of defence against two primaries.
 *
 * Limitation: Node has no ioctl, so the device's own timeout is used as is (softdog: 60 s);
 * keel logs it when armed. The logic of when to arm lives in the pure core.
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import type { WatchdogObservation } from './types.js';
import type { Logger } from '../observability/log.js';

export class WatchdogDevice {
  private fd: number | null = null;

  constructor(private readonly device: string, private readonly enabled: boolean, private readonly log: Logger) {}

  observe(): WatchdogObservation {
    return { available: this.enabled && (this.fd !== null || existsSync(this.device)), armed: this.fd !== null };
  }

  arm(): boolean {
    if (this.fd !== null) return true;
    if (!this.enabled) return false;
    try {
      this.fd = openSync(this.device, 'w');
      this.log.info(`watchdog ${this.device} armed (device timeout applies)`);
      return true;
    } catch (error) {
      this.log.warning(`cannot open watchdog ${this.device}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  keepalive(): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, '1');
    } catch (error) {
      this.log.error(`watchdog keepalive failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  disable(): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, 'V'); // magic close: stop the timer instead of rebooting
      closeSync(this.fd);
    } catch (error) {
      this.log.error(`watchdog disable failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.fd = null;
    this.log.info('watchdog disabled');
  }
}
