/**
 * postgresql.callbacks: the argv Patroni passes (`<command split like a shell> <action> <role>
 * <scope>`), and the process runner's promises — it never waits, a new callback kills the one
 * still running in its slot (on_reload has its own), one that overruns its deadline is killed,
 * and a failing or missing command is logged, never thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callbackArgv } from '../../../src/ha/callbacks.js';
import { ProcessCallbacks } from '../../../src/postgres/callback-process.js';
import { createLogger } from '../../../src/observability/log.js';
function recordingLogger() {
    const lines = [];
    return { lines, log: createLogger({ level: 'debug', format: 'text', write: (line) => lines.push(line) }) };
}
async function until(what, check, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}
test('the argv is the command split as a shell would, then action, role, scope', () => {
    assert.deepEqual(callbackArgv(`/usr/local/bin/cb.sh --tag 'a b' "c d"`, 'on_role_change', 'master', 'batman'), [
        '/usr/local/bin/cb.sh',
        '--tag',
        'a b',
        'c d',
        'on_role_change',
        'master',
        'batman',
    ]);
});
test('callbacks run without waiting; a new one kills the previous one still running; on_reload has its own slot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-callbacks-'));
    try {
        const out = join(dir, 'out');
        const script = join(dir, 'cb.sh');
        // Records its start, sleeps, then records its end: a killed run never writes "end".
        await writeFile(script, `#!/bin/sh\necho "start $*" >> '${out}'\nsleep "$1"\necho "end $*" >> '${out}'\n`);
        await chmod(script, 0o755);
        const { lines, log } = recordingLogger();
        const runner = new ProcessCallbacks(log);
        const text = async () => readFile(out, 'utf8').catch(() => '');
        const started = Date.now();
        runner.run([script, '30', 'on_start', 'replica', 's'], 'other');
        runner.run([script, '0.2', 'on_reload', 'replica', 's'], 'reload');
        assert.ok(Date.now() - started < 1000, 'run() returns at once');
        await until('both started', async () => (await text()).includes('start 30') && (await text()).includes('start 0.2'));
        await until('the reload callback finished beside the long one', async () => (await text()).includes('end 0.2 on_reload'));
        runner.run([script, '0.1', 'on_role_change', 'master', 's'], 'other');
        await until('the new callback finished', async () => (await text()).includes('end 0.1 on_role_change'));
        assert.doesNotMatch(await text(), /end 30/, 'the long callback was killed');
        assert.ok(lines.some((l) => /killing the callback still running/.test(l)));
    }
    finally {
        await rm(dir, { recursive: true, force: true });
    }
});
test('a callback past its deadline is killed; failing and missing commands are logged, not thrown', async () => {
    const { lines, log } = recordingLogger();
    const runner = new ProcessCallbacks(log, 300);
    runner.run(['/bin/sleep', '30'], 'other');
    await until('the overrunning callback was killed', () => lines.some((l) => /still running after .* killed/.test(l)) && lines.some((l) => /failed: killed by SIGKILL/.test(l)));
    runner.run(['/bin/false', 'on_stop', 'replica', 's'], 'reload');
    await until('the failure was logged', () => lines.some((l) => /\/bin\/false on_stop replica s failed: exit code 1/.test(l)));
    assert.doesNotThrow(() => runner.run(['/nonexistent/callback', 'on_start', 'master', 's'], 'other'));
    await until('the missing command was logged', () => lines.some((l) => /\/nonexistent\/callback .*could not start/.test(l)));
});
//# sourceMappingURL=callback-process.test.js.map