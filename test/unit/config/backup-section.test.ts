/**
 * The node YAML's backup: section: validated with pgBackRest's option table (one-line errors
 * naming the key), merged with a carried-over pgbackrest.conf (this node's options win), rendered
 * as the pgBackRest file archive_command names; and the archiving settings the agent writes into
 * postgresql.conf, keeping whatever the user wrote in the Patroni places for them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseIni } from 'ini';
import { parseBackupSection, renderBackupConfig, type BackupNodeFacts } from '../../../src/config/backup-section.js';
import { archivingParameters, walGetServerName } from '../../../src/config/archiving.js';
import { parseDynamicConfig } from '../../../src/config/dynamic.js';
import { effectiveParameters } from '../../../src/config/parameters.js';
import { resolveBackupSettings } from '../../../src/config/pgbackrest.js';
import type { LocalConfig } from '../../../src/config/types.js';
import { assertConfigError, load, minimal, setPath } from './helpers.js';

const FACTS: BackupNodeFacts = { name: 'n1', dataDir: '/var/lib/postgresql/16/main', port: 5433, socketDir: '/run/pg', superuser: 'postgres' };
const PROGRAM = { node: '/usr/bin/node', script: '/opt/keel/main.js' };
const none = () => null;

const SEED_CONF = `[global]
repo1-path=/var/lib/pgbackrest
repo1-retention-full=2
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=encryption_key_change_me
log-level-console=info
[prod-db]
pg1-path=/var/lib/postgresql/15/main
pg1-port=5432
pg1-user=postgres
[prod-db:archive-push]
compress-level=1
`;

test('inline options are checked with the pgBackRest option table; the node file points at this PostgreSQL', () => {
  const backup = parseBackupSection({ stanza: 'prod-db', 'repo1-path': '/backups', 'archive-async': true, 'process-max': 4 }, FACTS, none);
  assert.ok(backup !== undefined);
  assert.equal(backup.configFile, '/var/lib/postgresql/16/pgbackrest.n1.conf');
  assert.equal(backup.sourceFile, null);
  assert.deepEqual(backup.sections['prod-db'], {
    'pg1-path': '/var/lib/postgresql/16/main',
    'pg1-port': '5433',
    'pg1-socket-path': '/run/pg',
    'pg1-user': 'postgres',
    'repo1-path': '/backups',
    'archive-async': 'y',
    'process-max': '4',
  });
  // the rendered file reads back, through the same resolver the commands use, as these values
  const settings = resolveBackupSettings(['--stanza=prod-db', '--config=/x.conf', 'archive-push'], {}, () => renderBackupConfig(backup));
  assert.equal(settings.options['repo1-path'], '/backups');
  assert.equal(settings.options['archive-async'], true);
  assert.equal(settings.options['process-max'], 4);
  assert.equal(settings.options['pg1-port'], 5433);
});

test('unknown, per-command or invalid options and a missing stanza are one-line errors naming the key', () => {
  assertConfigError(() => parseBackupSection({ stanza: 'x', 'repo1-pth': '/r' }, FACTS, none), 'backup.repo1-pth', 'unknown pgBackRest option');
  assertConfigError(() => parseBackupSection({ stanza: 'x', 'process-max': 0 }, FACTS, none), 'backup.process-max', "invalid value '0'");
  assertConfigError(() => parseBackupSection({ stanza: 'x', 'archive-async': 'maybe' }, FACTS, none), 'backup.archive-async', 'y or n');
  assertConfigError(() => parseBackupSection({ stanza: 'x', type: 'full' }, FACTS, none), 'backup.type', 'per command');
  assertConfigError(() => parseBackupSection({ 'repo1-path': '/r' }, FACTS, none), 'backup.stanza', 'is required');
  assertConfigError(() => parseBackupSection({ stanza: 'a b' }, FACTS, none), 'backup.stanza', 'invalid stanza name');
  assertConfigError(() => parseBackupSection('prod-db', FACTS, none), 'backup', 'expected a mapping');
  assertConfigError(() => parseBackupSection({ stanza: 'x', config: '/nope.conf' }, FACTS, none), 'backup.config', 'does not exist');
  assertConfigError(() => parseBackupSection({ stanza: 'x', 'repo1-path': '/a\n[global]' }, FACTS, none), 'backup.repo1-path', 'single line');
  // the same through the loader: nothing half-loaded, the key path in the message
  assertConfigError(() => load(setPath(minimal(), 'backup', { stanza: 'x', 'compress-typ': 'zst' })), 'backup.compress-typ');
});

test('a carried-over pgbackrest.conf keeps its sections; this node and the inline options win over it everywhere', () => {
  const files: Record<string, string> = { '/etc/pgbackrest.conf': SEED_CONF };
  const backup = parseBackupSection({ stanza: 'prod-db', 'compress-level': 6 }, FACTS, (p) => files[p] ?? null);
  assert.ok(backup !== undefined);
  assert.equal(backup.sourceFile, '/etc/pgbackrest.conf');
  const settings = resolveBackupSettings(['--stanza=prod-db', '--config=/g.conf', 'archive-push'], {}, () => renderBackupConfig(backup));
  assert.equal(settings.options['repo1-cipher-pass'], 'encryption_key_change_me');
  assert.equal(settings.options['repo1-retention-full'], 2);
  assert.equal(settings.options['pg1-path'], FACTS.dataDir, 'the seed file describes another host: the node wins');
  assert.equal(settings.options['pg1-port'], 5433);
  assert.equal(settings.options['compress-level'], 6, 'the inline value wins over [prod-db:archive-push]');
  // the file's own errors name the file and section
  assertConfigError(
    () => parseBackupSection({ stanza: 'prod-db' }, FACTS, () => '[global]\nrepo1-pth=/x\n'),
    '',
    "/etc/pgbackrest.conf [global]: unknown option 'repo1-pth'",
  );
  const explicit = parseBackupSection({ stanza: 'prod-db', config: '/srv/b.conf' }, FACTS, (p) => (p === '/srv/b.conf' ? '[global]\nrepo1-path=/b\n' : null));
  assert.equal(explicit?.sourceFile, '/srv/b.conf');
  assert.deepEqual({ ...parseIni(renderBackupConfig(explicit!))['global'] }, { 'repo1-path': '/b' });
});

/** Directories localWith made, removed once the file's tests are done. */
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function localWith(extra: Record<string, unknown>): LocalConfig {
  const dir = mkdtempSync(join(tmpdir(), 'keel-unit-'));
  made.push(dir);
  const conf = join(dir, 'pgbackrest.conf');
  writeFileSync(conf, '[global]\nrepo1-path=/r\n');
  let config = setPath(minimal(), 'backup', { stanza: 'prod-db', config: conf, generated_config: '/etc/keel/pgbackrest conf' });
  for (const [path, value] of Object.entries(extra)) config = setPath(config, path, value);
  return load(config);
}

test('archiving settings: on every member by default, quoted for /bin/sh, the user keeps the ones they wrote', () => {
  const local = localWith({});
  const dyn = parseDynamicConfig({});
  const params = effectiveParameters(local, dyn);
  const leader = archivingParameters(local, dyn, params, PROGRAM, false);
  assert.equal(leader['archive_mode'], 'on');
  assert.equal(leader['archive_command'], `/usr/bin/node /opt/keel/main.js pgbackrest '--config=/etc/keel/pgbackrest conf' --stanza=prod-db archive-push "%p"`);
  assert.equal(
    leader['restore_command'],
    `/usr/bin/node /opt/keel/main.js pgbackrest '--config=/etc/keel/pgbackrest conf' --stanza=prod-db archive-get %f "%p"`,
  );
  assert.deepEqual(archivingParameters(local, dyn, params, PROGRAM, true), leader, 'replicas get the same, so a promoted one archives');

  // Patroni's places: postgresql.parameters (local or bootstrap.dcs / edit-config) and recovery_conf
  const theirs = localWith({ 'postgresql.parameters.archive_command': 'pgbackrest --stanza=prod-db archive-push %p' });
  const own = archivingParameters(theirs, dyn, effectiveParameters(theirs, dyn), PROGRAM, false);
  assert.equal(own['archive_command'], undefined);
  assert.equal(own['archive_mode'], 'on');
  const dynMode = parseDynamicConfig({ postgresql: { parameters: { archive_mode: 'always' }, recovery_conf: { restore_command: 'cp /a/%f %p' } } });
  const withDyn = archivingParameters(local, dynMode, effectiveParameters(local, dynMode), PROGRAM, true);
  assert.equal(withDyn['archive_mode'], undefined);
  assert.equal(withDyn['restore_command'], 'cp /a/%f %p', "the user's restore_command, on a replica");
  assert.equal(archivingParameters(local, dynMode, effectiveParameters(local, dynMode), PROGRAM, false)['restore_command'], undefined);
});

test('restore_command behind keel-wal-get when it was built: the plain archive-get follows, and names the server', () => {
  const local = localWith({});
  const dyn = parseDynamicConfig({});
  const plain = `/usr/bin/node /opt/keel/main.js pgbackrest '--config=/etc/keel/pgbackrest conf' --stanza=prod-db archive-get %f "%p"`;
  const fast = archivingParameters(local, dyn, effectiveParameters(local, dyn), { ...PROGRAM, walGet: '/opt/keel/native/keel-wal-get' }, true);
  assert.equal(fast['restore_command'], `/opt/keel/native/keel-wal-get ${walGetServerName(plain)} %f "%p" ${plain}`);
  assert.match(walGetServerName(plain), /^[0-9a-f]{24}$/);
  assert.notEqual(walGetServerName(plain), walGetServerName(plain.replace('prod-db', 'other')), 'another stanza, another server');
  assert.equal(
    fast['archive_command'],
    archivingParameters(local, dyn, effectiveParameters(local, dyn), PROGRAM, true)['archive_command'],
    'archive_command unchanged',
  );
});

test("recovery_conf on a replica: local wins over dynamic, the streaming settings stay keel's, nothing on the leader", () => {
  const local = load(
    setPath(minimal(), 'postgresql.recovery_conf', { recovery_min_apply_delay: '5min', primary_conninfo: 'host=elsewhere', restore_command: 'cp /l/%f %p' }),
  );
  assert.equal(
    local.warnings.some((w) => w.includes('recovery_conf')),
    false,
    'recovery_conf is supported now: no warning',
  );
  const dyn = parseDynamicConfig({ postgresql: { recovery_conf: { restore_command: 'cp /d/%f %p', archive_cleanup_command: 'true' } } });
  const replica = archivingParameters(local, dyn, effectiveParameters(local, dyn), PROGRAM, true);
  assert.deepEqual(replica, { restore_command: 'cp /l/%f %p', archive_cleanup_command: 'true', recovery_min_apply_delay: '5min' });
  assert.deepEqual(archivingParameters(local, dyn, effectiveParameters(local, dyn), PROGRAM, false), {});
});
