/**
 * What `keel agent` does first for either kind of node file (PostgreSQL or Galera): the logger
 * from the file's log section (--log-format wins), the configuration's warnings logged, and
 * --validate-config answered.
 */
import type { LogConfig } from '../config/types.js';
import { createLogger, levelFromPatroni, type Logger } from '../observability/log.js';

export interface AgentFlags {
  validateConfig?: boolean;
  logFormat?: string;
}

/** The agent's logger, or null when --validate-config asked only for the check (already answered). */
export function openAgentLog(file: string, config: { log: LogConfig; warnings: string[] }, flags: AgentFlags): Logger | null {
  const format = flags.logFormat === 'json' || flags.logFormat === 'text' ? flags.logFormat : config.log.format;
  const log = createLogger({ level: levelFromPatroni(config.log.level), format }, {});
  for (const warning of config.warnings) log.warning(warning);
  if (flags.validateConfig === true) {
    process.stdout.write(`${file}: valid\n`);
    return null;
  }
  return log;
}
