import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { sandboxUp, waitForCluster, readSandboxRecord, sandboxRecordPath, isAlive } from '../sandbox/sandbox.js';
import { listCluster } from './list-command.js';
export function registerDemoCommand(program) {
    program
        .command('demo')
        .description('start a 3-node local cluster (etcd x3 + PostgreSQL x3) and show it')
        .option('--dir <dir>', 'where the demo cluster lives', process.env['KEEL_DEMO_DIR'] ?? join(tmpdir(), 'keel-demo'))
        .action(async (flags) => {
        const out = (line) => process.stdout.write(line + '\n');
        if (existsSync(sandboxRecordPath(flags.dir))) {
            const record = await readSandboxRecord(flags.dir);
            if (record.nodes.some((n) => isAlive(n.pid))) {
                out(`the demo cluster is already running in ${flags.dir}`);
                out((await listCluster(record.nodes[0]?.config ?? '', 'pretty')).trimEnd());
                return;
            }
        }
        const record = await sandboxUp({
            dir: flags.dir,
            nodes: 3,
            timings: { ttlS: 30, loopWaitS: 10, retryTimeoutS: 10 },
            scope: 'keel-demo',
            waitMs: 0,
            log: out,
        });
        out('waiting for the leader to bootstrap and the replicas to stream...');
        await waitForCluster(record, 300_000);
        const config = record.nodes[0]?.config ?? '';
        out('');
        out((await listCluster(config, 'pretty')).trimEnd());
        out('');
        out('PostgreSQL:  ' + record.nodes.map((n) => `${n.name} 127.0.0.1:${n.pgPort}`).join(', '));
        out('REST API:    ' + record.nodes.map((n) => `http://127.0.0.1:${n.apiPort}/patroni`).join(' '));
        out('etcd:        ' + record.etcd.endpoints.join(','));
        out('');
        out('try:');
        out(`  node dist/src/cli/main.js -c ${config} list`);
        out(`  curl -s http://127.0.0.1:${record.nodes[0]?.apiPort ?? 0}/patroni`);
        out(`  node dist/src/cli/main.js sandbox down --dir ${flags.dir}     # stop everything`);
    });
}
//# sourceMappingURL=demo-command.js.map