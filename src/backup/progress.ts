/**
 * A progress line with throughput for long backups and restores, drawn only on a terminal
 * (stderr is a TTY); elsewhere the log lines are the progress. Redrawn at most 5 times a second.
 */
export class Progress {
  private doneBytes = 0;
  private lastDrawMs = 0;
  private readonly startMs = Date.now();
  private readonly enabled: boolean;

  constructor(
    private readonly what: string,
    private readonly totalBytes: number,
    enabled?: boolean,
  ) {
    this.enabled = enabled ?? process.stderr.isTTY === true;
  }

  advance(bytes: number): void {
    this.doneBytes += bytes;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDrawMs < 200) return;
    this.lastDrawMs = now;
    this.draw(now);
  }

  private draw(now: number): void {
    const fraction = this.totalBytes === 0 ? 1 : Math.min(1, this.doneBytes / this.totalBytes);
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = Math.max(0.001, (now - this.startMs) / 1000);
    const rate = this.doneBytes / seconds / (1024 * 1024);
    process.stderr.write(
      `\r${this.what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
        `${(this.doneBytes / (1024 * 1024)).toFixed(0)}/${(this.totalBytes / (1024 * 1024)).toFixed(0)} MiB ${rate.toFixed(1)} MiB/s `,
    );
  }

  finish(): void {
    if (!this.enabled) return;
    this.draw(Date.now());
    process.stderr.write('\n');
  }
}
