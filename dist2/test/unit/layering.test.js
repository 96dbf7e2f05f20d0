/**
 * The layering check that `npm test` runs (.dependency-cruiser.cjs): src/ keeps it, and it does
 * fail on a deliberate violation of each kind (test/unit/layering-fixture).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPCRUISE = `${ROOT}node_modules/.bin/depcruise`;
const FIXTURE = `${ROOT}test/unit/layering-fixture`;
async function cruise(cwd) {
    try {
        const { stdout } = await run(DEPCRUISE, ['--config', `${ROOT}.dependency-cruiser.cjs`, '--output-type', 'err', 'src'], { cwd, timeout: 120_000 });
        return { code: 0, output: stdout };
    }
    catch (error) {
        const failed = error;
        return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
}
test('src/ keeps the layering: pure core, shell through ports, no layer importing a higher one', { timeout: 180_000 }, async () => {
    const result = await cruise(ROOT);
    assert.equal(result.code, 0, result.output);
});
test('the check fails on a deliberate violation of each rule', { timeout: 180_000 }, async () => {
    const result = await cruise(FIXTURE);
    assert.notEqual(result.code, 0);
    for (const rule of ['core-is-pure', 'shell-uses-ports', 'engine-below-agents'])
        assert.match(result.output, new RegExp(rule), `${rule} is reported`);
});
//# sourceMappingURL=layering.test.js.map