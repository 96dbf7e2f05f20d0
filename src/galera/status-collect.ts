/**
 * Gathers what `keel galera status` shows: the registered nodes and their members' keys from
 * etcd, each node's wsrep status from its agent's REST API, and the schema checks run over SQL
 * on one healthy node. Every call has a deadline; an unreachable node is a row without figures.
 */
import mysql from 'mysql2/promise';
import type { GaleraConfig } from './config.js';
import { galeraEtcdClient, galeraPrefix, type MemberRecord } from './agent.js';
import { checkHealth, type WsrepStatus } from './health.js';
import type { NodeStatusRow, StatusChecks } from './status-render.js';

const DEADLINE_MS = 5_000;
const SYSTEM_SCHEMAS = "('mysql','information_schema','performance_schema','sys')";

async function fetchStatus(apiUrl: string): Promise<WsrepStatus | null> {
  try {
    const response = await fetch(`${apiUrl}/status`, { signal: AbortSignal.timeout(DEADLINE_MS) });
    const body = (await response.json()) as { wsrep?: WsrepStatus | null };
    return body.wsrep ?? null;
  } catch {
    return null;
  }
}

export async function collectRows(config: GaleraConfig): Promise<NodeStatusRow[]> {
  const prefix = galeraPrefix(config);
  const client = galeraEtcdClient(config, DEADLINE_MS);
  try {
    const answer = await client.range(prefix, { prefix: true });
    const names = new Set<string>();
    const members = new Map<string, MemberRecord>();
    for (const kv of answer.kvs) {
      const [kind, name] = kv.key.slice(prefix.length).split('/');
      if (name === undefined) continue;
      if (kind === 'nodes') names.add(name);
      if (kind === 'members') {
        names.add(name);
        members.set(name, JSON.parse(kv.value) as MemberRecord);
      }
    }
    return Promise.all(
      [...names].sort().map(async (name) => {
        const member = members.get(name);
        return {
          name,
          sql: member?.sql ?? '',
          state: member?.state ?? 'unknown (no agent)',
          wsrep: member === undefined ? null : await fetchStatus(member.api_url),
        };
      }),
    );
  } finally {
    client.close();
  }
}

/** The schema checks, on the first healthy node; null when none answers. */
export async function collectChecks(config: GaleraConfig, rows: NodeStatusRow[]): Promise<StatusChecks | null> {
  const healthy = rows.find((row) => checkHealth(row.wsrep).ok && row.sql !== '');
  if (healthy === undefined) return null;
  const colon = healthy.sql.lastIndexOf(':');
  const connection = await mysql.createConnection({
    host: healthy.sql.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(healthy.sql.slice(colon + 1)),
    user: config.galera.superuser.username,
    password: config.galera.superuser.password,
    connectTimeout: DEADLINE_MS,
  });
  try {
    const [engines] = await connection.query<mysql.RowDataPacket[]>(
      `SELECT table_schema AS s, table_name AS t, engine AS e FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND engine <> 'InnoDB' AND table_schema NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1, 2`,
    );
    const [noKey] = await connection.query<mysql.RowDataPacket[]>(
      `SELECT t.table_schema AS s, t.table_name AS t FROM information_schema.tables t
       LEFT JOIN information_schema.table_constraints c
         ON c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY'
       WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN ${SYSTEM_SCHEMAS} AND c.constraint_name IS NULL ORDER BY 1, 2`,
    );
    return {
      nonInnodbTables: engines.map((row) => ({ table: `${String(row['s'])}.${String(row['t'])}`, engine: String(row['e']) })),
      tablesWithoutPrimaryKey: noKey.map((row) => `${String(row['s'])}.${String(row['t'])}`),
    };
  } finally {
    await connection.end().catch(() => undefined);
  }
}
