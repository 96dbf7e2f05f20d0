/**
 * Pieces of PostgreSQL set-up done over SQL or in files: the bootstrap users (with the pg_rewind
 * grants Patroni gives the rewind user), the pgpass file, the recovery settings. Nothing here
 * decides *whether* to run — the HA core does that.
 */
import { writeFile, chmod, rename } from 'node:fs/promises';
import pg from 'pg';
import { giveToPostgres } from './os-user.js';
import { renderConninfo } from './conf-files.js';
const quoteIdent = (name) => pg.escapeIdentifier(name);
const quoteLiteral = (value) => pg.escapeLiteral(value);
/** Creates or updates a login role with a password (idempotent). */
export async function ensureRole(conn, user, attributes) {
    const password = user.password === undefined ? '' : ` PASSWORD ${quoteLiteral(user.password)}`;
    const rows = await conn.query('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1) AS exists', [user.username]);
    const verb = rows[0]?.exists === true ? 'ALTER' : 'CREATE';
    await conn.query(`${verb} ROLE ${quoteIdent(user.username)} WITH ${attributes}${password}`);
}
/**
 * After initdb and the first start: set the superuser password, create the replication user
 * (and a pg_rewind user with the grants pg_rewind needs), then checkpoint so the new roles are
 * durable before the cluster is announced in the DCS.
 */
export async function createBootstrapUsers(conn, users) {
    await ensureRole(conn, users.superuser, 'SUPERUSER LOGIN');
    await ensureRole(conn, users.replication, 'LOGIN REPLICATION');
    const rewind = users.rewind;
    if (rewind !== undefined && rewind.username !== users.superuser.username) {
        await ensureRole(conn, rewind, 'LOGIN');
        const who = quoteIdent(rewind.username);
        for (const fn of [
            'pg_catalog.pg_ls_dir(text, boolean, boolean)',
            'pg_catalog.pg_stat_file(text, boolean)',
            'pg_catalog.pg_read_binary_file(text)',
            'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
        ]) {
            await conn.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${who}`);
        }
    }
    await conn.query('CHECKPOINT');
}
/**
 * A pgpass file's text, exactly as libpq reads it: `host:port:database:username:password`, each
 * field either `*` (any) or a value in which `\` and `:` are escaped with a backslash. Entries
 * without a password are left out. (issue 6: a port written as `0` never matched, so the WAL
 * receiver never found its password.)
 */
export function renderPgpass(entries) {
    const escape = (value) => value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
    const field = (value) => (value === '*' ? '*' : escape(value));
    const lines = entries
        .filter((e) => e.user.password !== undefined)
        .map((e) => [field(e.host), field(e.port), field(e.database), escape(e.user.username), escape(e.user.password ?? '')].join(':'));
    return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
/**
 * Writes the pgpass file primary_conninfo points at (`passfile=`), so no password ever sits in
 * postgresql.conf (Patroni's approach); 0600 and owned by the PostgreSQL OS user, who reads it.
 */
export async function writePgpass(path, entries) {
    const temporary = `${path}.keel-tmp`;
    await writeFile(temporary, renderPgpass(entries), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await giveToPostgres(temporary);
    await rename(temporary, path);
}
/** primary_conninfo / primary_slot_name for following `source`, as Patroni writes them. */
export function recoverySettings(source, applicationName, pgpassFile, slotName) {
    const conninfo = renderConninfo({
        user: source.username,
        passfile: pgpassFile,
        host: source.host,
        port: source.port,
        sslmode: 'prefer',
        application_name: applicationName,
        gssencmode: 'prefer',
        channel_binding: 'prefer',
    });
    return slotName === undefined ? { primaryConninfo: conninfo } : { primaryConninfo: conninfo, primarySlotName: slotName };
}
//# sourceMappingURL=procedures.js.map