/**
 * Bad input to the operator verbs is refused before anything is read or changed: one line on
 * stderr, a non-zero exit, no stack trace. The configuration file points at an etcd port where
 * nothing listens, so a verb that got as far as the DCS would fail differently (and slowly).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKeel } from '../../support/sandbox.js';
let dir;
let config;
before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keel-ctl-args-'));
    config = join(dir, 'node.yml');
    await writeFile(config, [
        'scope: demo',
        'name: n1',
        'restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}',
        'etcd3: {hosts: 127.0.0.1:1}',
        `postgresql: {listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432, data_dir: ${join(dir, 'data')}, authentication: {superuser: {username: postgres, password: x}, replication: {username: r, password: y}}}`,
        '',
    ].join('\n'));
});
after(async () => {
    await rm(dir, { recursive: true, force: true });
});
async function refused(args, message) {
    const result = await runKeel(['-c', config, ...args], { timeoutMs: 20_000 });
    assert.notEqual(result.code, 0, `${args.join(' ')} must fail`);
    assert.equal(result.stdout, '', `${args.join(' ')} must print nothing on stdout`);
    const lines = result.stderr.trim().split('\n');
    assert.match(lines[0] ?? '', message);
    assert.ok(!result.stderr.includes('    at '), `no stack trace: ${result.stderr}`);
}
test('query needs exactly one of -c and -f', async () => {
    await refused(['query'], /^keel: You need to specify either --command or --file$/);
    await refused(['query', '-c', 'select 1', '-f', '/etc/hostname'], /^keel: --file and --command are mutually exclusive options$/);
    await refused(['query', '-f', join(dir, 'missing.sql')], /^keel: cannot read .*missing\.sql: ENOENT$/);
});
test('--role and --member exclude each other; --role takes patronictl roles only', async () => {
    await refused(['dsn', '-r', 'replica', '-m', 'n1'], /^keel: --role and --member are mutually exclusive options$/);
    await refused(['dsn', '-r', 'boss'], /^keel: --role must be one of leader, primary, master, standby-leader, replica, standby, any, got "boss"$/);
    await refused(['query', '-c', 'select 1', '-r', 'boss'], /^keel: --role must be one/);
});
test('formats, watch intervals and cluster names are checked', async () => {
    await refused(['history', '-f', 'xml'], /^keel: --format must be pretty, json, yaml or tsv, got "xml"$/);
    await refused(['query', '-c', 'select 1', '--format', 'csv'], /^keel: --format must be/);
    await refused(['list', '-w', 'soon'], /^keel: -w\/--watch must be a positive number of seconds, got "soon"$/);
    await refused(['list', '-w', '0'], /^keel: -w\/--watch must be a positive number/);
    await refused(['show-config', 'other'], /^keel: cluster "other" is not the one the configuration file names \("demo"\)$/);
    await refused(['remove', 'other'], /^keel: cluster "other" is not the one/);
    await refused(['pause', 'other'], /^keel: cluster "other" is not the one/);
});
test('a verb that needs etcd says so in one line when etcd does not answer', async () => {
    await refused(['show-config'], /^keel: no etcd endpoint answered/);
    await refused(['list'], /^keel: no etcd endpoint answered/);
});
test("options before the verb are keel's, after it the verb's (as patronictl); --debug is accepted anywhere", async () => {
    const queryDashC = await runKeel(['-c', config, 'query', '-c', 'SELECT 1', '-r', 'boss'], { timeoutMs: 20_000 });
    assert.match(queryDashC.stderr, /^keel: --role must be one/, 'query -c is the SQL, not the configuration file');
    const debugAfterVerb = await runKeel(['-c', config, 'dsn', '-r', 'boss', '--debug'], { timeoutMs: 20_000 });
    assert.equal(debugAfterVerb.code, 2);
    assert.match(debugAfterVerb.stderr, /^keel: --role must be one/);
    assert.match(debugAfterVerb.stderr, /\n {4}at /, '--debug prints the stack');
});
//# sourceMappingURL=ctl-arguments.test.js.map