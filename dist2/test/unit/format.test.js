/**
 * The code keeps one format (.prettierrc.json): `npm run format` rewrites it, this test reports
 * the files that drifted, so style never needs a review comment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PRETTIER = `${ROOT}node_modules/.bin/prettier`;
const FORMATTED = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.mjs'];
test('sources are formatted as .prettierrc.json says (npm run format fixes it)', { timeout: 180_000 }, async () => {
    let listed = '';
    try {
        await run(PRETTIER, ['--list-different', ...FORMATTED], { cwd: ROOT, timeout: 120_000 });
    }
    catch (error) {
        const failed = error;
        listed = `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim();
    }
    assert.equal(listed, '', `not formatted (run npm run format):\n${listed}`);
});
//# sourceMappingURL=format.test.js.map