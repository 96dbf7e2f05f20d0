/**
 * The seed's "Disaster Recovery : PITR avec pgBackRest" section, run as written with only the
 * program name changed (`pgbackrest` -> `keel pgbackrest`): its /etc/pgbackrest.conf verbatim
 * (encrypted repository in /var/lib/pgbackrest), its postgresql.conf lines appended to Debian's
 * /etc/postgresql/15/main/postgresql.conf, `sudo -u postgres ...` command lines for stanza-create,
 * check, full/diff/incr backups, info, then the PITR to a second before a DROP TABLE with --delta
 * over the stopped cluster, the restore-test copy beside it with --pg1-path, and expire.
 *
 * So that the seed's absolute paths and port 5432 are really used without touching this
 * machine, the script runs in its own mount and network namespaces (unshare): temporary
 * directories are bound over /etc/postgresql, /var/lib/postgresql, /var/lib/pgbackrest,
 * /var/log/pgbackrest, /var/run/postgresql, /etc/pgbackrest.conf and /usr/local/bin (where the
 * `keel` program lives, on sudo's secure_path), and the loopback is private. Debian's
 * pg_createcluster makes the 15/main cluster; `systemctl` (no systemd here) becomes
 * pg_ctlcluster. Every command line of the seed used here is checked to be in the seed, word for
 * word once `keel ` is taken out.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEL_MAIN } from '../../support/sandbox.js';

const SEED = '/work/shared/seed/000_0d484e58a95bcafa.txt';
let dir: string | null = null;

after(async () => {
  if (dir === null) return;
  // the script stops its servers itself; a postmaster it left (killed test) is stopped by PID here
  for (const data of ['var-lib-postgresql/15/main', 'var-lib-postgresql/restore-test']) {
    const pid = Number((await readFile(join(dir, data, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already stopped
      }
    }
  }
  if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
});

/** The seed's configuration blocks, verbatim (lines 599-628 of the seed). */
const SEED_PGBACKREST_CONF = `sudo cat > /etc/pgbackrest.conf <<EOF
[global]
repo1-path=/var/lib/pgbackrest
repo1-retention-full=2
repo1-retention-diff=4
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=encryption_key_change_me
# S3 (optionnel, recommandé en production)
# repo1-type=s3
# repo1-s3-bucket=my-postgres-backups
# repo1-s3-endpoint=s3.amazonaws.com
# repo1-s3-region=eu-west-1
# repo1-s3-key=AWS_ACCESS_KEY_ID
# repo1-s3-key-secret=AWS_SECRET_ACCESS_KEY
log-level-console=info
log-level-file=debug
[prod-db]
pg1-path=/var/lib/postgresql/15/main
pg1-port=5432
pg1-user=postgres
EOF`;

const SEED_POSTGRESQL_CONF = `sudo cat >> /etc/postgresql/15/main/postgresql.conf <<EOF
# WAL Archiving pour pgBackRest
wal_level = replica
archive_mode = on
archive_command = 'keel pgbackrest --stanza=prod-db archive-push %p'
max_wal_senders = 3
wal_keep_size = 1GB
EOF`;

/** Seed command lines used below (with `keel ` added); each is checked against the seed. */
const SEED_LINES = [
  'sudo mkdir -p /var/log/pgbackrest /var/lib/pgbackrest',
  'sudo chown -R postgres:postgres /var/log/pgbackrest /var/lib/pgbackrest',
  'sudo -u postgres keel pgbackrest --stanza=prod-db stanza-create',
  'sudo -u postgres keel pgbackrest --stanza=prod-db check',
  'sudo -u postgres keel pgbackrest --stanza=prod-db --type=full backup',
  'sudo -u postgres keel pgbackrest --stanza=prod-db --type=diff backup',
  'sudo -u postgres keel pgbackrest --stanza=prod-db --type=incr backup',
  'sudo -u postgres keel pgbackrest --stanza=prod-db info',
  'sudo -u postgres keel pgbackrest --stanza=prod-db --type=time \\',
  '--delta restore',
  'keel pgbackrest --stanza=prod-db expire',
  '--pg1-path=/var/lib/postgresql/restore-test restore',
];

function script(root: string): string {
  const bind = (source: string, target: string) => `mount --bind ${join(root, source)} ${target}`;
  const psql = (sqlText: string) => `sudo -u postgres psql -X -At -c "${sqlText}"`;
  return `set -euo pipefail
step() { echo "### $*"; }
cleanup() {
  pg_ctlcluster 15 main stop -m immediate >/dev/null 2>&1 || true
  sudo -u postgres /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/restore-test stop -m immediate >/dev/null 2>&1 || true
}
trap cleanup EXIT
# --- the test's namespace: the seed's paths, on temporary directories -------------------------
ip link set lo up
${bind('etc-postgresql', '/etc/postgresql')}
${bind('var-lib-postgresql', '/var/lib/postgresql')}
${bind('var-log-postgresql', '/var/log/postgresql')}
${bind('run-postgresql', '/var/run/postgresql')}
${bind('var-lib-pgbackrest', '/var/lib/pgbackrest')}
${bind('var-log-pgbackrest', '/var/log/pgbackrest')}
${bind('etc-pgbackrest.conf', '/etc/pgbackrest.conf')}
${bind('bin', '/usr/local/bin')}
pg_createcluster 15 main -- --data-checksums >/dev/null
# --- the seed ---------------------------------------------------------------------------------
${SEED_LINES[0]}
${SEED_LINES[1]}
${SEED_PGBACKREST_CONF}
${SEED_POSTGRESQL_CONF}
pg_ctlcluster 15 main start   # the seed: sudo systemctl restart postgresql
step stanza-create
${SEED_LINES[2]}
step check
${SEED_LINES[3]}
${psql('CREATE TABLE orders (id int PRIMARY KEY, placed timestamptz DEFAULT now())')}
${psql('INSERT INTO orders (id) SELECT generate_series(1, 4000)')}
step full
${SEED_LINES[4]}
${psql('INSERT INTO orders (id) SELECT generate_series(4001, 7000)')}
step diff
${SEED_LINES[5]}
${psql('INSERT INTO orders (id) SELECT generate_series(7001, 10000)')}
step incr
${SEED_LINES[6]}
step info
${SEED_LINES[7]}
# the catastrophe, a second after the target time
sleep 1.2
TARGET="$(date -u '+%Y-%m-%d %H:%M:%S')"
sleep 1.2
${psql('DROP TABLE orders')}
step check-after-drop
${SEED_LINES[3]}
step pitr
pg_ctlcluster 15 main stop   # the seed: sudo systemctl stop postgresql
${SEED_LINES[8]}
--target="$TARGET" \\
${SEED_LINES[9]}
pg_ctlcluster 15 main start   # the seed: sudo systemctl start postgresql
for i in $(seq 1 240); do
  [ "$(${psql('SELECT pg_is_in_recovery() AND pg_is_wal_replay_paused()')} 2>/dev/null)" = t ] && break
  sleep 0.5
done
# paused at the target (pgBackRest's default --target-action=pause), still holding the lock the DROP
# TABLE took: the seed's log shows the next step, ending recovery ("selected new timeline ID: 2")
${psql('SELECT pg_wal_replay_resume()')} >/dev/null
for i in $(seq 1 240); do
  [ "$(${psql('SELECT pg_is_in_recovery()')} 2>/dev/null)" = f ] && break
  sleep 0.5
done
step count
sudo -u postgres psql -X -At -U postgres -c "SELECT COUNT(*) FROM orders;"
step timeline
${psql('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)')}
step restore-test
keel pgbackrest --stanza=prod-db --type=time --target="$TARGET" \\
${SEED_LINES[11]}
touch /var/lib/postgresql/restore-test/postgresql.conf
chown postgres:postgres /var/lib/postgresql/restore-test/postgresql.conf
sudo -u postgres /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/restore-test -l /var/lib/postgresql/restore-test.log -w -t 120 \\
  -o "-p 5433 -c archive_mode=off -c hba_file=/etc/postgresql/15/main/pg_hba.conf -c ident_file=/etc/postgresql/15/main/pg_ident.conf" start >/dev/null
for i in $(seq 1 240); do
  [ "$(sudo -u postgres psql -X -At -p 5433 -c 'SELECT pg_is_wal_replay_paused()' 2>/dev/null)" = t ] && break
  sleep 0.5
done
sudo -u postgres psql -X -At -p 5433 -c 'SELECT pg_wal_replay_resume()' >/dev/null
for i in $(seq 1 240); do
  [ "$(sudo -u postgres psql -X -At -p 5433 -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.5
done
step restore-test-count
sudo -u postgres psql -X -At -p 5433 -c "SELECT COUNT(*) FROM orders;"
step expire
${SEED_LINES[10]}
step done
`;
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The output of one `step` of the script (up to the next one). */
function section(output: string, step: string): string {
  const start = output.indexOf(`### ${step}\n`);
  assert.ok(start >= 0, `step ${step} did not run:\n${output.slice(-3000)}`);
  const rest = output.slice(start + step.length + 5);
  const end = rest.indexOf('\n### ');
  return end < 0 ? rest : rest.slice(0, end + 1);
}

test("the seed's DR section runs as written with keel in pgBackRest's place: PITR to a second before a DROP TABLE", { timeout: 600_000 }, async () => {
  const seed = await readFile(SEED, 'utf8');
  for (const line of [...SEED_LINES, ...SEED_PGBACKREST_CONF.split('\n'), ...SEED_POSTGRESQL_CONF.split('\n')]) {
    assert.ok(seed.includes(line.replace('keel pgbackrest', 'pgbackrest')), `not in the seed: ${line}`);
  }

  dir = await mkdtemp(join(tmpdir(), 'keel-seed-dr-'));
  await chmod(dir, 0o755);
  for (const sub of ['etc-postgresql', 'var-lib-postgresql', 'var-log-postgresql', 'run-postgresql', 'var-lib-pgbackrest', 'var-log-pgbackrest', 'bin'])
    await mkdir(join(dir, sub), { mode: 0o755 });
  await writeFile(join(dir, 'etc-pgbackrest.conf'), '');
  // `keel` on sudo's secure_path, as an installed keel would be
  await writeFile(join(dir, 'bin', 'keel'), `#!/bin/sh\nexec '${process.execPath}' '${KEEL_MAIN}' "$@"\n`, { mode: 0o755 });
  await run('chown', ['postgres:postgres', join(dir, 'var-lib-postgresql'), join(dir, 'run-postgresql'), join(dir, 'etc-postgresql')], 10_000);
  await run('chown', ['root:postgres', join(dir, 'var-log-postgresql')], 10_000);
  await chmod(join(dir, 'var-log-postgresql'), 0o1775);
  await writeFile(join(dir, 'seed-dr.sh'), script(dir));

  const result = await run('unshare', ['--mount', '--net', '--fork', '--kill-child', 'bash', join(dir, 'seed-dr.sh')], 540_000);
  assert.equal(result.code, 0, result.output.slice(-4000));
  const output = result.output;

  assert.match(section(output, 'check'), /P00 +INFO: check command begin [^\n]*--stanza=prod-db/);
  assert.match(section(output, 'check'), /P00 +INFO: WAL segment 0{7}1[0-9A-F]{16} successfully archived/);
  assert.match(section(output, 'check'), /P00 +INFO: check command end: completed successfully/);
  const full = section(output, 'full');
  assert.match(
    full,
    /P00 +INFO: backup command begin [^:]*: --log-level-console=info --log-level-file=debug --pg1-path=\/var\/lib\/postgresql\/15\/main --pg1-port=5432 --pg1-user=postgres --repo1-cipher-pass=<redacted> --repo1-cipher-type=aes-256-cbc/,
  );
  assert.doesNotMatch(output, /encryption_key_change_me/, 'the passphrase is never printed');
  assert.match(full, /P00 +INFO: new backup label = \d{8}-\d{6}F\n/);
  assert.match(section(output, 'diff'), /new backup label = \d{8}-\d{6}F_\d{8}-\d{6}D\n/);
  assert.match(section(output, 'incr'), /new backup label = \d{8}-\d{6}F_\d{8}-\d{6}I\n/);
  const info = section(output, 'info');
  assert.match(info, /^stanza: prod-db\n +status: ok\n +cipher: aes-256-cbc\n/m);
  assert.match(info, /full backup: \d{8}-\d{6}F\n/);
  assert.match(info, /diff backup: \d{8}-\d{6}F_\d{8}-\d{6}D\n/);
  assert.match(info, /incr backup: \d{8}-\d{6}F_\d{8}-\d{6}I\n/);
  assert.match(info, /wal archive min\/max \(15\): 0{7}1[0-9A-F]{16}\/0{7}1[0-9A-F]{16}/);
  assert.match(section(output, 'pitr'), /restore command end: completed successfully/);
  // every order placed before the target, none lost, the DROP TABLE undone
  assert.equal(section(output, 'count').trim(), '10000');
  assert.match(section(output, 'timeline'), /^00000002\n/, "the restored cluster opened timeline 2, as in the seed's log");
  assert.equal(section(output, 'restore-test-count').trim(), '10000');
  assert.match(section(output, 'expire'), /expire command end: completed successfully/);
  assert.ok(output.includes('### done'));
});
