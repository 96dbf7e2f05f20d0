/**
 * The real CallbackPort: postgresql.callbacks commands as child processes, as Patroni's
 * CallbackExecutor runs them — never waited for by the HA loop, one at a time per slot (a new
 * callback kills the previous one still running, with its children: each runs in its own process
 * group), and killed when it overruns its deadline. The exit status is only logged: a failing
 * callback never changes what the agent does.
 */
import { spawn } from 'node:child_process';
/** Longest a callback may run before it is killed (Patroni has none; a stuck script must not pile up). */
export const CALLBACK_DEADLINE_MS = 10 * 60_000;
function killGroup(child) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
        return;
    try {
        process.kill(-child.pid, 'SIGKILL');
    }
    catch {
        // already gone
    }
}
export class ProcessCallbacks {
    log;
    deadlineMs;
    running = new Map();
    constructor(log, deadlineMs = CALLBACK_DEADLINE_MS) {
        this.log = log;
        this.deadlineMs = deadlineMs;
    }
    run(argv, slot) {
        const [command, ...args] = argv;
        if (command === undefined)
            return;
        const previous = this.running.get(slot);
        if (previous !== undefined) {
            this.log.warning(`killing the callback still running (pid ${previous.pid ?? '?'}) to run ${argv.join(' ')}`);
            killGroup(previous);
        }
        let child;
        try {
            child = spawn(command, args, { stdio: 'ignore', detached: true });
        }
        catch (error) {
            this.log.error(`callback ${argv.join(' ')} could not start: ${error instanceof Error ? error.message : String(error)}`);
            return;
        }
        this.running.set(slot, child);
        const deadline = setTimeout(() => {
            this.log.warning(`callback ${argv.join(' ')} still running after ${Math.round(this.deadlineMs / 1000)} s: killed`);
            killGroup(child);
        }, this.deadlineMs);
        deadline.unref();
        const done = () => {
            clearTimeout(deadline);
            if (this.running.get(slot) === child)
                this.running.delete(slot);
        };
        child.on('error', (error) => {
            done();
            this.log.error(`callback ${argv.join(' ')} could not start: ${error.message}`);
        });
        child.on('exit', (code, signal) => {
            done();
            if (code === 0)
                this.log.debug(`callback ${argv.join(' ')} finished`);
            else
                this.log.warning(`callback ${argv.join(' ')} failed: ${signal === null ? `exit code ${code ?? '?'}` : `killed by ${signal}`}`);
        });
        child.unref();
    }
}
//# sourceMappingURL=callback-process.js.map