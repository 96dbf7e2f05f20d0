/** `keel history` — the timeline history (failovers and switchovers), as patronictl's `history`. */
import type { Command } from 'commander';
import { renderHistory } from '../patroni/history-render.js';
import { parseFormat } from './list-command.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('show the history of failovers and switchovers (patronictl history)')
    .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
    .option('-f, --format <format>', 'pretty, json, yaml or tsv', 'pretty')
    .action(async (cluster: string | undefined, options: { format: string }) => {
      const format = parseFormat(options.format);
      const local = loadLocalConfig(program);
      checkClusterName(local, cluster);
      const view = await withDcs(local, (dcs) => dcs.loadCluster());
      printOut(renderHistory(view, format));
    });
}
