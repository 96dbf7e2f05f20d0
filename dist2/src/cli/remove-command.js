import { KeelError } from '../errors.js';
import { EtcdClient } from '../engine/etcd/etcd-client.js';
import { clusterPrefix } from '../patroni/dcs-layout.js';
import { renderList } from '../patroni/list-render.js';
import { ask, closeTerminal } from './terminal.js';
import { loadLocalConfig, printOut, withDcs } from './cluster-session.js';
const AWARE = 'Yes I am aware';
const DEADLINE_MS = 10_000;
async function removeCluster(program, cluster) {
    const local = loadLocalConfig(program);
    if (cluster !== local.scope)
        throw new KeelError('cli.wrong_cluster', `cluster "${cluster}" is not the one the configuration file names ("${local.scope}")`, { exitCode: 2 });
    const view = await withDcs(local, (dcs) => dcs.loadCluster());
    printOut(renderList(view, 'pretty', { scope: local.scope }));
    if ((await ask('Please confirm the cluster name to remove', 'the cluster name')) !== cluster)
        throw new KeelError('cli.not_confirmed', 'Cluster names specified do not match; nothing removed');
    if ((await ask(`You are about to remove all information in DCS for ${cluster}, please type: "${AWARE}"`, AWARE)) !== AWARE)
        throw new KeelError('cli.not_confirmed', `You did not exactly type "${AWARE}"; nothing removed`);
    const leader = view.leader?.name;
    if (leader !== undefined && leader !== '') {
        if ((await ask('This cluster currently is healthy. Please specify the leader name to continue', 'the leader name')) !== leader)
            throw new KeelError('cli.not_confirmed', 'You did not specify the current leader of the cluster; nothing removed');
    }
    const client = new EtcdClient({
        endpoints: local.etcd.endpoints,
        protocol: local.etcd.protocol,
        ...(local.etcd.username === undefined ? {} : { username: local.etcd.username }),
        ...(local.etcd.password === undefined ? {} : { password: local.etcd.password }),
        requestTimeoutMs: DEADLINE_MS,
    });
    try {
        const { deleted } = await client.deleteRange(clusterPrefix(local.namespace, local.scope), { prefix: true });
        printOut(`Removed cluster ${cluster} from the DCS (${deleted} keys)`);
    }
    finally {
        client.close();
    }
}
export function registerRemoveCommand(program) {
    program
        .command('remove')
        .description("delete the cluster's keys from etcd (patronictl remove); asks for confirmation")
        .argument('<cluster>', 'the cluster to remove (must be the scope of the configuration file)')
        .action(async (cluster) => {
        try {
            await removeCluster(program, cluster);
        }
        finally {
            closeTerminal();
        }
    });
}
//# sourceMappingURL=remove-command.js.map