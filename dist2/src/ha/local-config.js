/**
 * pgpass lines for every configured user with a password, matching any host, port and database:
 * libpq picks the line by user name, whichever member the WAL receiver connects to.
 */
export function pgpassEntries(local) {
    const auth = local.postgresql.authentication;
    const users = [auth.replication, auth.superuser, ...(auth.rewind === undefined ? [] : [auth.rewind])];
    const seen = new Set();
    return users.filter((user) => !seen.has(user.username) && seen.add(user.username)).map((user) => ({ host: '*', port: '*', database: '*', user }));
}
/**
 * The configuration a reload applies: `next`, except what only takes effect when the agent
 * restarts (identity, where etcd and the REST API are, where the data lives), which stays as it
 * is and is reported.
 */
export function reloadableConfig(current, next) {
    const warnings = [];
    const keep = (what, before, after) => {
        if (JSON.stringify(before) !== JSON.stringify(after))
            warnings.push(`reload: ${what} changed; it takes effect when the agent restarts`);
        return before;
    };
    const config = {
        ...next,
        file: current.file,
        scope: keep('scope', current.scope, next.scope),
        namespace: keep('namespace', current.namespace, next.namespace),
        name: keep('name', current.name, next.name),
        restapi: { ...next.restapi, listen: keep('restapi.listen', current.restapi.listen, next.restapi.listen) },
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
//# sourceMappingURL=local-config.js.map