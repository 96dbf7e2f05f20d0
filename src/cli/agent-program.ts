/**
 * `keel agent FILE.yml` on its own: the root options and the agent command only (main.ts), so a
 * long-running agent does not load and keep the code of every other command (measured: ~5 MB of
 * resident memory per agent).
 */
import { registerAgentCommand } from './agent-command.js';
import { rootCommand, runProgram } from './root-command.js';

const program = rootCommand();
registerAgentCommand(program);
await runProgram(program, process.argv);
