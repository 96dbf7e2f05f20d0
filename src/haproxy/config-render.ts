/**
 * The HAProxy configuration `keel haproxy-config` prints: the seed's layout (writes on one port to
 * the leader, reads on another to the replicas, a stats page), built from the members registered
 * in etcd. Pure: no I/O, no clock; the same members and options always give the same text, so it
 * is golden-tested and safe to regenerate and diff.
 *
 * Server names are the member names (also what the agents name in runtime-API commands, see
 * ./runtime-commands.ts), so a member whose name HAProxy would not accept is refused here.
 */
import { KeelError } from '../errors.js';
import { parseConnUrl } from '../ha/core/conn-url.js';
import type { ClusterView } from '../dcs/types.js';

/** The seed's backend names; the agents' runtime-API commands default to them too. */
export const DEFAULT_WRITE_BACKEND = 'postgres_write';
export const DEFAULT_READ_BACKEND = 'postgres_read';

/** One member as HAProxy needs it: where PostgreSQL takes connections and where its health endpoints answer. */
export interface RoutedMember {
  name: string;
  pgHost: string;
  pgPort: number;
  apiHost: string;
  apiPort: number;
  /** The REST API serves HTTPS: checks must speak TLS. */
  apiTls: boolean;
  /** Tagged noloadbalance: never a read target. */
  noloadbalance: boolean;
}

export interface HaproxyRenderOptions {
  scope: string;
  /** HAProxy bind addresses, e.g. "*:5000" or "127.0.0.1:5000". */
  writeBind: string;
  readBind: string;
  statsBind: string;
  /** HAProxy time values as given ("3s", "500ms"). */
  inter: string;
  fall: number;
  rise: number;
  /** The ?lag= bound of the read checks as Patroni reads it ("16MB"), or null for none. */
  maxLag: string | null;
  /** Where HAProxy's runtime API listens (a unix socket path or host:port), or null for none. */
  runtimeSocket: string | null;
  writeBackend?: string;
  readBackend?: string;
}

/** HAProxy identifiers: letters, digits, '-', '_', '.' and ':' (cfgparse's invalid_char). */
const HAPROXY_NAME = /^[A-Za-z0-9_.:-]+$/;

export function isHaproxyName(name: string): boolean {
  return HAPROXY_NAME.test(name);
}

/** A bind or socket address as HAProxy spells it: a path stays a path, host:port gets its family prefix. */
export function runtimeSocketAddress(socket: string): string {
  if (socket.includes('/')) return socket;
  return socket.startsWith('[') ? `ipv6@${socket.replace(/^\[(.*)\](:\d+)$/, '$1$2')}` : `ipv4@${socket}`;
}

/** An agent's REST API address from its api_url (http or https), null when unusable. */
export function parseApiUrl(apiUrl: string | null): { host: string; port: number; tls: boolean } | null {
  if (apiUrl === null) return null;
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    const tls = url.protocol === 'https:';
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? (tls ? 443 : 80) : Number(url.port), tls };
  } catch {
    return null;
  }
}

/** Python truthiness of a tag value as Patroni publishes it (true, "true", 1). */
function tagIsSet(value: unknown): boolean {
  if (typeof value === 'string') return value !== '' && value.toLowerCase() !== 'false';
  return Boolean(value);
}

/**
 * The members of a cluster view HAProxy can route to, sorted by name. A member without a usable
 * conn_url or api_url (still starting, or written by a foreign tool) is reported in `skipped`.
 */
export function routedMembers(view: ClusterView): { members: RoutedMember[]; skipped: string[] } {
  const members: RoutedMember[] = [];
  const skipped: string[] = [];
  for (const member of [...view.members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const pg = parseConnUrl(member.connUrl);
    const api = parseApiUrl(member.apiUrl);
    if (pg === null || api === null) {
      skipped.push(member.name);
      continue;
    }
    if (!isHaproxyName(member.name))
      throw new KeelError('haproxy.bad_member_name', `member "${member.name}" cannot be an HAProxy server name (letters, digits, - _ . : only)`);
    members.push({
      name: member.name,
      pgHost: pg.host,
      pgPort: pg.port,
      apiHost: api.host,
      apiPort: api.port,
      apiTls: api.tls,
      noloadbalance: tagIsSet(member.tags['noloadbalance']),
    });
  }
  return { members, skipped };
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `server` line: PostgreSQL's address, checked on the member's REST API. */
function serverLine(member: RoutedMember): string {
  const address = member.apiHost === member.pgHost ? '' : ` addr ${member.apiHost}`;
  const tls = member.apiTls ? ' check-ssl verify none' : '';
  return `    server ${member.name} ${hostPort(member.pgHost, member.pgPort)} maxconn 100 check${tls}${address} port ${member.apiPort}`;
}

function globalSection(options: HaproxyRenderOptions): string[] {
  // no log line: HAProxy reports servers going up or down on its stderr (the journal under systemd)
  const lines = ['global', '    maxconn 1000'];
  if (options.runtimeSocket !== null) {
    lines.push(
      '    # the runtime API: keel agents announce a promotion, demotion or fence here at once',
      '    # (set server <backend>/<server> health up|down), instead of waiting for inter x rise',
      `    stats socket ${runtimeSocketAddress(options.runtimeSocket)} mode 600 level admin`,
    );
  }
  return lines;
}

function defaultsSection(): string[] {
  return [
    'defaults',
    '    mode tcp',
    '    # a TCP handshake to a live server on the LAN takes under a millisecond; a dead host must not',
    '    # hold a client for long (a failed connect is retried after min(timeout connect, 1s))',
    '    timeout connect 1s',
    '    # PostgreSQL sessions idle for long (pools, psql): 30s would cut them',
    '    timeout client 30m',
    '    timeout server 30m',
  ];
}

function writeSection(options: HaproxyRenderOptions, members: RoutedMember[]): string[] {
  return [
    `# writes: only the leader answers 200 on GET /primary (a replica, a fenced or a stopped leader: 503)`,
    `listen ${options.writeBackend ?? DEFAULT_WRITE_BACKEND}`,
    `    bind ${options.writeBind}`,
    '    option httpchk GET /primary',
    '    # a connection the dead leader refused is retried on whichever server is up by then',
    '    option redispatch 1',
    '    http-check expect status 200',
    '    # a leader marked down loses its sessions: clients reconnect to the new one instead of',
    '    # writing on into a server that no longer holds the leader key',
    `    default-server inter ${options.inter} fall ${options.fall} rise ${options.rise} on-marked-down shutdown-sessions`,
    ...members.map(serverLine),
  ];
}

function readSection(options: HaproxyRenderOptions, members: RoutedMember[]): string[] {
  const check = options.maxLag === null ? 'GET /replica' : `GET /replica?lag=${options.maxLag}`;
  const why =
    options.maxLag === null
      ? '# reads: running replicas answer 200 on GET /replica'
      : `# reads: running replicas that stream and replay within ${options.maxLag} of the leader answer 200 on GET /replica?lag=`;
  const lines = [
    why,
    `listen ${options.readBackend ?? DEFAULT_READ_BACKEND}`,
    `    bind ${options.readBind}`,
    '    balance roundrobin',
    `    option httpchk ${check}`,
    '    http-check expect status 200',
    `    default-server inter ${options.inter} fall ${options.fall} rise ${options.rise}`,
  ];
  for (const member of members) {
    lines.push(member.noloadbalance ? `    # ${member.name} is tagged noloadbalance: it gets no reads` : serverLine(member));
  }
  return lines;
}

export function statsSection(options: Pick<HaproxyRenderOptions, 'statsBind'>): string[] {
  return [
    '# the stats page; it needs mode http (under the tcp default HAProxy ignores the stats lines)',
    'listen stats',
    '    mode http',
    `    bind ${options.statsBind}`,
    '    stats enable',
    '    stats uri /',
    '    stats refresh 5s',
  ];
}

/** The whole configuration file. */
export function renderHaproxyConfig(members: RoutedMember[], options: HaproxyRenderOptions): string {
  const header = [
    `# HAProxy for the keel cluster "${options.scope}", written by keel haproxy-config from the members`,
    '# registered in etcd. Regenerate it when members join or leave. Health checks ask each',
    "# member's REST API; the agents' runtime-API announcements (when configured) only make them faster.",
  ];
  if (members.length === 0) header.push('# no member was registered: every backend is empty');
  const sections = [header, globalSection(options), defaultsSection(), writeSection(options, members), readSection(options, members), statsSection(options)];
  return sections.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}
