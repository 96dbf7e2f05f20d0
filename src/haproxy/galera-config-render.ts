/**
 * The Galera variant of `keel haproxy-config`: every write to one node, reads spread over the
 * Synced ones, a stats page. Galera accepts writes on every node, but two nodes updating the same
 * rows fail one commit at certification (a deadlock error to the client); the seed's remedy is a
 * single writer, which the agents elect through an etcd lease and announce on GET /writer.
 *
 * Pure: no I/O, no clock; the same nodes and options always give the same text (golden-tested).
 */
import { KeelError } from '../errors.js';
import { hostPort, isHaproxyName, parseApiUrl, statsSection } from './config-render.js';

export const GALERA_WRITE_BACKEND = 'galera_write';
export const GALERA_READ_BACKEND = 'galera_read';

/** One Galera node as HAProxy needs it: where MariaDB takes connections, where its agent's REST API answers. */
export interface GaleraRoutedNode {
  name: string;
  sqlHost: string;
  sqlPort: number;
  apiHost: string;
  apiPort: number;
}

export interface GaleraHaproxyOptions {
  scope: string;
  writeBind: string;
  readBind: string;
  statsBind: string;
  inter: string;
  fall: number;
  rise: number;
}

/** What the etcd registration of a node says (nodes/<name>, completed by its live members/<name> key). */
export interface GaleraRegistration {
  name: string;
  sql: string | undefined;
  apiUrl: string | undefined;
}

function splitHostPort(text: string): { host: string; port: number } | null {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  return match === null ? null : { host: match[1] as string, port: Number(match[2]) };
}

/** The Galera agent's REST API speaks plain HTTP (galera/api.ts): an https api_url is unusable. */
function apiAddress(apiUrl: string): { host: string; port: number } | null {
  const api = parseApiUrl(apiUrl);
  return api === null || api.tls ? null : { host: api.host, port: api.port };
}

/** The nodes HAProxy can route to, sorted by name; a node without a usable SQL or API address is `skipped`. */
export function galeraRoutedNodes(registrations: GaleraRegistration[]): { nodes: GaleraRoutedNode[]; skipped: string[] } {
  const nodes: GaleraRoutedNode[] = [];
  const skipped: string[] = [];
  for (const registration of [...registrations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const sql = registration.sql === undefined ? null : splitHostPort(registration.sql);
    const api = registration.apiUrl === undefined ? null : apiAddress(registration.apiUrl);
    if (sql === null || api === null) {
      skipped.push(registration.name);
      continue;
    }
    if (!isHaproxyName(registration.name))
      throw new KeelError('haproxy.bad_member_name', `node "${registration.name}" cannot be an HAProxy server name (letters, digits, - _ . : only)`);
    nodes.push({ name: registration.name, sqlHost: sql.host, sqlPort: sql.port, apiHost: api.host, apiPort: api.port });
  }
  return { nodes, skipped };
}

function serverLine(node: GaleraRoutedNode): string {
  const address = node.apiHost === node.sqlHost ? '' : ` addr ${node.apiHost}`;
  return `    server ${node.name} ${hostPort(node.sqlHost, node.sqlPort)} maxconn 100 check${address} port ${node.apiPort}`;
}

function defaultsSection(): string[] {
  return [
    'defaults',
    '    mode tcp',
    '    # a dead node must not hold a client for long; a refused connect is retried elsewhere',
    '    timeout connect 1s',
    '    # MariaDB sessions idle for long (pools, the mariadb client): 30s would cut them',
    '    timeout client 30m',
    '    timeout server 30m',
  ];
}

function writeSection(options: GaleraHaproxyOptions, nodes: GaleraRoutedNode[]): string[] {
  return [
    '# writes: one node takes them all, so that two writers never meet in certification (one of two',
    '# conflicting commits would fail). Only the writer answers 200 on GET /writer: a Synced node in a',
    '# Primary component holding the etcd writer key; every other node answers 503 with the reason.',
    `listen ${GALERA_WRITE_BACKEND}`,
    `    bind ${options.writeBind}`,
    '    option httpchk GET /writer',
    '    http-check expect status 200',
    '    # a connection the old writer refused is retried on whichever server is up by then',
    '    option redispatch 1',
    '    # a writer marked down loses its sessions: clients reconnect to the new writer instead of',
    '    # writing on through the old one next to it',
    `    default-server inter ${options.inter} fall ${options.fall} rise ${options.rise} on-marked-down shutdown-sessions`,
    ...nodes.map(serverLine),
  ];
}

function readSection(options: GaleraHaproxyOptions, nodes: GaleraRoutedNode[]): string[] {
  return [
    "# reads: every node that answers 200 on GET /health (clustercheck's rule: Synced, Primary,",
    '# wsrep_ready ON, read_only OFF); a joiner, a donor or a Non-Primary node answers 503',
    `listen ${GALERA_READ_BACKEND}`,
    `    bind ${options.readBind}`,
    '    balance leastconn',
    '    option httpchk GET /health',
    '    http-check expect status 200',
    '    # a node that leaves the Primary component would serve stale reads: its sessions go too',
    `    default-server inter ${options.inter} fall ${options.fall} rise ${options.rise} on-marked-down shutdown-sessions`,
    ...nodes.map(serverLine),
  ];
}

/** The whole configuration file for a Galera cluster. */
export function renderGaleraHaproxyConfig(nodes: GaleraRoutedNode[], options: GaleraHaproxyOptions): string {
  const header = [
    `# HAProxy for the keel Galera cluster "${options.scope}", written by keel haproxy-config from the`,
    '# nodes registered in etcd. Regenerate it when nodes join or leave. Health checks ask each',
    "# node's keel agent (its REST API), which reads the node's wsrep status every cycle.",
  ];
  if (nodes.length === 0) header.push('# no node was registered: every backend is empty');
  const global = ['global', '    maxconn 1000'];
  const sections = [header, global, defaultsSection(), writeSection(options, nodes), readSection(options, nodes), statsSection(options)];
  return sections.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}
