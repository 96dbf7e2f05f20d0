/**
 * pgBackRest-style console log lines (`P00   INFO: backup command end: completed successfully`),
 * filtered by log-level-console. Progress on a TTY is separate (progress.ts).
 */
const LEVELS = ['off', 'error', 'warn', 'info', 'detail', 'debug', 'trace'] as const;
export type LogLevel = (typeof LEVELS)[number];

export class BackupLog {
  constructor(
    private readonly consoleLevel: LogLevel,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  private emit(level: Exclude<LogLevel, 'off'>, message: string): void {
    if (LEVELS.indexOf(level) > LEVELS.indexOf(this.consoleLevel)) return;
    this.write(`P00 ${level.toUpperCase().padStart(6)}: ${message}\n`);
  }

  info(message: string): void {
    this.emit('info', message);
  }
  warn(message: string): void {
    this.emit('warn', message);
  }
  detail(message: string): void {
    this.emit('detail', message);
  }
  enabled(level: LogLevel): boolean {
    return LEVELS.indexOf(level) <= LEVELS.indexOf(this.consoleLevel);
  }
}
