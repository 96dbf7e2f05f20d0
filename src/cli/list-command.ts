/**
 * `keel list` — patronictl's `list`: the cluster's members as a table (or JSON/YAML for scripts),
 * read straight from etcd so it works while agents are down.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import { renderList } from '../patroni/list-render.js';
import type { LocalConfig } from '../config/types.js';
import type { ClusterView } from '../dcs/types.js';

export type OutputFormat = 'pretty' | 'json' | 'yaml' | 'tsv';

export function parseFormat(value: string): OutputFormat {
  if (value === 'pretty' || value === 'json' || value === 'yaml' || value === 'tsv') return value;
  throw new KeelError('cli.bad_format', `--format must be pretty, json, yaml or tsv, got "${value}"`, { exitCode: 2 });
}

export function configFileOf(program: Command): string {
  const file = program.opts<{ configFile?: string }>().configFile;
  if (file === undefined)
    throw new KeelError('cli.no_config', 'no configuration file given', { hint: 'pass -c FILE (or set PATRONICTL_CONFIG_FILE)', exitCode: 2 });
  return file;
}

/** Reads the cluster described by a config file from etcd (for read-only CLI verbs). */
export async function readCluster(config: LocalConfig): Promise<ClusterView> {
  const dcs = new EtcdDcs({ etcd: config.etcd, namespace: config.namespace, scope: config.scope, name: config.name, retryTimeoutMs: 10_000 });
  try {
    return await dcs.loadCluster();
  } finally {
    await dcs.close();
  }
}

export async function listCluster(configFile: string, format: OutputFormat, extended = false): Promise<string> {
  const config = loadConfigFile(configFile, process.env);
  const view = await readCluster(config);
  return renderList(view, format, { scope: config.scope, extended });
}

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .alias('topology')
    .description("list the cluster's members (patronictl list)")
    .option('-f, --format <format>', 'pretty, json, yaml or tsv', 'pretty')
    .option('-e, --extended', 'always show Pending restart, Scheduled restart and Tags')
    .action(async (options: { format: string; extended?: boolean }) => {
      const output = await listCluster(configFileOf(program), parseFormat(options.format), options.extended === true);
      process.stdout.write(output.endsWith('\n') ? output : output + '\n');
    });
}
