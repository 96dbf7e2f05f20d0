/**
 * `keel haproxy-config` against a real etcd: the members registered there (as agents write them)
 * become HAProxy servers, a noloadbalance member gets no reads, and HAProxy 2.6 itself
 * (`haproxy -c`) accepts the text. Bad options exit 2 and print nothing on stdout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFixture, type EtcdFixture } from '../dcs/etcd-fixture.js';

const KEEL = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
let fixture: EtcdFixture;
let configFile: string;

before(async () => {
  fixture = await startFixture(1, 'haproxy-config');
  const members = [
    { name: 'node1', pg: 15432, api: 18008, tags: {} },
    { name: 'node2', pg: 15433, api: 18009, tags: {} },
    { name: 'node3', pg: 15434, api: 18010, tags: { noloadbalance: true } },
  ];
  for (const m of members) {
    await fixture.dcs(m.name).touchMember({
      connUrl: `postgres://127.0.0.1:${m.pg}/postgres`,
      apiUrl: `http://127.0.0.1:${m.api}/patroni`,
      state: 'running',
      role: m.name === 'node1' ? 'master' : 'replica',
      version: '3.0.2',
      tags: m.tags,
    });
  }
  configFile = join(fixture.dir, 'node1.yml');
  const etcdHosts = fixture.cluster.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
  await writeFile(
    configFile,
    [
      'scope: test',
      'namespace: /service/',
      'name: node1',
      'etcd3:',
      `  hosts: ${etcdHosts}`,
      'restapi:',
      '  listen: 127.0.0.1:18008',
      '  connect_address: 127.0.0.1:18008',
      'postgresql:',
      '  listen: 127.0.0.1:15432',
      '  connect_address: 127.0.0.1:15432',
      `  data_dir: ${join(fixture.dir, 'data')}`,
      '  authentication:',
      '    superuser: {username: postgres, password: secret}',
      '    replication: {username: replicator, password: secret}',
      '',
    ].join('\n'),
  );
});

after(async () => {
  await fixture?.teardown();
});

function keel(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [KEEL, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('renders the registered members and HAProxy accepts the result', async () => {
  const result = keel(
    'haproxy-config',
    '-c',
    configFile,
    '--write-port',
    '127.0.0.1:15000',
    '--max-lag',
    '16MB',
    '--runtime-socket',
    join(fixture.dir, 'haproxy.sock'),
  );
  assert.equal(result.status, 0, result.stderr);
  const text = result.stdout;
  const write = text.slice(text.indexOf('listen postgres_write'), text.indexOf('listen postgres_read'));
  const read = text.slice(text.indexOf('listen postgres_read'), text.indexOf('listen stats'));
  for (const [name, pg, api] of [
    ['node1', 15432, 18008],
    ['node2', 15433, 18009],
    ['node3', 15434, 18010],
  ] as const) {
    assert.ok(write.includes(`server ${name} 127.0.0.1:${pg} maxconn 100 check port ${api}`), write);
  }
  assert.match(read, /server node1 /);
  assert.match(read, /server node2 /);
  assert.doesNotMatch(read, /server node3 /);
  assert.match(read, /GET \/replica\?lag=16MB/);
  assert.match(text, /listen stats\n    mode http\n/);
  const cfg = join(fixture.dir, 'haproxy.cfg');
  await writeFile(cfg, text);
  const check = spawnSync('/usr/sbin/haproxy', ['-c', '-f', cfg], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.doesNotMatch(`${check.stdout}${check.stderr}`, /WARNING|ALERT/);
});

test('bad options: exit code 2, a one-line reason, nothing on stdout', () => {
  for (const args of [
    ['--fall', '0'],
    ['--inter', 'soon'],
    ['--max-lag', '16 megabytes'],
    ['--stats-port', '99999'],
    ['--runtime-socket', 'relative.sock'],
  ]) {
    const result = keel('haproxy-config', '-c', configFile, ...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('no configuration file: exit code 2 and the hint', () => {
  const env = { ...process.env };
  delete env['PATRONICTL_CONFIG_FILE'];
  const result = spawnSync(process.execPath, [KEEL, 'haproxy-config'], { encoding: 'utf8', timeout: 30_000, env });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /no configuration file given/);
  assert.equal(result.stdout, '');
});
