/**
 * What the agent derives from its local configuration while it runs: the pgpass lines (one per
 * user, any host, port and database — issue 6), and what a reload (SIGHUP) may change.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { pgpassEntries, reloadableConfig } from '../../../src/ha/local-config.js';
import { renderPgpass } from '../../../src/postgres/procedures.js';

function config(extra = '', name = 'node1'): ReturnType<typeof parseConfig> {
  return parseConfig(
    `scope: s
name: ${name}
restapi: {listen: "127.0.0.1:8008"}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: "127.0.0.1,10.0.1.21:5432"
  connect_address: "10.0.1.21:5432"
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: "su:pw"}
    replication: {username: replicator, password: rep}
    rewind: {username: rewind_user, password: rw}
${extra}`,
    '/etc/patroni/patroni.yml',
    {},
  );
}

test('the pgpass file the agent writes lets the WAL receiver, pg_rewind and keel log in to any member', () => {
  assert.equal(renderPgpass(pgpassEntries(config())), '*:*:*:replicator:rep\n*:*:*:postgres:su\\:pw\n*:*:*:rewind_user:rw\n');
});

test('a reload applies new credentials and tags, and keeps (and reports) what needs a restart', () => {
  const current = config();
  const next = parseConfig(
    `scope: s
name: other
restapi: {listen: "127.0.0.1:8009"}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: "127.0.0.1:5433"
  connect_address: "10.0.1.21:5432"
  data_dir: /elsewhere
  authentication:
    superuser: {username: postgres, password: new}
    replication: {username: replicator, password: rep2}
tags: {nofailover: true}
`,
    '/etc/patroni/patroni.yml',
    {},
  );
  const { config: applied, warnings } = reloadableConfig(current, next);
  assert.equal(applied.postgresql.authentication.replication.password, 'rep2');
  assert.equal(applied.postgresql.authentication.superuser.password, 'new');
  assert.equal(applied.tags.nofailover, true);
  assert.equal(applied.name, 'node1');
  assert.equal(applied.postgresql.dataDir, '/var/lib/postgresql/15/main');
  assert.deepEqual(applied.postgresql.listen, current.postgresql.listen);
  assert.deepEqual(applied.restapi.listen, current.restapi.listen);
  assert.deepEqual(warnings, [
    'reload: name changed; it takes effect when the agent restarts',
    'reload: restapi.listen changed; it takes effect when the agent restarts',
    'reload: postgresql.data_dir changed; it takes effect when the agent restarts',
    'reload: postgresql.config_dir changed; it takes effect when the agent restarts', // follows data_dir
    'reload: postgresql.listen changed; it takes effect when the agent restarts',
    'reload: postgresql.pgpass changed; it takes effect when the agent restarts', // follows data_dir and name
  ]);
});

test('a reload keeps the REST API TLS settings and the ctl section until a restart (api_url keeps saying what is served)', () => {
  const tls = fileURLToPath(new URL('../../../../test/unit/config/fixtures/tls/', import.meta.url));
  const current = config();
  const next = parseConfig(
    `scope: s
name: node1
restapi:
  listen: "127.0.0.1:8008"
  certfile: ${tls}server.crt
  keyfile: ${tls}server.key
  verify_client: optional
  authentication: {username: a, password: b}
ctl: {insecure: true}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: "127.0.0.1,10.0.1.21:5432"
  connect_address: "10.0.1.21:5432"
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: "su:pw"}
    replication: {username: replicator, password: rep}
    rewind: {username: rewind_user, password: rw}
`,
    '/etc/patroni/patroni.yml',
    {},
  );
  const { config: applied, warnings } = reloadableConfig(current, next);
  assert.equal(applied.restapi.certfile, undefined, 'still plain HTTP');
  assert.equal(applied.restapi.keyfile, undefined);
  assert.equal(applied.restapi.verifyClient, 'none');
  assert.equal(applied.ctl.insecure, false);
  assert.deepEqual(applied.restapi.authentication, { username: 'a', password: 'b' }, 'credentials still apply at once');
  assert.deepEqual(warnings, [
    'reload: the REST API TLS settings (restapi certfile, keyfile, keyfile_password, cafile, ciphers, verify_client) changed; it takes effect when the agent restarts',
    'reload: the ctl section (how this node calls other members) changed; it takes effect when the agent restarts',
  ]);
});
