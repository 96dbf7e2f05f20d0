import { loadConfigFile } from '../config/load.js';
import { createLogger, levelFromPatroni } from '../observability/log.js';
import { Agent } from '../ha/agent.js';
import { realPorts } from '../ha/real-ports.js';
import { Allowlist } from '../api/allowlist.js';
import { startApiServer } from '../api/server.js';
export function registerAgentCommand(program) {
    program
        .command('agent')
        .description('run the HA agent for one PostgreSQL node (patroni.yml format)')
        .argument('<file>', 'configuration file')
        .option('--validate-config', 'check the file and exit (0 = valid)')
        .option('--log-format <format>', 'text or json')
        .action(async (file, flags) => {
        const config = loadConfigFile(file, process.env);
        const format = flags.logFormat === 'json' || flags.logFormat === 'text' ? flags.logFormat : config.log.format;
        const log = createLogger({ level: levelFromPatroni(config.log.level), format }, {});
        for (const warning of config.warnings)
            log.warning(warning);
        if (flags.validateConfig === true) {
            process.stdout.write(`${file}: valid\n`);
            return;
        }
        const agent = new Agent(config, { ports: realPorts(config, log), log });
        process.on('SIGTERM', () => agent.stop(0));
        process.on('SIGINT', () => agent.stop(0));
        process.on('SIGHUP', () => agent.requestReload());
        const allowlistSettings = { entries: config.restapi.allowlist, includeMembers: config.restapi.allowlistIncludeMembers };
        const allowlist = Allowlist.wanted(allowlistSettings) ? await Allowlist.build(allowlistSettings) : undefined;
        const api = await startApiServer({
            listen: config.restapi.listen,
            ...(config.restapi.authentication === undefined ? {} : { auth: config.restapi.authentication }),
            ...(allowlist === undefined ? {} : { allowlist }),
            provider: agent.apiProvider(),
        });
        log.info(`REST API on http://${config.restapi.listen.host}:${api.port}`);
        try {
            process.exitCode = await agent.run();
        }
        finally {
            await api.close();
        }
    });
}
//# sourceMappingURL=agent-command.js.map