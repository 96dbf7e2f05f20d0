/**
 * The Linux watchdog device (/dev/watchdog, softdog or hardware): opened ("armed") before
 * promotion, pinged every cycle while we are the leader, closed with the magic 'V' on demote or
 * pause so the kernel does not reset the machine. If the agent hangs or dies while leader, the
 * kernel resets the node before a replica can be promoted: the last line of defence against two
 * primaries.
 *
 * Each arm and ping programs the device's timeout (WDIOC_SETTIMEOUT) so that it fires before the
 * leader key can expire (core/watchdog-logic.ts). Node has no ioctl, so the device is held by
 * keel-fence (native/keel-fence.c), the agent's small C helper, which opens it, programs it and
 * pings it when asked ("wd-open", "wd-ping", "wd-close" over its socket). keel-fence pings only
 * when the agent asks: a frozen agent lets the device fire. A device whose timeout cannot be
 * programmed, or that would only accept a longer one, is refused (keel-fence closes it with the
 * magic character) and reported unavailable for a while, as Patroni does: mode `automatic` then
 * runs without it, mode `required` refuses to promote. The rules of when to arm, ping and disable
 * live in the HA core (src/ha/core/watchdog-logic.ts) and are tested there and in the simulator.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../observability/log.js';

/** What the device offers now (the HA core's WatchdogObservation has this shape). */
export interface WatchdogState {
  available: boolean;
  armed: boolean;
}

/** The helper that holds the device: keel-fence's request channel (ProcessFence.ask). */
export interface WatchdogHelper {
  /** Whether the helper can run at all (its binary is there). */
  present(): boolean;
  /** One request and its one-line answer; null when the helper could not be reached in time. */
  ask(request: string, timeoutMs: number): Promise<string | null>;
}

/** How long an answer from keel-fence may take (it starts in milliseconds; this covers a start). */
const ASK_TIMEOUT_MS = 3000;
/** After a failed arm, the device counts as unavailable this long before it is tried again. */
const RETRY_AFTER_FAILURE_MS = 30_000;

export class WatchdogDevice {
  private armed = false;
  private failedAtMs: number | null = null;
  /** A ping in flight: the next one is not queued behind it (the cycle pings again soon). */
  private pinging = false;

  constructor(
    private readonly device: string,
    private readonly enabled: boolean,
    private readonly helper: WatchdogHelper,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Usable: configured, present, keel-fence present, and no failed arm recently (keel-fence's ioctls tell a device from a file). */
  observe(): WatchdogState {
    return { available: this.armed || this.usable(), armed: this.armed };
  }

  private usable(): boolean {
    // called every cycle: the device (absent on most hosts) is looked at before keel-fence's binary
    if (!this.enabled || /\s/.test(this.device) || !existsSync(this.device)) return false;
    if (this.failedAtMs !== null && this.now() - this.failedAtMs < RETRY_AFTER_FAILURE_MS) return false;
    return this.helper.present();
  }

  /** Opens the device through keel-fence with a timeout of `timeoutMs` (whole seconds); false when it cannot be used. */
  async arm(timeoutMs: number): Promise<boolean> {
    if (this.armed) {
      this.keepalive(timeoutMs);
      return true;
    }
    if (!this.usable()) {
      this.log.warning(`watchdog ${this.device} is not usable (no such device, or it failed within the last ${RETRY_AFTER_FAILURE_MS / 1000} s)`);
      return false;
    }
    const seconds = Math.floor(timeoutMs / 1000);
    const answer = await this.helper.ask(`wd-open ${this.device} ${seconds}`, ASK_TIMEOUT_MS);
    const granted = /^wd ok (\d+)$/.exec(answer ?? '');
    if (granted === null) {
      this.failedAtMs = this.now();
      this.log.warning(`cannot use watchdog ${this.device}: ${failure(answer)}`);
      return false;
    }
    this.armed = true;
    this.failedAtMs = null;
    this.log.info(`watchdog ${this.device} armed: it resets this host unless pinged within ${granted[1]} s`);
    return true;
  }

  /** Programs the timeout again and pings (keel-fence answers at once; its answer is checked, not waited for by the cycle). */
  keepalive(timeoutMs: number): void {
    if (!this.armed || this.pinging) return;
    this.pinging = true;
    void this.helper.ask(`wd-ping ${Math.floor(timeoutMs / 1000)}`, ASK_TIMEOUT_MS).then((answer) => {
      this.pinging = false;
      if (answer !== null && answer.startsWith('wd ok')) return;
      // keel-fence restarted (the device closed without its magic character: still counting
      // down) or the device failed: armed again by the next cycle, if the leader still wants it.
      if (answer === 'wd error not open') this.armed = false;
      this.log.error(`watchdog keepalive failed: ${failure(answer)}`);
    });
  }

  /** Magic close: the device stops without resetting the host. */
  disable(): void {
    if (!this.armed) return;
    this.armed = false;
    void this.helper.ask('wd-close', ASK_TIMEOUT_MS).then((answer) => {
      if (answer === 'wd closed') this.log.info('watchdog disabled');
      else this.log.error(`watchdog disable: keel-fence ${answer === null ? 'did not answer' : `answered ${answer}`}`);
    });
  }
}

/** What went wrong, from keel-fence's answer ("wd error <why>") or its silence. */
function failure(answer: string | null): string {
  return answer === null ? 'keel-fence did not answer' : answer.replace(/^wd error /, '');
}
