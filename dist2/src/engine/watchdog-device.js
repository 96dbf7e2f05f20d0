/**
 * The Linux watchdog device (/dev/watchdog): opened ("armed") before promotion, written to
 * every cycle while we are the leader, closed with the magic 'V' on demote or pause so the
 * kernel does not reset the machine. If the agent hangs while leader, the kernel reboots the
 * node before a replica can be promoted — the last line of defence against two primaries.
 *
 * Limitation: Node.js has no ioctl, so keel cannot program the device timeout
 * (WDIOC_SETTIMEOUT) to fire before the leader key can expire. A watchdog whose timeout is
 * unknown protects nothing, so — as Patroni does when it cannot set the timeout — the device is
 * reported unavailable: mode `automatic` runs without it, mode `required` refuses to promote.
 * The rules of when to arm, ping and disable live in the HA core (src/ha/core/watchdog-logic.ts)
 * and are tested there and in the simulator.
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
const TIMEOUT_PROGRAMMABLE = false;
export class WatchdogDevice {
    device;
    enabled;
    log;
    fd = null;
    constructor(device, enabled, log) {
        this.device = device;
        this.enabled = enabled;
        this.log = log;
    }
    /** Whether the device could be used safely: never, until the timeout can be programmed. */
    usable() {
        return this.enabled && TIMEOUT_PROGRAMMABLE && (this.fd !== null || existsSync(this.device));
    }
    observe() {
        return { available: this.usable(), armed: this.fd !== null };
    }
    /** Opens the device. `_timeoutMs` cannot be programmed from Node (see the module comment). */
    arm(_timeoutMs) {
        if (this.fd !== null)
            return true;
        if (!this.usable()) {
            this.log.warning(`watchdog ${this.device} is not usable: keel cannot program its timeout`);
            return false;
        }
        try {
            this.fd = openSync(this.device, 'w');
            this.log.info(`watchdog ${this.device} armed (device timeout applies)`);
            return true;
        }
        catch (error) {
            this.log.warning(`cannot open watchdog ${this.device}: ${error instanceof Error ? error.message : String(error)}`);
            return false;
        }
    }
    keepalive(_timeoutMs) {
        if (this.fd === null)
            return;
        try {
            writeSync(this.fd, '1');
        }
        catch (error) {
            this.log.error(`watchdog keepalive failed: ${error instanceof Error ? error.message : String(error)}`);
        }
    }
    disable() {
        if (this.fd === null)
            return;
        try {
            writeSync(this.fd, 'V'); // magic close: stop the timer instead of rebooting
            closeSync(this.fd);
        }
        catch (error) {
            this.log.error(`watchdog disable failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        this.fd = null;
        this.log.info('watchdog disabled');
    }
}
//# sourceMappingURL=watchdog-device.js.map