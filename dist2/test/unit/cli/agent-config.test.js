/**
 * `keel agent` with a bad file: one line naming the key path and what was expected, exit code 2,
 * nothing started (no data directory created, no stack trace). `--validate-config` on the seed's
 * file succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKeel } from '../../support/sandbox.js';
const SEED = fileURLToPath(new URL('../../../../test/unit/config/fixtures/seed-patroni.yml', import.meta.url));
test('an invalid value stops the agent with the key path, exit 2, and nothing on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-cfg-'));
    try {
        const dataDir = join(dir, 'data');
        const seed = await readFile(SEED, 'utf8');
        const bad = seed.replace(/data_dir: .*/, `data_dir: ${dataDir}`).replace(/^(\s*)listen: 10\.0\.1\.21:5432/m, '$1listen: foo');
        assert.notEqual(bad, seed, 'the fixture must contain the line we break');
        const file = join(dir, 'bad.yml');
        await writeFile(file, bad);
        const result = await runKeel(['agent', file]);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /postgresql\.listen/);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace for an expected failure');
        assert.equal(existsSync(dataDir), false, 'nothing may be created');
    }
    finally {
        await rm(dir, { recursive: true, force: true });
    }
});
test('a YAML syntax error names the line and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-cfg-'));
    try {
        const file = join(dir, 'broken.yml');
        await writeFile(file, 'scope: x\nname: [unclosed\n');
        const result = await runKeel(['agent', file]);
        assert.equal(result.code, 2);
        assert.match(result.stderr, /line \d+/);
    }
    finally {
        await rm(dir, { recursive: true, force: true });
    }
});
test("the seed's patroni.yml validates", async () => {
    const result = await runKeel(['agent', '--validate-config', SEED]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid/);
});
test('a missing file is a one-line error', async () => {
    const result = await runKeel(['agent', '/nonexistent/keel.yml']);
    assert.notEqual(result.code, 0);
    assert.equal(result.stderr.trim().split('\n').length <= 2, true, result.stderr);
});
//# sourceMappingURL=agent-config.test.js.map