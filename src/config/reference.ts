/**
 * The configuration reference (docs/configuration.md), generated from the schema itself: the key
 * paths are read from `localFileSchema`, the sentences from KEY_DOCS below. A key in the schema
 * without a sentence, or a sentence for a key the schema does not have, is an error, so the
 * reference cannot drift from what keel accepts (test/unit/config/reference.test.ts also fails
 * when docs/configuration.md differs from what this renders: `npm run docs:config` rewrites it).
 */
import type { ZodTypeAny } from 'zod';
import { localFileSchema } from './schema.js';

/** `etcd` takes the same keys as `etcd3` (Patroni's v2 section name); they are documented once, under etcd3. */
const ALIAS_SECTIONS: Readonly<Record<string, string>> = { etcd: 'etcd3' };

/** One sentence (or two) per key path: what it is, its default, what keel does with it. */
export const KEY_DOCS: Readonly<Record<string, string>> = {
  name: "Required. This member's name, unique in the cluster (etcd key `members/<name>`, HAProxy server name).",
  scope: 'Required. The cluster name: every key lives under `/<namespace>/<scope>/`.',
  namespace: 'Prefix of the cluster keys in etcd. Default `/service/`.',
  'restapi.listen': 'Required. Address and port the REST API listens on, e.g. `0.0.0.0:8008`.',
  'restapi.connect_address': 'Address other members and HAProxy use to reach the REST API (published as `api_url`). Default: `listen`.',
  'restapi.authentication.username': 'Basic-auth user required for unsafe requests (POST, PUT, PATCH, DELETE); GET stays open.',
  'restapi.authentication.password': 'Password of that user.',
  'restapi.auth': "Patroni's old form `user:password` of restapi.authentication.",
  'restapi.allowlist': 'Addresses, CIDR networks or host names allowed to make unsafe requests. Default: anyone (with the credentials).',
  'restapi.allowlist_include_members': "Also allow the members' own addresses. Default false.",
  'restapi.certfile': 'Certificate (PEM) to serve HTTPS; setting it switches the REST API and `api_url` to https.',
  'restapi.keyfile': 'Private key of certfile. Default: inside certfile.',
  'restapi.keyfile_password': 'Password of an encrypted keyfile.',
  'restapi.cafile': "CA bundle client certificates are verified against; also used to verify other members' REST APIs.",
  'restapi.ciphers': 'OpenSSL cipher list for TLS 1.2 and older.',
  'restapi.verify_client': '`none` (default), `optional` (unsafe requests need a valid client certificate) or `required` (every connection does).',
  'ctl.authentication.username': "User the CLI sends to members' REST APIs. Default: restapi.authentication.",
  'ctl.authentication.password': 'Password of that user.',
  'ctl.insecure': "Do not verify members' certificates (patronictl -k). Default false.",
  'ctl.cacert': "CA bundle the CLI verifies members' certificates with. Default: restapi.cafile.",
  'ctl.certfile': 'Client certificate the CLI presents. Default: restapi.certfile.',
  'ctl.keyfile': 'Key of ctl.certfile.',
  'ctl.keyfile_password': 'Password of an encrypted ctl.keyfile.',
  'etcd3.host': 'One etcd endpoint `host:port`.',
  'etcd3.hosts': 'etcd endpoints: a list or a comma-separated string of `host:port` (or `http(s)://host:port`). Tried in order; a failing one is skipped.',
  'etcd3.url': 'One etcd endpoint as a URL (may carry the protocol and credentials).',
  'etcd3.proxy': 'An etcd proxy URL; as in Patroni it wins over url, which wins over hosts, which wins over host.',
  'etcd3.srv': 'DNS SRV discovery: not supported by keel (refused with the key named; list the endpoints in hosts).',
  'etcd3.protocol': '`http` (default) or `https`.',
  'etcd3.username': 'etcd user (etcd authentication).',
  'etcd3.password': 'Password of the etcd user.',
  'etcd3.port': 'Port for endpoints given without one. Default 2379.',
  'etcd3.cacert': 'CA bundle to verify etcd (https).',
  'etcd3.ca_cert': 'Same as cacert.',
  'etcd3.cert': 'Client certificate for etcd.',
  'etcd3.key': 'Key of the etcd client certificate.',
  'bootstrap.dcs':
    'Dynamic settings (ttl, loop_wait, retry_timeout, maximum_lag_on_failover, synchronous_mode, postgresql.parameters, ...) written to the `config` key when the cluster is created; later changed with `keel edit-config`.',
  'bootstrap.initdb': 'initdb options: a list of flags (`data-checksums`) and `{option: value}` mappings (`encoding: UTF8`).',
  'bootstrap.pg_hba': 'Lines appended to pg_hba.conf after initdb (e.g. the seed: `host replication replicator 10.0.1.0/24 md5`).',
  'bootstrap.method': 'Bootstrap method: keel runs initdb; another method is warned about and not run.',
  'postgresql.listen': 'Required. Address(es) and port PostgreSQL listens on, e.g. `0.0.0.0:5432`.',
  'postgresql.connect_address': 'Address other members and HAProxy connect to (published as `conn_url`). Default: the first listen address.',
  'postgresql.data_dir': 'Required. The data directory.',
  'postgresql.config_dir': 'Where postgresql.conf lives. Default: data_dir.',
  'postgresql.bin_dir': 'Directory of initdb, pg_ctl, pg_basebackup, pg_rewind, postgres. Default: the newest /usr/lib/postgresql/<N>/bin.',
  'postgresql.pgpass': 'Password file keel writes for replication and rewind connections. Default: `<parent of data_dir>/.pgpass.<name>`.',
  'postgresql.authentication.superuser.username': 'Superuser keel connects as (probes, CHECKPOINT, pg_rewind when no rewind user is set).',
  'postgresql.authentication.superuser.password': 'Its password (set at initdb).',
  'postgresql.authentication.replication.username': 'Replication user the replicas stream with (created at bootstrap).',
  'postgresql.authentication.replication.password': 'Its password.',
  'postgresql.authentication.rewind.username': 'User for pg_rewind (created at bootstrap with the needed grants). Default: the superuser.',
  'postgresql.authentication.rewind.password': 'Its password.',
  'postgresql.parameters':
    'postgresql.conf settings of this node; they win over the dynamic ones except the cluster-wide ones keel controls (max_connections, wal_level, ...).',
  'postgresql.recovery_conf':
    "Settings written on a replica (restore_command, recovery_min_apply_delay, archive_cleanup_command, ...), as Patroni writes them into postgresql.conf; they win over bootstrap.dcs / `keel edit-config` postgresql.recovery_conf. primary_conninfo, primary_slot_name and recovery_target_timeline stay keel's.",
  'postgresql.pg_hba': 'Replaces pg_hba.conf entirely (instead of initdb default + bootstrap.pg_hba).',
  'postgresql.use_unix_socket': 'Connect to the local PostgreSQL over its unix socket. Default false.',
  'postgresql.use_unix_socket_repl': 'Replicate over the unix socket when the leader is local. Default false.',
  'postgresql.basebackup': 'pg_basebackup options for cloning a replica (list of flags or mappings, as initdb).',
  'postgresql.remove_data_directory_on_rewind_failure': 'Re-clone a node whose pg_rewind failed. Default false.',
  'postgresql.remove_data_directory_on_diverged_timelines': 'Re-clone a node whose timeline diverged and cannot be rewound. Default false.',
  'postgresql.pg_ctl_timeout': 'Seconds pg_ctl may take to start, stop or promote. Default 60.',
  'postgresql.callbacks':
    'Commands run on on_start, on_stop, on_restart, on_reload, on_role_change, called as `<cmd> <action> <role> <scope>` (never waited for).',
  'postgresql.use_pg_rewind': 'Rewind a former leader instead of re-cloning it (overrides the dynamic setting).',
  'tags.nofailover': 'Never promote this member. Default false.',
  'tags.noloadbalance': 'No read traffic: `/replica` answers 503 and `keel haproxy-config` leaves it out of the read backend. Default false.',
  'tags.clonefrom': 'Preferred source when a new replica clones. Default false.',
  'tags.nosync': 'Never a synchronous standby. Default false.',
  'tags.nostream': 'Replicate from the WAL archive only, not by streaming. Default false.',
  'tags.replicatefrom': 'Member name to stream from (cascading replication) instead of the leader.',
  'tags.failover_priority': 'Among equally advanced candidates the higher wins a leader race; 0 behaves like nofailover.',
  'watchdog.mode': '`off`, `automatic` (default: use /dev/watchdog when it works) or `required` (refuse to lead without it).',
  'watchdog.device': 'Watchdog device. Default /dev/watchdog.',
  'watchdog.safety_margin': 'Seconds between the watchdog firing and the leader key expiring. Default 5; -1: fire at ttl/2.',
  'log.level': 'debug, info (default), warning, error or critical.',
  'log.type': '`plain` / `text` (default) or `json` (one JSON object per line: ts, level, msg, fields). KEEL_LOG_FORMAT and `--log-format` override it.',
  'log.dir': 'Directory the agent writes its log to, as `patroni.log` (as Patroni does), instead of stderr.',
  'log.file_size': 'Size in bytes at which `patroni.log` is rotated. Default 25000000; 0 never rotates.',
  'log.file_num': "Rotated files kept (`patroni.log.1` newest ... `patroni.log.N`). Default 4; 0 keeps none (no rotation, as Python's handler).",
  'haproxy.runtime_sockets':
    'keel only. HAProxy runtime APIs (admin-level `stats socket`: a unix socket path or host:port) the agent tells about its role changes at once (`set server <backend>/<name> health up|down`); fire and forget, 500 ms deadline. Without this section HAProxy follows its health checks only.',
  'haproxy.write_backend': 'keel only. HAProxy backend of the writes. Default postgres_write (as `keel haproxy-config` names it).',
  'haproxy.read_backend': 'keel only. HAProxy backend of the reads. Default postgres_read.',
  backup:
    "keel only. WAL archiving and backups, pgBackRest's way: `stanza` (required), `config` (a pgbackrest.conf carried over; default /etc/pgbackrest.conf when it exists), `generated_config` (the file the agent writes, 0600 for the postgres user; default `<parent of data_dir>/pgbackrest.<name>.conf`) and any pgBackRest option spelt as in pgbackrest.conf (`repo1-path`, `repo1-cipher-type`, `archive-async`, ...), which wins over the file; an unknown option is an error. Every member then gets archive_mode=on, archive_command and restore_command (`keel pgbackrest ... archive-push` / `archive-get`) unless postgresql.parameters or recovery_conf set them.",
};

/** The schema's key paths, in schema order (sections walked through their wrappers). */
export function schemaKeyPaths(): string[] {
  const paths: string[] = [];
  const unwrap = (schema: ZodTypeAny): ZodTypeAny => {
    let current = schema;
    for (;;) {
      const def = current._def as { typeName?: string; schema?: ZodTypeAny; innerType?: ZodTypeAny };
      if (def.typeName === 'ZodEffects' && def.schema !== undefined && (def.schema._def as { typeName?: string }).typeName !== 'ZodUnknown')
        current = def.schema;
      else if ((def.typeName === 'ZodOptional' || def.typeName === 'ZodNullable') && def.innerType !== undefined) current = def.innerType;
      else return current;
    }
  };
  const walk = (schema: ZodTypeAny, path: string[]) => {
    const inner = unwrap(schema);
    const shape = (inner._def as { typeName?: string }).typeName === 'ZodObject' ? (inner as unknown as { shape: Record<string, ZodTypeAny> }).shape : null;
    if (shape === null) paths.push(path.join('.'));
    else for (const [key, child] of Object.entries(shape)) walk(child, [...path, key]);
  };
  walk(localFileSchema as unknown as ZodTypeAny, []);
  return paths;
}

function documentedPath(path: string): string {
  const [section, ...rest] = path.split('.');
  const alias = section === undefined ? undefined : ALIAS_SECTIONS[section];
  return alias === undefined ? path : [alias, ...rest].join('.');
}

/** docs/configuration.md. Throws when a key lacks a sentence or a sentence names no key. */
export function renderConfigReference(): string {
  const paths = schemaKeyPaths();
  const missing = paths.filter((p) => KEY_DOCS[documentedPath(p)] === undefined);
  if (missing.length > 0) throw new Error(`configuration keys without a sentence in src/config/reference.ts: ${missing.join(', ')}`);
  const documented = new Set(paths.map(documentedPath));
  const unknown = Object.keys(KEY_DOCS).filter((k) => !documented.has(k));
  if (unknown.length > 0) throw new Error(`src/config/reference.ts documents keys the schema does not have: ${unknown.join(', ')}`);
  const lines = [
    '# Configuration reference (node file)',
    '',
    '<!-- generated from src/config/schema.ts and src/config/reference.ts by `npm run docs:config`; do not edit -->',
    '',
    "keel reads Patroni's `patroni.yml` format: a file written for Patroni 3.0.2 loads unchanged. Unknown keys are",
    'kept and warned about (a typo is named with its path); an invalid value stops keel with the key path, what was',
    'expected and exit code 2. Environment variables `PATRONI_*` override the file as in Patroni.',
    '`keel agent --validate-config FILE` checks a file without starting anything.',
    '',
    'Dynamic settings (ttl, loop_wait, retry_timeout, maximum_lag_on_failover, synchronous_mode, ...) live in etcd',
    'and are changed with `keel edit-config`; the file only seeds them under `bootstrap.dcs`.',
    '',
    "`etcd:` takes the same keys as `etcd3:` (Patroni's v2 section name); keel always speaks the etcd v3 API.",
    "Patroni 3.0.2 speaks v2 with an `etcd:` section, and v2 keys are apart from v3's, so a Patroni cluster",
    'running that way (etcd started with `--enable-v2`) is invisible to keel. An agent whose file says `etcd:`',
    "therefore first reads etcd's v2 store, and refuses to start (one line, exit 1) while a Patroni holds",
    "the cluster's leader key there: started beside it, it would find no leader in v3 and promote a second",
    "primary. An etcd without the v2 API (the default since 3.4, the seed's 3.5.11) answers 404 and the",
    'agent starts; so it does when the key is absent. The real `patronictl` reads `etcd:` as v2 too: give it',
    'a file with `etcd3:` to drive a keel cluster.',
  ];
  let section: string | null = null;
  for (const path of paths) {
    if (path.startsWith('etcd.')) continue;
    const top = path.includes('.') ? (path.split('.')[0] ?? '') : '';
    if (top !== section) {
      section = top;
      lines.push('', `## ${top === '' ? 'top level' : top}`, '', '| key | meaning |', '| --- | --- |');
    }
    lines.push(`| \`${path}\` | ${(KEY_DOCS[path] ?? '').replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n') + '\n';
}
