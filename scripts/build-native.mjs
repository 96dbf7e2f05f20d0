// Builds keel's native helpers into dist/native/:
//  - keel-fence (native/keel-fence.c and the isolation probe it runs, native/isolation-probe.c).
//    A separate C program, not an addon: it must outlive and outrun a frozen agent and cost next
//    to nothing on every database host (see the comment at the top of the C file);
//  - keel-wal-get (native/keel-wal-get.c), restore_command's fast path: a C program starts in a
//    millisecond where Node.js takes 75 (see its comment).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const programs = {
  'keel-fence': ['keel-fence.c', 'isolation-probe.c'],
  'keel-wal-get': ['keel-wal-get.c'],
};
for (const [name, sources] of Object.entries(programs)) {
  const out = join(root, 'dist', 'native', name);
  mkdirSync(dirname(out), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, ...sources.map((source) => join(root, 'native', source))], { stdio: 'inherit' });
  } catch (error) {
    const cause = error && error.code === 'ENOENT' ? 'no C compiler (cc) on this machine' : 'cc failed';
    process.stderr.write(`build: cannot build ${name}: ${cause}; install gcc and libc6-dev (scripts/setup.sh does)\n`);
    process.exit(1);
  }
}
