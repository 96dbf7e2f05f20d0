/**
 * Which pg_hba lines trust connections after a bootstrap (postgres/hba-trust.ts), from the
 * configuration alone: initdb's own lines unless bootstrap.initdb names a method (the seed's file
 * names none), the trusting lines of bootstrap.pg_hba appended to them, or only those of a
 * postgresql.pg_hba that replaces the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrustLine, trustingHbaLines } from '../../../src/postgres/hba-trust.js';

const SEED_HBA = ['host replication replicator 10.0.1.0/24 md5', 'host all all 10.0.1.0/24 md5', 'host all all 0.0.0.0/0 reject'];

test("the seed's file (initdb without a method) keeps initdb's trusting local and loopback lines", () => {
  assert.deepEqual(trustingHbaLines(undefined, ['--encoding=UTF8', '--data-checksums'], SEED_HBA), [
    'local all all trust (initdb)',
    'local replication all trust (initdb)',
    'host all all 127.0.0.1/32 trust (initdb)',
    'host all all ::1/128 trust (initdb)',
  ]);
});

test('initdb methods remove its trusting lines, each side on its own; --auth covers both; trust given explicitly still trusts', () => {
  assert.deepEqual(trustingHbaLines(undefined, ['--auth-local=peer', '--auth-host=scram-sha-256'], SEED_HBA), []);
  assert.deepEqual(trustingHbaLines(undefined, ['--auth=md5'], SEED_HBA), []);
  assert.deepEqual(trustingHbaLines(undefined, ['--auth-local', 'peer'], []), [
    'host all all 127.0.0.1/32 trust (initdb)',
    'host all all ::1/128 trust (initdb)',
  ]);
  assert.deepEqual(trustingHbaLines(undefined, ['--auth=scram-sha-256', '--auth-local=trust'], []), [
    'local all all trust (initdb)',
    'local replication all trust (initdb)',
  ]);
});

test('bootstrap.pg_hba trust lines are added to initdb’s; a postgresql.pg_hba replaces everything and only its own lines count', () => {
  assert.deepEqual(trustingHbaLines(undefined, ['--auth=peer'], ['host all all 10.0.0.0/8 trust', ...SEED_HBA]), ['host all all 10.0.0.0/8 trust']);
  assert.deepEqual(trustingHbaLines(['local all postgres peer', 'host all all 127.0.0.1/32 scram-sha-256'], [], SEED_HBA), []);
  assert.deepEqual(trustingHbaLines(['local all all trust', 'host all all 0.0.0.0/0 md5'], ['--auth=peer'], []), ['local all all trust']);
});

test('a trust line is one whose fields include trust, comments aside', () => {
  assert.equal(isTrustLine('host all all 127.0.0.1/32 trust'), true);
  assert.equal(isTrustLine('local   all   all   trust   # initdb'), true);
  assert.equal(isTrustLine('host all all 0.0.0.0/0 md5 # not trust'), false);
  assert.equal(isTrustLine('# local all all trust'), false);
  assert.equal(isTrustLine('host all trustee 10.0.0.0/8 md5'), false);
});
