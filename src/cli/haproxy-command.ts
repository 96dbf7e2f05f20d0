/**
 * `keel haproxy-config` — prints an HAProxy configuration for the cluster's current members (read
 * from etcd): writes to the leader, reads to the replicas, a working stats page. Parsing and
 * printing only; the text comes from src/haproxy/config-render.ts.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import { parseSizeBytes } from '../api/lag.js';
import { renderHaproxyConfig, routedMembers, type HaproxyRenderOptions } from '../haproxy/config-render.js';
import { readCluster } from './list-command.js';
import { loadGaleraConfigFile } from '../galera/config.js';
import { galeraRoutedNodes, renderGaleraHaproxyConfig } from '../haproxy/galera-config-render.js';
import { etcdErrorsAsOneLine, isGaleraFile, readGaleraRegistrations } from './galera-command.js';

function badOption(flag: string, expected: string, value: string): KeelError {
  return new KeelError('cli.bad_option', `${flag} must be ${expected}, got "${value}"`, { exitCode: 2 });
}

/** A listener's address: PORT (every address) or ADDRESS:PORT. */
export function parseBind(flag: string, value: string): string {
  const match = /^(?:(\*|[0-9.]+|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) throw badOption(flag, 'a TCP port (1-65535) or ADDRESS:PORT', value);
  return `${match[1] ?? '*'}:${port}`;
}

/** An HAProxy time value: a positive integer with an optional unit (us, ms, s, m, h, d; none = ms). */
export function parseHaproxyTime(flag: string, value: string): string {
  const match = /^(\d+)(us|ms|s|m|h|d)?$/.exec(value.trim());
  if (match === null || Number(match[1]) === 0) throw badOption(flag, 'a positive duration such as 3s or 500ms', value);
  return match[0];
}

export function parseCount(flag: string, value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || count < 1 || count > 1000) throw badOption(flag, 'a whole number from 1 to 1000', value);
  return count;
}

/** --max-lag as the members' /replica?lag= reads it (Patroni's units): a value they would ignore is refused here. */
export function parseMaxLag(value: string): string {
  const bytes = parseSizeBytes(value);
  if (bytes === null || bytes < 0 || /\s/.test(value)) throw badOption('--max-lag', 'a size such as 16MB, 512kB or 1048576 (units B, kB, MB, GB, TB)', value);
  return value;
}

export function parseRuntimeSocket(value: string): string {
  if (value.startsWith('/')) return value;
  if (/^([0-9.]+|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value)) return value;
  throw badOption('--runtime-socket', 'an absolute unix socket path or HOST:PORT', value);
}

interface HaproxyFlags {
  configFile?: string;
  writePort: string;
  readPort: string;
  statsPort: string;
  inter: string;
  fall: string;
  rise: string;
  maxLag?: string;
  runtimeSocket?: string;
}

/** Every flag checked before etcd is asked anything: bad input changes nothing and reads nothing. */
export function renderOptionsFromFlags(scope: string, flags: HaproxyFlags): HaproxyRenderOptions {
  return {
    scope,
    writeBind: parseBind('--write-port', flags.writePort),
    readBind: parseBind('--read-port', flags.readPort),
    statsBind: parseBind('--stats-port', flags.statsPort),
    inter: parseHaproxyTime('--inter', flags.inter),
    fall: parseCount('--fall', flags.fall),
    rise: parseCount('--rise', flags.rise),
    maxLag: flags.maxLag === undefined ? null : parseMaxLag(flags.maxLag),
    runtimeSocket: flags.runtimeSocket === undefined ? null : parseRuntimeSocket(flags.runtimeSocket),
  };
}

/**
 * A galera.yml: writes to the single writer, reads to the Synced nodes. The PostgreSQL-only
 * options are refused rather than ignored, so a command line never means something it does not do.
 */
async function printGaleraConfig(file: string, flags: HaproxyFlags): Promise<void> {
  for (const [flag, value] of [
    ['--max-lag', flags.maxLag],
    ['--runtime-socket', flags.runtimeSocket],
  ] as const) {
    if (value !== undefined)
      throw new KeelError('cli.bad_option', `${flag} applies to PostgreSQL clusters only; ${file} is a Galera node's configuration`, { exitCode: 2 });
  }
  const config = loadGaleraConfigFile(file);
  const { maxLag: _maxLag, runtimeSocket: _runtimeSocket, ...options } = renderOptionsFromFlags(config.scope, flags);
  const { nodes, skipped } = galeraRoutedNodes(await readGaleraRegistrations(config));
  if (skipped.length > 0) process.stderr.write(`keel: left out (no SQL or REST API address registered yet): ${skipped.join(', ')}\n`);
  process.stdout.write(renderGaleraHaproxyConfig(nodes, options));
}

export function registerHaproxyCommand(program: Command): void {
  program
    .command('haproxy-config')
    .description(
      "print an HAProxy configuration for the cluster's current members (writes to the leader, reads to the replicas; for a galera.yml, writes to the single writer, reads to the Synced nodes)",
    )
    .option('-c, --config-file <file>', 'configuration file of any member (default: keel -c)')
    .option('--write-port <port>', 'write listener: PORT or ADDRESS:PORT', '5000')
    .option('--read-port <port>', 'read listener: PORT or ADDRESS:PORT', '5001')
    .option('--stats-port <port>', 'stats page: PORT or ADDRESS:PORT', '7000')
    .option('--inter <time>', 'health check interval', '3s')
    .option('--fall <n>', 'failed checks before a server is marked down', '3')
    .option('--rise <n>', 'passed checks before a server is marked up', '2')
    .option('--max-lag <size>', 'reads only from replicas within this lag of the leader (e.g. 16MB)')
    .option('--runtime-socket <path>', "HAProxy's runtime API (unix socket path or HOST:PORT) the agents announce role changes to")
    .action(async (flags: HaproxyFlags) => {
      const file = flags.configFile ?? program.opts<{ configFile?: string }>().configFile;
      if (file === undefined)
        throw new KeelError('cli.no_config', 'no configuration file given', { hint: 'pass -c FILE (or set PATRONICTL_CONFIG_FILE)', exitCode: 2 });
      if (isGaleraFile(file)) {
        await etcdErrorsAsOneLine(() => printGaleraConfig(file, flags));
        return;
      }
      const config = loadConfigFile(file, process.env);
      const options = renderOptionsFromFlags(config.scope, flags);
      const { members, skipped } = routedMembers(await readCluster(config));
      if (skipped.length > 0) process.stderr.write(`keel: left out (no conn_url or api_url yet): ${skipped.join(', ')}\n`);
      process.stdout.write(renderHaproxyConfig(members, options));
    });
}
