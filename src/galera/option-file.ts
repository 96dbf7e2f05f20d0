/**
 * The MariaDB option file keel renders for one Galera node (mariadbd --defaults-file=...), with
 * the seed's Galera settings: wsrep on, the provider, the cluster address built from the members
 * registered in etcd, the node's name and addresses, the SST method, the applier threads, and
 * what Galera requires of the server (binlog_format=ROW, InnoDB, innodb_autoinc_lock_mode=2).
 * The operator's `parameters` come last, so they win where keel does not own the key (config.ts
 * refuses the owned ones). Pure: the same inputs give the same text.
 */
import type { HostPort } from '../config/types.js';
import type { GaleraNodeConfig } from './config.js';

export interface OptionFileInput {
  name: string;
  node: GaleraNodeConfig;
  /** gmcast addresses of the other members (empty: a new cluster, gcomm://). */
  peers: HostPort[];
  /** Where mariadbd writes its error log and pid file. */
  errorLog: string;
  pidFile: string;
}

function hostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** gcomm://a:4567,b:4567 — the order is made stable so an unchanged membership renders the same file. */
export function clusterAddress(peers: HostPort[]): string {
  const list = [...new Set(peers.map(hostPort))].sort();
  return `gcomm://${list.join(',')}`;
}

/** Option values are written bare unless they hold characters the option-file reader would cut. */
function value(text: string): string {
  return /^[A-Za-z0-9_./:@,+-]*$/.test(text) && text !== '' ? text : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function providerOptions(node: GaleraNodeConfig): string {
  const own: Record<string, string> = {
    'gmcast.listen_addr': `tcp://${hostPort({ host: node.listenAddress, port: node.gmcastPort })}`,
    'ist.recv_addr': hostPort({ host: node.nodeAddress, port: node.istPort }),
  };
  if (node.listenAddress !== node.nodeAddress) own['ist.recv_bind'] = node.listenAddress;
  return Object.entries({ ...own, ...node.providerOptions })
    .map(([key, item]) => `${key}=${item}`)
    .join(';');
}

export function renderOptionFile(input: OptionFileInput): string {
  const { node } = input;
  const lines = [
    '# Written by keel for this Galera node; rewritten at every start: edit galera.yml instead.',
    '[mariadbd]',
    `datadir=${value(node.dataDir)}`,
    `socket=${value(node.socket)}`,
    `port=${node.port}`,
    `bind-address=${value(node.listenAddress)}`,
    `pid-file=${value(input.pidFile)}`,
    `log-error=${value(input.errorLog)}`,
    'wsrep_on=ON',
    `wsrep_provider=${value(node.provider)}`,
    `wsrep_cluster_name=${value(node.clusterName)}`,
    `wsrep_cluster_address=${value(clusterAddress(input.peers))}`,
    `wsrep_node_name=${value(input.name)}`,
    `wsrep_node_address=${value(hostPort({ host: node.nodeAddress, port: node.gmcastPort }))}`,
    `wsrep_provider_options="${providerOptions(node).replace(/"/g, '\\"')}"`,
    `wsrep_sst_receive_address=${value(hostPort({ host: node.nodeAddress, port: node.sstPort }))}`,
    `wsrep_sst_method=${node.sstMethod}`,
    `wsrep_slave_threads=${node.slaveThreads}`,
    `wsrep_sst_auth=${value(`${node.superuser.username}:${node.superuser.password}`)}`,
    'binlog_format=ROW',
    'default_storage_engine=InnoDB',
    'innodb_autoinc_lock_mode=2',
  ];
  for (const [key, item] of Object.entries(node.parameters)) lines.push(`${key}=${value(item)}`);
  return lines.join('\n') + '\n';
}
