/** `keel history` — the timeline history (failovers and switchovers), as patronictl's `history`. */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { parseRecords } from '../ha/core/failover-record.js';
import { renderHistory } from '../patroni/history-render.js';
import { renderFailoverRecords } from './failover-records-render.js';
import { parseFormat } from './list-command.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('show the history of failovers and switchovers (patronictl history)')
    .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
    .option('-f, --format <format>', 'pretty, json, yaml or tsv', 'pretty')
    .option('--details', "keel's failover records: who was considered and why, the timings, what may have been lost, the rejoin (pretty or json)")
    .action(async (cluster: string | undefined, options: { format: string; details?: boolean }) => {
      const format = parseFormat(options.format);
      const local = loadLocalConfig(program);
      checkClusterName(local, cluster);
      if (options.details === true) {
        if (format !== 'pretty' && format !== 'json')
          throw new KeelError('cli.bad_format', `--details prints pretty or json, got "${format}"`, { exitCode: 2 });
        const stored = await withDcs(local, (dcs) => dcs.loadFailoverRecords());
        printOut(renderFailoverRecords(parseRecords(stored.text), format));
        return;
      }
      const view = await withDcs(local, (dcs) => dcs.loadCluster());
      printOut(renderHistory(view, format));
    });
}
