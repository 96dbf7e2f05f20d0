/**
 * The recovery settings a restore writes, as pgBackRest does: restore_command and the recovery
 * target in postgresql.auto.conf (earlier recovery lines commented out, never silently kept),
 * and the signal file. Pure text functions; restore.ts writes the files.
 */

export type RestoreType = 'default' | 'immediate' | 'time' | 'xid' | 'name' | 'lsn' | 'standby' | 'preserve' | 'none';

export interface RecoveryTarget {
  type: RestoreType;
  target: string | null;
  targetAction: 'pause' | 'promote' | 'shutdown';
  targetExclusive: boolean;
  targetTimeline: string | null;
}

const RECOVERY_KEYS = /^\s*(restore_command|recovery_target\w*|recovery_end_command|archive_cleanup_command)\s*=/;

export function quoteConfValue(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The settings lines for a target (restore_command first). */
export function recoveryLines(restoreCommand: string, target: RecoveryTarget): string[] {
  const lines = [`restore_command = ${quoteConfValue(restoreCommand)}`];
  const set = (key: string, value: string) => lines.push(`${key} = ${quoteConfValue(value)}`);
  switch (target.type) {
    case 'immediate':
      set('recovery_target', 'immediate');
      break;
    case 'time':
      set('recovery_target_time', target.target ?? '');
      break;
    case 'xid':
      set('recovery_target_xid', target.target ?? '');
      break;
    case 'name':
      set('recovery_target_name', target.target ?? '');
      break;
    case 'lsn':
      set('recovery_target_lsn', target.target ?? '');
      break;
    default:
      break;
  }
  const targeted = ['immediate', 'time', 'xid', 'name', 'lsn'].includes(target.type);
  if (targeted && target.targetAction !== 'pause') set('recovery_target_action', target.targetAction);
  if (targeted && target.targetExclusive && target.type !== 'immediate') set('recovery_target_inclusive', 'false');
  if (target.targetTimeline !== null) set('recovery_target_timeline', target.targetTimeline);
  return lines;
}

/** postgresql.auto.conf with earlier recovery settings commented out and ours appended. */
export function rewriteAutoConf(existing: string, lines: readonly string[], label: string): string {
  const kept = existing
    .split('\n')
    .filter((line, index, all) => !(index === all.length - 1 && line === ''))
    .map((line) => (RECOVERY_KEYS.test(line) ? `# Removed by keel restore ${label}: ${line}` : line));
  return [...kept, `# Recovery settings written by keel restore (backup ${label})`, ...lines, ''].join('\n');
}
