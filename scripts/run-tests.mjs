// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner: unit tests
// first, in one process, one file at a time; then the integration tests on real processes, two
// files at a time (they spend their time waiting on timeouts, not computing), each file in its
// own `node --test` process whose output is printed whole when it ends, so that two files never
// interleave. Files that build network namespaces (test/integration/hosts/) never run beside
// each other. The longest files start first (durations below, measured on 2 cores).
// The simulator files (pure computation: ~14 minutes of both cores, mostly the 10,000 schedules
// issue 7 asks for) run beside the integration files, in one process at the lowest CPU priority
// (nice 19): they take the CPU the integration files leave idle while they wait, and yield it
// whenever a real PostgreSQL, etcd or agent needs it. Run one after the other, the two took 35
// minutes on 2 cores; the budget is 30.
//   node scripts/run-tests.mjs [unit] [sim] [integration]
// (Node 20's --test takes no glob, and given a directory it would also run support modules.)
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return find(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const INTEGRATION_LANES = 2;
/** Rough seconds per integration file, to start the long ones first (unknown files: 60). */
const EXPECTED_SECONDS = {
  'ha/sync-modes.test.js': 480,
  'hosts/chaos.test.js': 420,
  'hosts/seed-topology.test.js': 240,
  'ha/failover.test.js': 150,
  'ops/config-and-pause.test.js': 120,
  'ops/switchover.test.js': 120,
  'backup/backup-restore.test.js': 120,
  'galera/galera-cluster.test.js': 120,
};
/** Files that must not run at the same time as another file of their group. */
const exclusiveGroup = (file) => (file.includes(`${join('integration', 'hosts')}`) ? 'netns' : null);

const only = process.argv.slice(2);
const wanted = (suite) => only.length === 0 || only.includes(suite);
const unit = wanted('unit') ? find(join('dist', 'test', 'unit')).sort() : [];
const sim = wanted('sim') ? find(join('dist', 'test', 'sim')).sort() : [];
const integration = wanted('integration') ? find(join('dist', 'test', 'integration')).sort() : [];
if (unit.length + sim.length + integration.length === 0) {
  console.error('no test files found under dist/test (build first)');
  process.exit(1);
}

let failed = false;
if (unit.length > 0) {
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...unit], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}

function expected(file) {
  const key = relative(join('dist', 'test', 'integration'), file);
  return EXPECTED_SECONDS[key] ?? 60;
}

/** Runs `files` in one `node --test` process (at `priority`, a nice value), its output printed whole at its end. */
function runFile(file, { files = [file], priority = 0 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const command = [process.execPath, '--test', '--test-concurrency=1', ...files];
    // through nice(1), so that every thread of the process (V8's, libuv's, the simulator's workers) starts at that priority
    const child =
      priority === 0
        ? spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('nice', ['-n', String(priority), ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    child.on('close', (code) => {
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`\n# ===== ${file}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${seconds.toFixed(0)} s =====\n`);
      process.stdout.write(Buffer.concat(chunks));
      resolve({ file, code, seconds });
    });
  });
}

async function runIntegration(files) {
  const queue = [...files].sort((a, b) => expected(b) - expected(a));
  const busyGroups = new Set();
  const results = [];
  async function lane() {
    for (;;) {
      const index = queue.findIndex((file) => {
        const group = exclusiveGroup(file);
        return group === null || !busyGroups.has(group);
      });
      if (index < 0) {
        if (queue.length === 0) return;
        await new Promise((r) => setTimeout(r, 500)); // only files of a busy group are left
        continue;
      }
      const [file] = queue.splice(index, 1);
      const group = exclusiveGroup(file);
      if (group !== null) busyGroups.add(group);
      process.stdout.write(`# starting ${file}\n`);
      results.push(await runFile(file));
      if (group !== null) busyGroups.delete(group);
    }
  }
  await Promise.all(Array.from({ length: INTEGRATION_LANES }, lane));
  process.stdout.write('\n# integration files (seconds):\n');
  for (const r of results.sort((a, b) => b.seconds - a.seconds))
    process.stdout.write(`#   ${r.seconds.toFixed(0).padStart(5)}  ${r.code === 0 ? 'ok    ' : 'FAILED'}  ${r.file}\n`);
  return results.every((r) => r.code === 0);
}

const lanes = [];
if (sim.length > 0 && integration.length === 0) {
  // the simulator alone (npm run test:sim): in the foreground, its output as it comes
  if (spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...sim], { stdio: 'inherit' }).status !== 0) failed = true;
} else if (sim.length > 0) {
  process.stdout.write(`# starting the simulator (${sim.length} files) at nice 19\n`);
  lanes.push(runFile('the simulator', { files: sim, priority: 19 }).then((r) => r.code === 0));
}
if (integration.length > 0) lanes.push(runIntegration(integration));
if ((await Promise.all(lanes)).includes(false)) failed = true;
process.exit(failed ? 1 : 0);
