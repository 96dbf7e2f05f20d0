/**
 * docs/configuration.md is generated from the schema: every key the schema accepts has a sentence,
 * no sentence names a key it does not accept, and the committed file is what the generator writes
 * now (after a schema change: `npm run docs:config`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KEY_DOCS, renderConfigReference, schemaKeyPaths } from '../../../src/config/reference.js';

const DOC = new URL('../../../../docs/configuration.md', import.meta.url);

test('the schema is read: its sections and leaves are there', () => {
  const paths = schemaKeyPaths();
  for (const path of [
    'name',
    'restapi.listen',
    'etcd3.hosts',
    'postgresql.authentication.replication.username',
    'tags.noloadbalance',
    'haproxy.runtime_sockets',
  ])
    assert.ok(paths.includes(path), path);
  assert.ok(!paths.includes('restapi'), 'sections are walked into, not listed as keys');
});

test('every key documented, nothing documented that does not exist', () => {
  assert.doesNotThrow(() => renderConfigReference());
  assert.ok(Object.keys(KEY_DOCS).length >= 70);
});

test('docs/configuration.md is up to date (npm run docs:config rewrites it)', () => {
  assert.equal(readFileSync(DOC, 'utf8'), renderConfigReference(), 'docs/configuration.md is stale: run npm run docs:config');
});
