import { KeelError } from '../errors.js';
import { sandboxUp, sandboxDown, readSandboxRecord, waitForCluster } from '../sandbox/sandbox.js';
import { listCluster, parseFormat } from './list-command.js';
function positiveNumber(flag, value) {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0)
        throw new KeelError('cli.bad_number', `${flag} must be a positive number, got "${value}"`, { exitCode: 2 });
    return parsed;
}
export function registerSandboxCommands(program) {
    const sandbox = program.command('sandbox').description('a local cluster on loopback: etcd x3 and one agent per node');
    sandbox
        .command('up')
        .description('start etcd and the agents in the background and print the endpoints')
        .requiredOption('--dir <dir>', 'directory for configs, data and logs')
        .option('--nodes <n>', 'PostgreSQL nodes', '3')
        .option('--base-port <port>', 'first of a block of ports (default: free ports)')
        .option('--ttl <s>', 'leader lease TTL (seconds)', '30')
        .option('--loop-wait <s>', 'HA loop period (seconds)', '10')
        .option('--retry-timeout <s>', 'DCS and PostgreSQL operation timeout (seconds)', '10')
        .option('--scope <name>', 'cluster name', 'keel-sandbox')
        .option('--wait <s>', 'wait until a leader runs and every replica streams (0 = return at once)', '180')
        .action(async (flags) => {
        const log = (line) => process.stdout.write(line + '\n');
        const record = await sandboxUp({
            dir: flags.dir,
            nodes: positiveNumber('--nodes', flags.nodes),
            ...(flags.basePort === undefined ? {} : { basePort: positiveNumber('--base-port', flags.basePort) }),
            timings: {
                ttlS: positiveNumber('--ttl', flags.ttl),
                loopWaitS: positiveNumber('--loop-wait', flags.loopWait),
                retryTimeoutS: positiveNumber('--retry-timeout', flags.retryTimeout),
            },
            scope: flags.scope,
            waitMs: 0,
            log,
        });
        log(`etcd: ${record.etcd.endpoints.join(',')}`);
        const waitS = Number(flags.wait);
        if (waitS > 0) {
            log(`waiting up to ${waitS}s for a leader and ${record.nodes.length - 1} streaming replica(s)...`);
            await waitForCluster(record, waitS * 1000);
        }
        log(`\nconfigs: ${record.nodes.map((n) => n.config).join(' ')}`);
        log(`try:     keel -c ${record.nodes[0]?.config ?? ''} list`);
        process.stdout.write((await listCluster(record.nodes[0]?.config ?? '', 'pretty')).trimEnd() + '\n');
    });
    sandbox
        .command('down')
        .description('stop everything the sandbox started (by PID)')
        .requiredOption('--dir <dir>', 'the sandbox directory')
        .action(async (flags) => {
        await sandboxDown(flags.dir, (line) => process.stdout.write(line + '\n'));
        process.stdout.write('sandbox stopped\n');
    });
    sandbox
        .command('status')
        .description('print the cluster (keel list) of a sandbox')
        .requiredOption('--dir <dir>', 'the sandbox directory')
        .option('-f, --format <format>', 'pretty, json or yaml', 'pretty')
        .action(async (flags) => {
        const record = await readSandboxRecord(flags.dir);
        const first = record.nodes[0];
        if (first === undefined)
            throw new KeelError('sandbox.empty', 'the sandbox has no nodes');
        process.stdout.write((await listCluster(first.config, parseFormat(flags.format))).trimEnd() + '\n');
    });
}
//# sourceMappingURL=sandbox-command.js.map