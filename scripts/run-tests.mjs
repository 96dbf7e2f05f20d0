// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, one file at a
// time: unit tests first, then the simulator, then integration tests on real processes.
// (Node 20's --test takes no glob, and given a directory it would also run support modules.)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return find(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const suites = ['unit', 'sim', 'integration'].filter((s) => only.length === 0 || only.includes(s));
const files = suites.flatMap((suite) => find(join('dist', 'test', suite)).sort());
if (files.length === 0) {
  console.error('no test files found under dist/test (build first)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
