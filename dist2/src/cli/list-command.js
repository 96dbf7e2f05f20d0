import { KeelError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import { EtcdDcs } from '../dcs/etcd-dcs.js';
import { renderList } from '../patroni/list-render.js';
import { DcsUnavailableError } from '../dcs/types.js';
import { clearScreen } from './terminal.js';
export function parseFormat(value) {
    if (value === 'pretty' || value === 'json' || value === 'yaml' || value === 'tsv')
        return value;
    throw new KeelError('cli.bad_format', `--format must be pretty, json, yaml or tsv, got "${value}"`, { exitCode: 2 });
}
export function configFileOf(program) {
    const file = program.opts().configFile;
    if (file === undefined)
        throw new KeelError('cli.no_config', 'no configuration file given', { hint: 'pass -c FILE (or set PATRONICTL_CONFIG_FILE)', exitCode: 2 });
    return file;
}
/** Reads the cluster described by a config file from etcd (for read-only CLI verbs). */
export async function readCluster(config) {
    const dcs = new EtcdDcs({ etcd: config.etcd, namespace: config.namespace, scope: config.scope, name: config.name, retryTimeoutMs: 10_000 });
    try {
        return await dcs.loadCluster();
    }
    catch (error) {
        if (error instanceof DcsUnavailableError)
            throw new KeelError('cli.dcs_unavailable', error.message, { hint: 'check that etcd runs and that the etcd3 section of the configuration file names it' });
        throw error;
    }
    finally {
        await dcs.close();
    }
}
export async function listCluster(configFile, format, extended = false, topology = false) {
    const config = loadConfigFile(configFile, process.env);
    const view = await readCluster(config);
    return renderList(view, format, { scope: config.scope, extended, topology });
}
/** patronictl's watching(): -W is -w 2. */
export function watchIntervalMs(options) {
    if (options.watch !== undefined) {
        const seconds = Number(options.watch);
        if (options.watch.trim() === '' || !Number.isFinite(seconds) || seconds <= 0)
            throw new KeelError('cli.bad_watch', `-w/--watch must be a positive number of seconds, got "${options.watch}"`, { exitCode: 2 });
        return seconds * 1000;
    }
    return options.W === true ? 2000 : null;
}
/** Prints `render()` once, or again every interval until interrupted (Ctrl-C), clearing a terminal first. */
async function printWatching(render, options) {
    const intervalMs = watchIntervalMs(options);
    for (;;) {
        const output = await render();
        if (intervalMs !== null)
            clearScreen();
        process.stdout.write(output.endsWith('\n') ? output : output + '\n');
        if (intervalMs === null)
            return;
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
}
/** patronictl takes cluster names; keel's cluster is the configuration file's scope. */
function checkScope(file, cluster) {
    if (cluster === undefined)
        return;
    const scope = loadConfigFile(file, process.env).scope;
    if (cluster !== scope)
        throw new KeelError('cli.wrong_cluster', `cluster "${cluster}" is not the one the configuration file names ("${scope}")`, { exitCode: 2 });
}
export function registerListCommand(program) {
    program
        .command('list')
        .description("list the cluster's members (patronictl list)")
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-f, --format <format>', 'pretty, json, yaml or tsv', 'pretty')
        .option('-e, --extended', 'always show Pending restart, Scheduled restart and Tags')
        .option('-W', 'refresh every 2 seconds (until Ctrl-C)')
        .option('-w, --watch <seconds>', 'refresh every <seconds> (until Ctrl-C)')
        .action(async (cluster, options) => {
        const format = parseFormat(options.format);
        const file = configFileOf(program);
        checkScope(file, cluster);
        watchIntervalMs(options);
        await printWatching(() => listCluster(file, format, options.extended === true), options);
    });
    program
        .command('topology')
        .description("the cluster's members as a replication tree (patronictl topology)")
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-W', 'refresh every 2 seconds (until Ctrl-C)')
        .option('-w, --watch <seconds>', 'refresh every <seconds> (until Ctrl-C)')
        .action(async (cluster, options) => {
        const file = configFileOf(program);
        checkScope(file, cluster);
        watchIntervalMs(options);
        await printWatching(() => listCluster(file, 'pretty', false, true), options);
    });
}
//# sourceMappingURL=list-command.js.map