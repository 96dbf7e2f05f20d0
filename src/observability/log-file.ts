/**
 * log.dir: the agent's log lines in <dir>/patroni.log, rotated as Patroni's (Python's)
 * RotatingFileHandler does, so operators' logrotate/shipping set-ups written for Patroni keep
 * working: before a line would take the file past `sizeMaxBytes`, patroni.log.(N-1) becomes
 * patroni.log.N (the oldest is dropped), ..., patroni.log becomes patroni.log.1, and a new
 * patroni.log is started. `sizeMaxBytes` 0 or `keptFiles` 0 never rotates (Python's handler
 * behaves so too).
 *
 * Writes are synchronous: a line logged just before a crash or a fence is on disk, and lines
 * never interleave. The agent logs a few lines per cycle, so the cost is negligible. A write that
 * fails (disk full) is reported once on stderr and the line is written there instead; logging
 * never throws into the agent.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { LogFileConfig } from '../config/types.js';

/** Patroni names its file after its logging module, patroni.log. */
export const LOG_FILE_NAME = 'patroni.log';

export class RotatingLogFile {
  private fd: number | null = null;
  private sizeBytes = 0;
  private failed = false;
  readonly path: string;

  constructor(private readonly config: LogFileConfig) {
    this.path = join(config.dir, LOG_FILE_NAME);
  }

  /** Opens (creating the directory and file) so that a bad log.dir fails at start, not on the first line. */
  open(): void {
    mkdirSync(this.config.dir, { recursive: true });
    this.fd = openSync(this.path, 'a', 0o640);
    this.sizeBytes = fstatSync(this.fd).size;
  }

  /** Appends one line (a newline is added). */
  write(line: string): void {
    const data = Buffer.from(line + '\n', 'utf8');
    try {
      if (this.fd === null) this.open();
      if (this.shouldRotate(data.length)) this.rotate();
      writeSync(this.fd as number, data);
      this.sizeBytes += data.length;
    } catch (error) {
      if (!this.failed)
        process.stderr.write(`cannot write the log file ${this.path}: ${error instanceof Error ? error.message : String(error)}; logging to stderr\n`);
      this.failed = true;
      process.stderr.write(data);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private shouldRotate(nextBytes: number): boolean {
    const { sizeMaxBytes, keptFiles } = this.config;
    return sizeMaxBytes > 0 && keptFiles > 0 && this.sizeBytes > 0 && this.sizeBytes + nextBytes > sizeMaxBytes;
  }

  private rotate(): void {
    this.close();
    const kept = this.config.keptFiles;
    rmSync(`${this.path}.${kept}`, { force: true });
    for (let n = kept - 1; n >= 1; n--) {
      try {
        renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    renameSync(this.path, `${this.path}.1`);
    this.open();
  }
}
