/**
 * Golden rule files: every case of test/unit/ha/golden/*.txt (one file per rule area) is an
 * observation and what decide() must make of it — the whole plan, the path taken for the given
 * gate outcomes, the why sentence and the lease guard — rendered as text (format:
 * golden-format.ts). A change of behaviour shows up as a diff of these files, to be read by
 * someone who knows what Patroni would do.
 *
 * After an intended change, regenerate the expected blocks and review them:
 *   npx tsc -p tsconfig.json && KEEL_REWRITE_GOLDEN=1 node --test dist/test/unit/ha/golden.test.js
 *   git diff test/unit/ha/golden
 * A new case can be written with an empty expected block (`----` then a blank line).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseGoldenFile, printGoldenFile, runCase } from './golden-format.js';
/** test/unit/ha/golden in the source tree, found from the compiled file in dist/test/unit/ha/. */
const GOLDEN_DIR = new URL('../../../../test/unit/ha/golden/', import.meta.url);
const REWRITE = process.env['KEEL_REWRITE_GOLDEN'] === '1';
const files = readdirSync(GOLDEN_DIR)
    .filter((name) => name.endsWith('.txt'))
    .sort();
test('the golden directory holds rule files', () => {
    assert.ok(files.length > 0, `no .txt files in ${GOLDEN_DIR.pathname}`);
});
for (const file of files) {
    const url = new URL(file, GOLDEN_DIR);
    const blocks = parseGoldenFile(file, readFileSync(url, 'utf8'));
    const cases = blocks.filter((block) => block.kind === 'case');
    if (REWRITE) {
        test(`${file}: rewrite the expected output of ${cases.length} cases`, () => {
            writeFileSync(url, printGoldenFile(blocks, runCase));
        });
        continue;
    }
    test(file, async (t) => {
        assert.ok(cases.length > 0, `${file} has no case`);
        for (const c of cases) {
            await t.test(`${c.where} ${(c.comments[0] ?? '').replace(/^#\s*/, '')}`, () => {
                assert.equal(runCase(c).join('\n'), c.expected.join('\n'), `${c.where}: output differs (after an intended change: KEEL_REWRITE_GOLDEN=1, then review the diff)`);
            });
        }
    });
}
//# sourceMappingURL=golden.test.js.map