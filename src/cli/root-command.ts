/**
 * The root of keel's command line, shared by the whole program (program.ts) and by the agent's
 * own entry (agent-program.ts): keel's options before the verb, and the turning of expected
 * failures into one-line errors and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { renderError } from '../errors.js';
import { setInsecureFlag } from './member-api.js';
import { KEEL_VERSION } from '../version.js';

export function rootCommand(): Command {
  const program = new Command('keel')
    .description('PostgreSQL high availability on etcd, Patroni-compatible')
    .version(KEEL_VERSION)
    .option('-c, --config-file <file>', 'configuration file (patroni.yml format)', process.env['PATRONICTL_CONFIG_FILE'])
    .option('--debug', 'print stack traces of errors')
    .option('-k, --insecure', "do not verify members' REST API certificates (patronictl -k)")
    .showHelpAfterError()
    // as patronictl (click): options before the verb are keel's, after it the verb's (query -c SQL)
    .enablePositionalOptions()
    .exitOverride()
    .hook('preAction', () => setInsecureFlag(program.opts<{ insecure?: boolean }>().insecure === true));
  return program;
}

/** --debug is accepted anywhere on the line, also after the verb (where positional options would refuse it). */
function debugFirst(argv: string[]): string[] {
  if (!argv.includes('--debug')) return argv;
  return [...argv.slice(0, 2), '--debug', ...argv.slice(2).filter((arg) => arg !== '--debug')];
}

export async function runProgram(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(debugFirst(argv));
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(renderError(error, argv.includes('--debug')) + '\n');
    process.exitCode = typeof (error as { exitCode?: unknown }).exitCode === 'number' ? (error as { exitCode: number }).exitCode : 1;
  }
}
