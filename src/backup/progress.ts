/**
 * Progress of a long backup or restore. On a terminal (stderr is a TTY, or --progress) a bar with
 * percentage, bytes, throughput and time left, redrawn in place at most 5 times a second and
 * fitted to the terminal's width; elsewhere (a log file, a pipe, cron, or --no-progress) a
 * "P00 DETAIL:" log line at every tenth of the way, so a log shows progress without a flood of
 * lines. The clock and the stream are arguments, so tests feed a fake terminal.
 */
import type { BackupLog } from './log.js';

/** Where the bar is drawn: process.stderr, or a fake terminal in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Receives the progress lines when no bar is drawn (none: silent). */
  log?: BackupLog;
  nowMs?: () => number;
}

const REDRAW_MS_MIN = 200;
const BAR_WIDTH_MAX = 30;
const BAR_WIDTH_MIN = 10;
const LOG_STEPS = 10;
const MIB = 1024 * 1024;

export class Progress {
  private doneBytes = 0;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private loggedSteps = 0;
  private readonly startMs: number;
  private readonly bar: boolean;
  private readonly stream: ProgressStream;
  private readonly log: BackupLog | undefined;
  private readonly nowMs: () => number;

  /** `bar`: true draws the bar, false never does, undefined draws it when the stream is a TTY. */
  constructor(
    private readonly what: string,
    private readonly totalBytes: number,
    bar?: boolean,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.log = options.log;
    this.nowMs = options.nowMs ?? Date.now;
    this.bar = bar ?? this.stream.isTTY === true;
    this.startMs = this.nowMs();
  }

  advance(bytes: number): void {
    this.doneBytes += bytes;
    const now = this.nowMs();
    if (this.bar) {
      if (now - this.lastDrawMs < REDRAW_MS_MIN) return;
      this.lastDrawMs = now;
      this.stream.write(`\r${this.barLine(now)}\x1b[K`);
      return;
    }
    const steps = Math.floor(this.fraction() * LOG_STEPS);
    if (steps > this.loggedSteps && steps < LOG_STEPS) {
      this.loggedSteps = steps;
      this.log?.detail(this.logLine(now));
    }
  }

  /** The last bar (100%, average throughput) and a newline; on a log, the closing line. */
  finish(): void {
    const now = this.nowMs();
    if (this.bar) this.stream.write(`\r${this.barLine(now)}\x1b[K\n`);
    else this.log?.detail(this.logLine(now));
  }

  private fraction(): number {
    return this.totalBytes <= 0 ? 1 : Math.min(1, this.doneBytes / this.totalBytes);
  }

  private rateMibS(now: number): number {
    return this.doneBytes / MIB / Math.max(0.001, (now - this.startMs) / 1000);
  }

  private figures(now: number): string {
    const elapsedS = (now - this.startMs) / 1000;
    const rate = this.rateMibS(now);
    // no estimate in the first second: the rate of the first few chunks says little
    const leftS = rate > 0 && elapsedS >= 1 ? (this.totalBytes - this.doneBytes) / MIB / rate : Number.POSITIVE_INFINITY;
    const eta = this.doneBytes >= this.totalBytes ? `in ${formatSeconds(elapsedS)}` : `${formatSeconds(leftS)} left`;
    return `${(this.doneBytes / MIB).toFixed(0)}/${(this.totalBytes / MIB).toFixed(0)} MiB, ${rate.toFixed(1)} MiB/s, ${eta}`;
  }

  private barLine(now: number): string {
    const percent = `${(this.fraction() * 100).toFixed(0).padStart(3)}%`;
    const figures = this.figures(now);
    const columns = this.stream.columns ?? 80;
    // the bar keeps one width (the figures' widest form), and the line never reaches the last column (no wrap: \r must reach its start)
    const widestFigures = `${(this.totalBytes / MIB).toFixed(0)}/${(this.totalBytes / MIB).toFixed(0)} MiB, 9999.9 MiB/s, 59m59s left`.length;
    const room = columns - 1 - (this.what.length + percent.length + widestFigures + 5);
    const width = Math.max(BAR_WIDTH_MIN, Math.min(BAR_WIDTH_MAX, room));
    const filled = Math.round(this.fraction() * width);
    const line = `${this.what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent} ${figures}`;
    return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1));
  }

  private logLine(now: number): string {
    return `${this.what}: ${(this.fraction() * 100).toFixed(0)}% (${this.figures(now)})`;
  }
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
