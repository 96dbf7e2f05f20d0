/**
 * `keel explain [MEMBER]` — for each member, whether it would take over now (or, while a leader
 * holds the key, if that leader were lost now) and the rule that decides it: the agents' own
 * race rule run on what the cluster publishes (src/ha/explain.ts). A table, JSON on request.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { createHttpPeerClient } from '../api/peer-client.js';
import { restClientSettings } from '../config/rest-client-settings.js';
import { explainCluster } from '../ha/explain.js';
import { fetchPeers } from '../ha/peers.js';
import { renderPatronictlTable } from '../patroni/patronictl-table.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';

export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description('for each member: would it take over now, and which rule decides it')
    .argument('[member]', 'only this member')
    .option('--cluster <name>', 'the cluster (default: the scope of the configuration file)')
    .option('-f, --format <format>', 'pretty or json', 'pretty')
    .action(async (only: string | undefined, options: { cluster?: string; format: string }) => {
      if (options.format !== 'pretty' && options.format !== 'json')
        throw new KeelError('cli.bad_format', `--format must be pretty or json, got "${options.format}"`, { exitCode: 2 });
      const local = loadLocalConfig(program);
      checkClusterName(local, options.cluster);
      const insecure = program.opts<{ insecure?: boolean }>().insecure === true;
      await withDcs(local, async (dcs) => {
        const view = await dcs.loadCluster();
        if (only !== undefined && !view.members.some((m) => m.name === only))
          throw new KeelError('cli.no_member', `no member named "${only}" in cluster ${local.scope}`);
        const client = createHttpPeerClient(restClientSettings(local, insecure ? true : undefined));
        const statuses = await fetchPeers(client, view.members, '');
        const explained = explainCluster(view, statuses, new Date().toISOString(), only);
        if (options.format === 'json') {
          printOut(JSON.stringify(explained, null, 2));
          return;
        }
        const rows = explained.members.map((m) => [m.member, m.role, m.wouldTakeOver ? 'yes' : 'no', m.reason]);
        printOut(renderPatronictlTable(` Cluster: ${local.scope} `, ['Member', 'Role', explained.question, 'Rule'], rows));
        printOut(` ${explained.summary}`);
      });
    });
}
