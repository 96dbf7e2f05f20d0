/**
 * `keel list` output: patronictl 3.0.2's `list` byte for byte, rendered from the same cluster JSON
 * that GET /cluster returns (src/cluster/cluster-json.ts), as patronictl does.
 *
 * What patronictl 3.0.2 prints (checked against the real tool, fixtures in test/unit/patroni/fixtures):
 *  - columns Member | Host | Role | State | TL | Lag in MB, plus "Pending restart",
 *    "Scheduled restart" and "Tags" when any member has one (all three with `extended`);
 *  - the title " Cluster: <scope> " in the top border — 3.0.2 prints no system identifier there;
 *    keel prints " Cluster: <scope> (<system id>) " by default, as Patroni >= 3.2 and the seed's
 *    documentation do (`systemIdInTitle: false` gives 3.0.2's exact title);
 *  - Host is the host alone, or host:port for every member as soon as one member listens on a
 *    port other than 5432 or two members share a host;
 *  - Role is the JSON role title-cased ('Sync Standby', 'Standby Leader'); TL and Lag in MB are
 *    right-aligned; the leader's Lag cell is empty; lag is round(bytes / 1 MiB), halves to even;
 *  - tags are YAML (block style in the table, flow style in tsv);
 *  - pretty output is followed by " Maintenance mode: on" and the scheduled switchover lines;
 *  - json/yaml drop the cells whose text is empty and keep the values' types (TL stays a number,
 *    Tags a mapping); yaml keys come out sorted, as PyYAML writes them.
 * The returned text is exactly what patronictl writes to stdout, final newline included.
 */
import type { ClusterView } from '../dcs/types.js';
import { clusterAsJson, type ClusterJson, type ClusterJsonMember } from './cluster-json.js';
import { renderPatronictlTable } from './patronictl-table.js';
import { pyJsonDumps, pyRound, pyStr, pyTitle, pyTruthy, type JsonValue, isPlainObject } from './python-compat.js';
import { pyYamlDump } from './pyyaml.js';

export type ListFormat = 'pretty' | 'json' | 'yaml' | 'tsv';

export interface ListOptions {
  /** Cluster name shown in the title and the Cluster column (patronictl uses the scope). */
  scope: string;
  /** `list -e`: always show Pending restart, Scheduled restart and Tags. */
  extended?: boolean;
  /** Overrides the config key's `pause` for the Maintenance mode footer. */
  paused?: boolean;
  /** Title " Cluster: <scope> (<sysid>) " (default) or 3.0.2's " Cluster: <scope> ". */
  systemIdInTitle?: boolean;
  /** `topology`: members as a tree (the leader, then who replicates from whom), pretty only. */
  topology?: boolean;
}

/**
 * patronictl's topology_sort + generate_topology: the leader first, then each member under the
 * member it replicates from (tag `replicatefrom` naming another replica; else the leader), its name
 * prefixed with "+ " and indented two spaces per extra level.
 */
export function topologyOrder(members: ClusterJsonMember[]): ClusterJsonMember[] {
  const isLeader = (member: ClusterJsonMember): boolean => member.role.endsWith('leader');
  const leader = members.find(isLeader);
  const replicas = new Set(members.filter((m) => !isLeader(m)).map((m) => m.name));
  const children = new Map<string | null, ClusterJsonMember[]>();
  for (const member of members) {
    if (isLeader(member)) continue;
    const tag = isPlainObject(member.tags) ? member.tags['replicatefrom'] : undefined;
    const parent = typeof tag === 'string' && tag !== '' && tag !== member.name && replicas.has(tag) ? tag : (leader?.name ?? null);
    children.set(parent, [...(children.get(parent) ?? []), member]);
  }
  const out: ClusterJsonMember[] = [];
  // A replicatefrom loop (a -> b -> a) never reaches the leader: patronictl drops those members too.
  const walk = (name: string | null, level: number, seen: Set<string | null>): void => {
    for (const member of children.get(name) ?? []) {
      if (seen.has(member.name)) continue;
      out.push({ ...member, name: `${' '.repeat((level - 1) * 2)}+ ${member.name}` });
      walk(member.name, level + 1, new Set([...seen, member.name]));
    }
  };
  if (leader !== undefined) out.push(leader);
  walk(leader?.name ?? null, 1, new Set([leader?.name ?? null]));
  return out;
}

/** What Patroni >= 3.2 shows for the `initialize` key in the title. */
function initializeLabel(initialize: string | null): string {
  if (initialize === null) return 'uninitialized';
  return initialize === '' ? 'initializing' : initialize;
}

const BASE_COLUMNS = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
const EXTRA_COLUMNS = [
  { title: 'Pending restart', key: 'pending_restart' },
  { title: 'Scheduled restart', key: 'scheduled_restart' },
  { title: 'Tags', key: 'tags' },
] as const;
const MIB = 1024 * 1024;

type Cell = JsonValue;

function columnsFor(members: ClusterJsonMember[], extended: boolean): string[] {
  const withHost = members.filter((member) => member.host !== undefined);
  const extras = EXTRA_COLUMNS.filter(({ key }) => extended || withHost.some((member) => pyTruthy(member[key])));
  return [...BASE_COLUMNS, ...extras.map(({ title }) => title)];
}

/** Whether patronictl shows host:port: a member off port 5432, or two members on one host. */
function showsPorts(members: ClusterJsonMember[]): boolean {
  const withHost = members.filter((member) => member.host !== undefined);
  const offDefaultPort = withHost.some((member) => member.port !== undefined && member.port !== 5432);
  const hosts = new Set(withHost.map((member) => pyStr(member.host)));
  return offDefaultPort || hosts.size < withHost.length;
}

function scheduledRestartText(value: JsonValue | undefined): Cell {
  if (value === undefined) return '';
  if (!isPlainObject(value)) return value;
  let text = pyStr(value['schedule']);
  if ('postgres_version' in value) text += ` if version < ${pyStr(value['postgres_version'])}`;
  return text;
}

function cellsOf(member: ClusterJsonMember, scope: string, showPorts: boolean): Record<string, Cell> {
  const lag = member.lag ?? '';
  let host: Cell = member.host ?? '';
  if (showPorts && pyTruthy(host) && pyTruthy(member.port)) host = `${pyStr(host)}:${member.port}`;
  return {
    Cluster: scope,
    Member: member.name,
    Host: host,
    Role: pyTitle(member.role.replace(/_/g, ' ')),
    State: member.state,
    TL: member.timeline === undefined ? '' : member.timeline,
    'Lag in MB': typeof lag === 'number' && Number.isInteger(lag) ? pyRound(lag / MIB) : lag,
    'Pending restart': pyTruthy(member.pending_restart) ? '*' : '',
    'Scheduled restart': scheduledRestartText(member.scheduled_restart),
    Tags: member.tags === undefined ? '' : member.tags,
  };
}

/**
 * keel, not patronictl: in synchronous mode, a leader whose sync key lists no standby says what
 * that means for commits (issue 9: a non-strict leader going on alone must be visible).
 */
function synchronousInfo(view: ClusterView): string | null {
  const config = view.config?.value ?? {};
  const mode = config['synchronous_mode'];
  const on = mode === true || (typeof mode === 'string' && ['on', 'true', 'yes', 'quorum'].includes(mode.trim().toLowerCase()));
  const sync = view.sync?.value;
  if (!on || view.leader === null || sync === undefined || sync.leader !== view.leader.name || sync.syncStandbys.length > 0) return null;
  if (view.members.length < 2) return null;
  const strict = config['synchronous_mode_strict'] === true || String(config['synchronous_mode_strict']).toLowerCase() === 'true';
  return strict
    ? 'Synchronous replication: no synchronous standby yet, commits wait (synchronous_mode_strict)'
    : 'Synchronous replication: no synchronous standby, the leader acknowledges commits alone';
}

function serviceInfo(cluster: ClusterJson, view: ClusterView): string[] {
  const info: string[] = [];
  if (cluster.pause === true) info.push('Maintenance mode: on');
  const synchronous = synchronousInfo(view);
  if (synchronous !== null) info.push(synchronous);
  const switchover = cluster.scheduled_switchover;
  if (switchover !== undefined) {
    let text = `Switchover scheduled at: ${switchover.at}`;
    if (switchover.from !== undefined) text += `\n${'from'.padStart(24)}: ${switchover.from}`;
    if (switchover.to !== undefined) text += `\n${'to'.padStart(24)}: ${switchover.to}`;
    info.push(text);
  }
  return info;
}

function renderStructured(columns: string[], rows: Cell[][], format: 'json' | 'yaml'): string {
  const elements = rows.map((row) => {
    const element: Record<string, Cell> = {};
    columns.forEach((column, index) => {
      const value = index < row.length ? (row[index] as Cell) : '';
      if (pyStr(value) !== '') element[column] = value;
    });
    return element;
  });
  return format === 'json' ? pyJsonDumps(elements) + '\n' : pyYamlDump(elements) + '\n';
}

/** Tags as patronictl formats them for a table cell: YAML, block style for pretty, flow style for tsv. */
function tagsCell(value: Cell, flowStyle: boolean): Cell {
  return pyTruthy(value) ? pyYamlDump(value, { flowStyle }).trim() : value;
}

/** patronictl 3.0.2 `list` output for this cluster snapshot. */
export function renderList(view: ClusterView, format: ListFormat = 'pretty', options: ListOptions): string {
  const cluster = clusterAsJson(view, options.paused === undefined ? {} : { paused: options.paused });
  if (options.topology === true) cluster.members = topologyOrder(cluster.members);
  const columns = columnsFor(cluster.members, options.extended === true);
  const showPorts = showsPorts(cluster.members);
  const rows = cluster.members.map((member) => {
    const cells = cellsOf(member, options.scope, showPorts);
    return columns.map((column) => (column in cells ? (cells[column] as Cell) : ''));
  });
  if (format === 'json' || format === 'yaml') return renderStructured(columns, rows, format);

  const tagsIndex = columns.indexOf('Tags');
  const text = rows.map((row) => row.map((cell, index) => pyStr(index === tagsIndex ? tagsCell(cell, format === 'tsv') : cell)));
  if (format === 'tsv') return [columns, ...text].map((line) => line.join('\t') + '\n').join('');

  const title = options.systemIdInTitle === false ? ` Cluster: ${options.scope} ` : ` Cluster: ${options.scope} (${initializeLabel(view.initialize)}) `;
  const table = renderPatronictlTable(
    title,
    columns.slice(1),
    text.map((row) => row.slice(1)),
    { TL: 'r', 'Lag in MB': 'r' },
  );
  const info = serviceInfo(cluster, view);
  return table + '\n' + (info.length > 0 ? ' ' + info.join('\n ') + '\n' : '');
}
