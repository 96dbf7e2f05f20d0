/**
 * `keel agent FILE.yml` — the per-node agent (Patroni's `patroni FILE.yml`).
 * An invalid file prints the key path and what was expected and exits 2 before anything starts.
 */
import type { Command } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { loadConfigFile } from '../config/load.js';
import { openAgentLog } from './agent-log.js';
import { Agent } from '../ha/agent.js';
import { realPorts } from '../ha/real-ports.js';
import { Allowlist } from '../api/allowlist.js';
import { startApiServer, type ApiServerTls } from '../api/server.js';
import type { RestApiConfig } from '../config/types.js';
import { isGaleraFile, runGaleraAgent } from './galera-command.js';
import { observeEtcdRequests } from '../engine/etcd/etcd-observer.js';
import { refuseLivePatroniV2Cluster } from '../dcs/patroni-v2-guard.js';

/**
 * An agent spends its life waiting: its code runs a few times a second, in short bursts. V8's
 * optimizing tiers (Maglev, TurboFan) then cost more than they save: compiling and re-compiling
 * warm paths, and holding the code. Capped at the baseline compiler (Sparkplug), an idle agent
 * used ~10% less CPU and 3-6 MB less resident memory (bench/footprint, side by side with the
 * default); nothing the agent computes is heavy enough to need optimized code.
 */
const AGENT_V8_FLAGS = '--max-opt=1';

/** How long the check of etcd's v2 store (an `etcd:` section) tries the endpoints: Patroni's default retry_timeout. */
const V2_CHECK_DEADLINE_MS = 10_000;

/** The server's TLS settings: HTTPS exactly when restapi.certfile is set (as in Patroni). */
function restApiTls(api: RestApiConfig): ApiServerTls | undefined {
  if (api.certfile === undefined) return undefined;
  return {
    certfile: api.certfile,
    verifyClient: api.verifyClient,
    ...(api.keyfile === undefined ? {} : { keyfile: api.keyfile }),
    ...(api.keyfilePassword === undefined ? {} : { keyfilePassword: api.keyfilePassword }),
    ...(api.cafile === undefined ? {} : { cafile: api.cafile }),
    ...(api.ciphers === undefined ? {} : { ciphers: api.ciphers }),
  };
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the HA agent for one PostgreSQL node (patroni.yml format) or one MariaDB Galera node (a file with a galera: section)')
    .argument('<file>', 'configuration file')
    .option('--validate-config', 'check the file and exit (0 = valid)')
    .option('--log-format <format>', 'text or json')
    .action(async (file: string, flags: { validateConfig?: boolean; logFormat?: string }) => {
      setFlagsFromString(AGENT_V8_FLAGS);
      if (isGaleraFile(file)) return runGaleraAgent(file, flags);
      const config = loadConfigFile(file, process.env);
      const log = openAgentLog(file, config, flags);
      if (log === null) return;
      if (config.etcd.section === 'etcd') {
        await refuseLivePatroniV2Cluster({
          etcd: config.etcd,
          namespace: config.namespace,
          scope: config.scope,
          deadlineMs: V2_CHECK_DEADLINE_MS,
          warn: (message) => log.warning(message),
        }).catch((error: unknown) => {
          // stderr says it (runProgram); a log.dir file must say why the agent stopped too
          if (error instanceof Error && config.log.file !== undefined) log.error(error.message);
          throw error;
        });
      }
      const agent = new Agent(config, { ports: realPorts(config, log), log });
      observeEtcdRequests((operation, durationMs, errorKind) => agent.metrics.etcdRequest(operation, durationMs, errorKind));
      process.on('SIGTERM', () => agent.stop(0));
      process.on('SIGINT', () => agent.stop(0));
      process.on('SIGHUP', () => agent.requestReload());
      const allowlistSettings = { entries: config.restapi.allowlist, includeMembers: config.restapi.allowlistIncludeMembers };
      const allowlist = Allowlist.wanted(allowlistSettings) ? await Allowlist.build(allowlistSettings) : undefined;
      const tls = restApiTls(config.restapi);
      const api = await startApiServer({
        listen: config.restapi.listen,
        ...(tls === undefined ? {} : { tls }),
        ...(config.restapi.authentication === undefined ? {} : { auth: config.restapi.authentication }),
        ...(allowlist === undefined ? {} : { allowlist }),
        provider: agent.apiProvider(),
      });
      log.info(`REST API on ${api.scheme}://${config.restapi.listen.host}:${api.port}`);
      try {
        process.exitCode = await agent.run();
      } finally {
        await api.close();
      }
    });
}
