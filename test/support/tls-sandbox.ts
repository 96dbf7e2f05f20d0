/**
 * Test support: turns sandbox nodes into TLS nodes the way an operator would — stop the agent,
 * add restapi TLS settings to its patroni.yml, start it again — keeping the sandbox record up to
 * date so teardown stops the new agent PIDs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { isAlive, spawnAgent, writeRecord } from '../../src/sandbox/sandbox.js';
import { eventually, type TestCluster } from './sandbox.js';

/** Stops the named nodes' agents (SIGTERM: they stop PostgreSQL too), merges `restapi` into their files and starts them again. */
export async function restartWithRestapi(cluster: TestCluster, names: string[], restapi: Record<string, unknown>): Promise<void> {
  const nodes = cluster.record.nodes.filter((n) => names.includes(n.name));
  for (const node of nodes) process.kill(node.pid, 'SIGTERM');
  for (const node of nodes) await eventually(`the agent of ${node.name} to stop`, 90_000, async () => (isAlive(node.pid) ? undefined : true));
  for (const node of nodes) {
    const config = parse(await readFile(node.config, 'utf8')) as Record<string, Record<string, unknown>>;
    config['restapi'] = { ...config['restapi'], ...restapi };
    await writeFile(node.config, stringify(config, { version: '1.1' }));
    node.pid = await spawnAgent(node.config, node.logFile);
    await writeRecord(cluster.dir, cluster.record); // teardown stops the new PIDs
  }
}
