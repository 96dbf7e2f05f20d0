/**
 * The local configuration as the running agent uses it: what goes into the pgpass file, and what a
 * reload (SIGHUP) may change while the agent runs. Pure.
 */
import type { LocalConfig } from '../config/types.js';
import type { PgpassEntry } from '../postgres/ports.js';

/**
 * pgpass lines for every configured user with a password, matching any host, port and database:
 * libpq picks the line by user name, whichever member the WAL receiver connects to.
 */
export function pgpassEntries(local: LocalConfig): PgpassEntry[] {
  const auth = local.postgresql.authentication;
  const users = [auth.replication, auth.superuser, ...(auth.rewind === undefined ? [] : [auth.rewind])];
  const seen = new Set<string>();
  return users.filter((user) => !seen.has(user.username) && seen.add(user.username)).map((user) => ({ host: '*', port: '*', database: '*', user }));
}

function serverTls(config: LocalConfig): Pick<LocalConfig['restapi'], 'certfile' | 'keyfile' | 'keyfilePassword' | 'cafile' | 'ciphers' | 'verifyClient'> {
  const { certfile, keyfile, keyfilePassword, cafile, ciphers, verifyClient } = config.restapi;
  return {
    verifyClient,
    ...(certfile === undefined ? {} : { certfile }),
    ...(keyfile === undefined ? {} : { keyfile }),
    ...(keyfilePassword === undefined ? {} : { keyfilePassword }),
    ...(cafile === undefined ? {} : { cafile }),
    ...(ciphers === undefined ? {} : { ciphers }),
  };
}

function withoutServerTls(
  api: LocalConfig['restapi'],
): Omit<LocalConfig['restapi'], 'certfile' | 'keyfile' | 'keyfilePassword' | 'cafile' | 'ciphers' | 'verifyClient'> {
  const { certfile: _c, keyfile: _k, keyfilePassword: _p, cafile: _a, ciphers: _i, verifyClient: _v, ...rest } = api;
  return rest;
}

/**
 * The configuration a reload applies: `next`, except what only takes effect when the agent
 * restarts (identity, where etcd and the REST API are, the REST API's TLS and the ctl section the
 * peer client was made from, where the data lives), which stays as it is and is reported.
 */
export function reloadableConfig(current: LocalConfig, next: LocalConfig): { config: LocalConfig; warnings: string[] } {
  const warnings: string[] = [];
  const keep = <T>(what: string, before: T, after: T): T => {
    if (JSON.stringify(before) !== JSON.stringify(after)) warnings.push(`reload: ${what} changed; it takes effect when the agent restarts`);
    return before;
  };
  const config: LocalConfig = {
    ...next,
    file: current.file,
    scope: keep('scope', current.scope, next.scope),
    namespace: keep('namespace', current.namespace, next.namespace),
    name: keep('name', current.name, next.name),
    restapi: {
      ...withoutServerTls(next.restapi),
      listen: keep('restapi.listen', current.restapi.listen, next.restapi.listen),
      // the server keeps its TLS until a restart, so api_url must keep saying what it serves
      ...keep('the REST API TLS settings (restapi certfile, keyfile, keyfile_password, cafile, ciphers, verify_client)', serverTls(current), serverTls(next)),
    },
    ctl: keep('the ctl section (how this node calls other members)', current.ctl, next.ctl),
    etcd: keep('the etcd section', current.etcd, next.etcd),
    postgresql: {
      ...next.postgresql,
      dataDir: keep('postgresql.data_dir', current.postgresql.dataDir, next.postgresql.dataDir),
      configDir: keep('postgresql.config_dir', current.postgresql.configDir, next.postgresql.configDir),
      binDir: keep('postgresql.bin_dir', current.postgresql.binDir, next.postgresql.binDir),
      listen: keep('postgresql.listen', current.postgresql.listen, next.postgresql.listen),
      pgpass: keep('postgresql.pgpass', current.postgresql.pgpass, next.postgresql.pgpass),
    },
    bootstrap: current.bootstrap,
    watchdog: keep('watchdog', current.watchdog, next.watchdog),
    log: current.log,
    warnings: next.warnings,
  };
  return { config, warnings };
}
