// Builds keel's one native helper, keel-fence (native/keel-fence.c and the isolation probe it
// runs, native/isolation-probe.c), into dist/native/.
// It is a separate C program, not an addon: it must outlive and outrun a frozen agent and cost
// next to nothing on every database host (see the comment at the top of the C file).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'native', 'keel-fence');
mkdirSync(dirname(out), { recursive: true });
try {
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(root, 'native', 'keel-fence.c'), join(root, 'native', 'isolation-probe.c')], {
    stdio: 'inherit',
  });
} catch (error) {
  const cause = error && error.code === 'ENOENT' ? 'no C compiler (cc) on this machine' : 'cc failed';
  process.stderr.write(`build: cannot build keel-fence: ${cause}; install gcc and libc6-dev (scripts/setup.sh does)\n`);
  process.exit(1);
}
