import { renderHistory } from '../patroni/history-render.js';
import { parseFormat } from './list-command.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';
export function registerHistoryCommand(program) {
    program
        .command('history')
        .description('show the history of failovers and switchovers (patronictl history)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-f, --format <format>', 'pretty, json, yaml or tsv', 'pretty')
        .action(async (cluster, options) => {
        const format = parseFormat(options.format);
        const local = loadLocalConfig(program);
        checkClusterName(local, cluster);
        const view = await withDcs(local, (dcs) => dcs.loadCluster());
        printOut(renderHistory(view, format));
    });
}
//# sourceMappingURL=history-command.js.map