/**
 * `keel dsn` and `keel query` — connecting to a member's PostgreSQL, as patronictl's verbs: the
 * member is the leader by default, any member with --role, or one by name with --member; its
 * host and port come from the conn_url it publishes. query connects with the superuser of the
 * configuration file unless -U / --password say otherwise, as application "Patroni ctl" with a
 * 5 s connect timeout, and refuses a member whose actual role is not the one asked for.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { KeelError } from '../errors.js';
import { pyJsonDumps, pyUrlHostPort } from '../patroni/python-compat.js';
import { pyYamlDump } from '../patroni/pyyaml.js';
import { renderPatronictlTable } from '../patroni/patronictl-table.js';
import { askSecret, closeTerminal } from './terminal.js';
import { checkClusterName, loadLocalConfig, memberChoiceRole, pickMember, printOut, withDcs } from './cluster-session.js';
import { parseFormat } from './list-command.js';
const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 60_000;
function hostPortOf(member) {
    const parsed = member.connUrl === null ? null : pyUrlHostPort(member.connUrl);
    if (parsed === null || parsed.hostname === null)
        throw new KeelError('cli.no_conn_url', `member ${member.name} publishes no usable conn_url (${member.connUrl ?? 'none'})`);
    return { host: parsed.hostname, port: typeof parsed.port === 'number' ? parsed.port : 5432 };
}
async function chosenMember(program, cluster, choice) {
    memberChoiceRole(choice);
    const local = loadLocalConfig(program);
    checkClusterName(local, cluster);
    return pickMember(await withDcs(local, (dcs) => dcs.loadCluster()), choice);
}
/** The SQL text of -c or -f (exactly one of them). */
export function queryText(options) {
    if (options.command !== undefined && options.file !== undefined)
        throw new KeelError('cli.bad_arguments', '--file and --command are mutually exclusive options', { exitCode: 2 });
    if (options.command !== undefined)
        return options.command;
    if (options.file === undefined)
        throw new KeelError('cli.bad_arguments', 'You need to specify either --command or --file', { exitCode: 2 });
    try {
        return readFileSync(options.file === '-' ? 0 : options.file, 'utf8');
    }
    catch (error) {
        throw new KeelError('cli.unreadable_file', `cannot read ${options.file}: ${error.code ?? String(error)}`, { exitCode: 2 });
    }
}
/** Python's str() of what psycopg would return, near enough for a terminal. */
function cellText(value) {
    if (value === null || value === undefined)
        return 'None';
    if (value === true)
        return 'True';
    if (value === false)
        return 'False';
    if (value instanceof Date)
        return value.toISOString();
    if (Buffer.isBuffer(value))
        return `b'${value.toString('hex')}'`;
    if (typeof value === 'object')
        return JSON.stringify(value);
    return String(value);
}
export function renderRows(columns, rows, format, delimiter) {
    if (format === 'json' || format === 'yaml') {
        const elements = rows.map((row) => Object.fromEntries(columns.map((column, index) => [column, row[index] instanceof Date ? cellText(row[index]) : (row[index] ?? null)])));
        return format === 'json' ? pyJsonDumps(elements) : pyYamlDump(elements);
    }
    const text = rows.map((row) => row.map(cellText));
    if (format === 'tsv')
        return [columns, ...text].map((line) => line.join(delimiter)).join('\n');
    return renderPatronictlTable('', columns, text);
}
/** pg_is_in_recovery() must match a replica/primary role asked for (patronictl's get_cursor). */
function roleMatches(role, inRecovery) {
    if (role === 'replica' || role === 'standby' || role === 'standby-leader')
        return inRecovery;
    if (role === 'primary' || role === 'master')
        return !inRecovery;
    return true;
}
async function runQuery(program, cluster, options) {
    const format = parseFormat(options.format);
    memberChoiceRole(options);
    const sql = queryText(options);
    const local = loadLocalConfig(program);
    const member = await chosenMember(program, cluster, options);
    const { host, port } = hostPortOf(member);
    const superuser = local.postgresql.authentication.superuser;
    const user = options.username ?? superuser.username;
    const password = options.password === true ? await askSecret('Password', 'Password') : options.username === undefined ? superuser.password : undefined;
    const client = new pg.Client({
        host,
        port,
        user,
        ...(password === undefined ? {} : { password }),
        database: options.dbname ?? user,
        application_name: 'Patroni ctl',
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        query_timeout: QUERY_TIMEOUT_MS,
    });
    client.on('error', () => undefined);
    try {
        await client.connect();
        if (options.role !== undefined) {
            const recovery = await client.query('SELECT pg_catalog.pg_is_in_recovery() AS r');
            if (!roleMatches(options.role, recovery.rows[0]?.r === true))
                throw new KeelError('cli.no_member', `No connection to role=${options.role} is available`);
        }
        const result = await client.query({ text: sql, rowMode: 'array' });
        const last = Array.isArray(result) ? result[result.length - 1] : result;
        printOut(renderRows(last.fields.map((f) => f.name), last.rows, format, options.delimiter));
    }
    catch (error) {
        if (error instanceof KeelError)
            throw error;
        const code = error.code;
        if (password === undefined && String(error.message).includes('password must be a string'))
            throw new KeelError('cli.query_failed', `${member.name} asks for a password for user ${user}`, { hint: 'add --password' });
        const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : '';
        throw new KeelError('cli.query_failed', `query on ${member.name} (${host}:${port}) failed: ${error.message.split('\n')[0]}${sqlstate}`);
    }
    finally {
        await client.end().catch(() => undefined);
        closeTerminal();
    }
}
export function registerConnectCommands(program) {
    program
        .command('dsn')
        .description("print the connection string of a member, the leader's by default (patronictl dsn)")
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-r, --role <role>', 'a member with this role: leader, primary, standby-leader, replica, standby, any')
        .option('-m, --member <name>', 'this member')
        .action(async (cluster, options) => {
        const { host, port } = hostPortOf(await chosenMember(program, cluster, options));
        printOut(`host=${host} port=${port}`);
    });
    program
        .command('query')
        .description("run SQL on a member's PostgreSQL, the leader's by default (patronictl query)")
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-c, --command <sql>', 'the SQL to run')
        .option('-f, --file <file>', 'run the SQL in this file (- for stdin)')
        .option('-r, --role <role>', 'a member with this role: leader, primary, standby-leader, replica, standby, any')
        .option('-m, --member <name>', 'this member')
        .option('-U, --username <user>', 'database user (default: the superuser of the configuration file)')
        .option('--password', 'ask for the password')
        .option('-d, --dbname <name>', 'database (default: the user name, as libpq)')
        .option('--format <format>', 'pretty, json, yaml or tsv', 'tsv')
        .option('--delimiter <text>', 'column delimiter of tsv', '\t')
        .action(async (cluster, options) => runQuery(program, cluster, options));
}
//# sourceMappingURL=connect-command.js.map