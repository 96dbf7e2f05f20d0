/**
 * What `keel agent` does first for either kind of node file (PostgreSQL or Galera): the logger
 * from the file's log section (--log-format wins; log.dir sends the lines to a rotated
 * patroni.log there, as Patroni does), the configuration's warnings logged, and
 * --validate-config answered.
 */
import type { LogConfig } from '../config/types.js';
import { KeelError } from '../errors.js';
import { RotatingLogFile } from '../observability/log-file.js';
import { createLogger, levelFromPatroni, type Logger } from '../observability/log.js';

export interface AgentFlags {
  validateConfig?: boolean;
  logFormat?: string;
}

/** Where the lines go: stderr, or log.dir's file (opened now, so a bad directory fails before anything starts). */
function logWriter(config: LogConfig): ((line: string) => void) | undefined {
  if (config.file === undefined) return undefined;
  const file = new RotatingLogFile(config.file);
  try {
    file.open();
  } catch (error) {
    throw new KeelError('config.log_dir', `log.dir: cannot write ${file.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: 'log.dir must be a directory the agent can create and write',
    });
  }
  return (line) => file.write(line);
}

/** The agent's logger, or null when --validate-config asked only for the check (already answered). */
export function openAgentLog(file: string, config: { log: LogConfig; warnings: string[] }, flags: AgentFlags): Logger | null {
  if (flags.logFormat !== undefined && flags.logFormat !== 'json' && flags.logFormat !== 'text') {
    throw new KeelError('cli.log_format', `--log-format: expected json or text, got ${JSON.stringify(flags.logFormat)}`, { exitCode: 2 });
  }
  const format = flags.logFormat ?? config.log.format;
  const write = flags.validateConfig === true ? undefined : logWriter(config.log);
  const log = createLogger({ level: levelFromPatroni(config.log.level), format, ...(write === undefined ? {} : { write }) }, {});
  for (const warning of config.warnings) log.warning(warning);
  if (flags.validateConfig === true) {
    process.stdout.write(`${file}: valid\n`);
    return null;
  }
  return log;
}
