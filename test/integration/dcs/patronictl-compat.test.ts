/**
 * Compatibility with the real Patroni 3.0.2 tools: a cluster written to etcd by EtcdDcs is read
 * by `patronictl list / show-config / history` exactly as Patroni's own keys would be, and a
 * config change made by `patronictl edit-config` is read back by keel (and bumps mod_revision, so
 * keel's compare-and-swap with the old revision is refused). patronictl is a test dependency: never skipped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EtcdDcs } from '../../../src/dcs/etcd-dcs.js';
import { freshScope, startFixture, type EtcdFixture } from './etcd-fixture.js';

const run = promisify(execFile);
// A test dependency that `npm test` installs (scripts/setup.sh --test): never skipped.
const PATRONICTL = '/usr/bin/patronictl';

let fixture: EtcdFixture;
let configFile: string;
let scope: string;
const agents = new Map<string, EtcdDcs>();

async function patronictl(...args: string[]): Promise<string> {
  const { stdout } = await run(PATRONICTL, ['-c', configFile, ...args], { timeout: 60_000, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  return stdout;
}

before(async () => {
  assert.ok(existsSync(PATRONICTL), `patronictl is missing at ${PATRONICTL}: run scripts/setup.sh --test (npm test does)`);
  fixture = await startFixture(1, 'ctl');
  scope = freshScope('compat');
  configFile = join(fixture.dir, 'patronictl.yml');
  const hosts = fixture.cluster.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
  await writeFile(configFile, `scope: ${scope}\nnamespace: /service/\netcd3:\n  hosts: ${hosts}\n`);

  const member = (name: string, pgPort: number, apiPort: number) => ({
    connUrl: `postgres://127.0.0.1:${pgPort}/postgres`,
    apiUrl: `http://127.0.0.1:${apiPort}/patroni`,
    state: 'running',
    version: '3.0.2',
    timeline: 2,
    tags: {},
  });
  for (const name of ['n1', 'n2', 'n3']) agents.set(name, fixture.dcs(name, { scope, ttlS: 30 }));
  const n1 = agents.get('n1') as EtcdDcs;
  assert.equal(await n1.initialize('7234567890123456789', true), true);
  assert.equal(
    await n1.setConfig(
      {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, parameters: { max_connections: 100 } },
      },
      null,
    ),
    true,
  );
  assert.equal(await n1.attemptToAcquireLeader(), true);
  await n1.touchMember({ ...member('n1', 5433, 8009), role: 'master', xlogLocation: 100 * 1024 * 1024 });
  await (agents.get('n2') as EtcdDcs).touchMember({ ...member('n2', 5434, 8010), role: 'replica', xlogLocation: 100 * 1024 * 1024 });
  await (agents.get('n3') as EtcdDcs).touchMember({ ...member('n3', 5435, 8011), role: 'replica', xlogLocation: 97 * 1024 * 1024, tags: { nofailover: true } });
  assert.equal(await n1.setSync({ leader: 'n1', syncStandbys: ['n2'], quorum: 0 }, null), true);
  await n1.writeStatus({ optime: 100 * 1024 * 1024, slots: {} });
  await n1.setHistory([{ timeline: 1, lsn: 50331808, reason: 'no recovery target specified', timestamp: '2024-01-02T03:04:05.123456+00:00', newLeader: 'n1' }]);
});

after(async () => {
  await fixture?.teardown();
});

test('patronictl list sees the members keel wrote, with Patroni roles, hosts, timeline and lag', async () => {
  const rows = JSON.parse(await patronictl('list', '--format', 'json')) as Array<Record<string, unknown>>;
  assert.deepEqual(
    rows.map((row) => [row['Member'], row['Host'], row['Role'], row['State'], row['TL'], row['Lag in MB']]),
    [
      ['n1', '127.0.0.1:5433', 'Leader', 'running', 2, undefined],
      ['n2', '127.0.0.1:5434', 'Sync Standby', 'running', 2, 0],
      ['n3', '127.0.0.1:5435', 'Replica', 'running', 2, 3],
    ],
  );
  assert.ok(rows.every((row) => row['Cluster'] === scope));
  assert.deepEqual(rows[2]?.['Tags'], { nofailover: true });
});

test('patronictl show-config and history read the config and history keys keel wrote', async () => {
  const config = await patronictl('show-config');
  assert.match(config, /^loop_wait: 10$/m);
  assert.match(config, /^maximum_lag_on_failover: 1048576$/m);
  assert.match(config, /use_pg_rewind: true/);
  const history = JSON.parse(await patronictl('history', '--format', 'json')) as Array<Record<string, unknown>>;
  assert.deepEqual(history, [
    { TL: 1, LSN: 50331808, Reason: 'no recovery target specified', Timestamp: '2024-01-02T03:04:05.123456+00:00', 'New Leader': 'n1' },
  ]);
});

test('keel reads a config written by patronictl edit-config, and its stale CAS is refused', async () => {
  const n1 = agents.get('n1') as EtcdDcs;
  const before = (await n1.loadCluster()).config;
  assert.ok(before !== null);
  await patronictl('edit-config', '--force', '--quiet', '-s', 'ttl=20', '-s', 'loop_wait=5');
  const afterEdit = (await n1.loadCluster()).config;
  assert.ok(afterEdit !== null);
  assert.equal(afterEdit.value['ttl'], 20);
  assert.equal(afterEdit.value['loop_wait'], 5);
  assert.deepEqual(afterEdit.value['postgresql'], { use_pg_rewind: true, parameters: { max_connections: 100 } });
  assert.ok(afterEdit.modRevision > before.modRevision);
  assert.equal(await n1.setConfig({ ttl: 99 }, before.modRevision), false);
  assert.equal(await n1.setConfig({ ...afterEdit.value, ttl: 25 }, afterEdit.modRevision), true);
  assert.match(await patronictl('show-config'), /^ttl: 25$/m);
});
