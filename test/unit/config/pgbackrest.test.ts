/**
 * pgBackRest-style configuration: the seed's /etc/pgbackrest.conf, PGBACKREST_* variables and
 * command-line options with pgBackRest's precedence, and one-line errors naming a bad option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveBackupSettings, parseCommandLine } from '../../../src/config/pgbackrest.js';
import { ConfigError } from '../../../src/errors.js';

const SEED_CONF = `[global]
repo1-path=/var/lib/pgbackrest
repo1-retention-full=2
repo1-retention-diff=7
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=ChangeMeStrongPassphrase
log-level-console=info
process-max=2
compress-type=zst
compress-level=3
start-fast=y

[prod-db]
pg1-path=/var/lib/postgresql/15/main
pg1-port=5432
pg1-user=postgres

[global:archive-push]
compress-level=1
`;

const files = (text: string) => (path: string) => (path === '/etc/pgbackrest.conf' ? text : null);

test("the seed's pgbackrest.conf: global and stanza sections, typed values, defaults", () => {
  const settings = resolveBackupSettings(['--stanza=prod-db', 'backup', '--type=full'], {}, files(SEED_CONF));
  assert.equal(settings.command, 'backup');
  assert.equal(settings.options['repo1-path'], '/var/lib/pgbackrest');
  assert.equal(settings.options['repo1-retention-full'], 2);
  assert.equal(settings.options['repo1-cipher-type'], 'aes-256-cbc');
  assert.equal(settings.options['pg1-path'], '/var/lib/postgresql/15/main');
  assert.equal(settings.options['pg1-port'], 5432);
  assert.equal(settings.options['start-fast'], true);
  assert.equal(settings.options['compress-level'], 3);
  assert.equal(settings.options.type, 'full');
  assert.equal(settings.options['pg1-socket-path'], '/var/run/postgresql');
  assert.equal(settings.sources['pg1-path'], '/etc/pgbackrest.conf [prod-db]');
});

test('precedence: command line, then PGBACKREST_* environment, then [stanza:command], [stanza], [global:command], [global]', () => {
  const env = { PGBACKREST_PROCESS_MAX: '4', PGBACKREST_REPO1_PATH: '/env/repo' };
  const push = resolveBackupSettings(
    ['archive-push', '/pg/pg_wal/000000010000000000000001', '--stanza=prod-db', '--repo1-path=/cli/repo'],
    env,
    files(SEED_CONF),
  );
  assert.equal(push.options['repo1-path'], '/cli/repo');
  assert.equal(push.options['process-max'], 4);
  assert.equal(push.options['compress-level'], 1);
  assert.deepEqual(push.parameters, ['/pg/pg_wal/000000010000000000000001']);
  assert.equal(push.sources['process-max'], 'environment variable PGBACKREST_PROCESS_MAX');
});

test('booleans: --flag, --no-flag, y/n in the file; --name value form', () => {
  const line = parseCommandLine(['backup', '--no-start-fast', '--delta', '--type', 'incr']);
  assert.equal(line.options.get('start-fast'), false);
  assert.equal(line.options.get('delta'), true);
  assert.equal(line.options.get('type'), 'incr');
  assert.equal(resolveBackupSettings(['backup', '--stanza=prod-db', '--no-start-fast'], {}, files(SEED_CONF)).options['start-fast'], false);
});

test('unknown or invalid options are one-line ConfigErrors naming the option and where it was written', () => {
  const error = (args: string[], env: Record<string, string> = {}, text = SEED_CONF) => {
    try {
      resolveBackupSettings(args, env, files(text));
    } catch (caught) {
      assert.ok(caught instanceof ConfigError);
      assert.ok(!caught.message.includes('\n'));
      return caught.message;
    }
    return assert.fail('no error');
  };
  assert.equal(error(['backup', '--repo1-bogus=1']), "unknown option '--repo1-bogus'");
  assert.equal(error(['backup', '--process-max=zero']), "option --process-max: invalid value 'zero' for option 'process-max' (an integer)");
  assert.equal(error(['backup', '--compress-type=lz5']), "option --compress-type: invalid value 'lz5' for option 'compress-type' (one of none, gz, zst)");
  assert.equal(error(['backup'], { PGBACKREST_REPO_PATH: '/x' }), "environment variable PGBACKREST_REPO_PATH: unknown option 'repo-path'");
  assert.equal(error(['backup'], {}, '[global]\nrepo1-pth=/x\n'), "/etc/pgbackrest.conf [global]: unknown option 'repo1-pth'");
  assert.equal(error(['backup'], {}, '[global]\npg1-port=99999\n'), "/etc/pgbackrest.conf [global]: invalid value '99999' for option 'pg1-port' (1 to 65535)");
  assert.equal(error(['backup'], {}, '[global]\nstanza=x\n'), "/etc/pgbackrest.conf [global]: option 'stanza' is allowed only on the command line");
  assert.equal(error(['backup', '--config=/nowhere.conf']), 'config file /nowhere.conf cannot be read');
  assert.equal(error([]), 'no command given (stanza-create, stanza-upgrade, check, backup, info, restore, expire, verify, archive-push, archive-get)');
  assert.equal(error(['backup', '--type']), "option '--type' requires a value");
});

test('key/value options (--tablespace-map) repeat on the command line and are checked; pg2-* and archive retention options resolve', () => {
  const settings = resolveBackupSettings(
    [
      'restore',
      '--stanza=prod-db',
      '--tablespace-map=ts1=/srv/ts1',
      '--tablespace-map',
      'ts2=/srv/ts2',
      '--pg2-path=/srv/replica',
      '--repo1-retention-archive-type=diff',
    ],
    {},
    files(SEED_CONF),
  );
  assert.deepEqual(settings.options['tablespace-map'], ['ts1=/srv/ts1', 'ts2=/srv/ts2']);
  assert.equal(settings.options['pg2-path'], '/srv/replica');
  assert.equal(settings.options['pg2-port'], 5432);
  assert.equal(settings.options['repo1-retention-archive-type'], 'diff');
  assert.throws(
    () => resolveBackupSettings(['restore', '--stanza=prod-db', '--tablespace-map=ts1'], {}, files(SEED_CONF)),
    /option --tablespace-map: invalid value 'ts1' for option 'tablespace-map' \(key=value\)/,
  );
  assert.throws(
    () => resolveBackupSettings(['expire', '--stanza=prod-db', '--repo1-retention-archive-type=weekly'], {}, files(SEED_CONF)),
    /one of full, diff, incr/,
  );
});

test('no config file at the default path is fine (pgBackRest runs on options alone)', () => {
  const settings = resolveBackupSettings(['info', '--stanza=x', '--repo1-path=/r'], {}, () => null);
  assert.equal(settings.options['repo1-path'], '/r');
  assert.equal(settings.options['log-level-console'], 'warn');
});
