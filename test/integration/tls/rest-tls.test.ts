/**
 * The REST API over TLS on a real keel agent (PostgreSQL + etcd sandbox, one node), configured as
 * a Patroni user would: restapi certfile, an encrypted keyfile with keyfile_password, cafile,
 * verify_client: required and restapi.authentication. Checks what clients see:
 *  - GET /health over https with the CA and a client certificate answers 200, and the member's
 *    published api_url says https;
 *  - without a client certificate the TLS handshake itself is refused (required);
 *  - plain http to the TLS port gets no HTTP answer;
 *  - POST /reload without credentials is 401, with them 202;
 *  - the real patronictl 3.0.2 with a ctl section (cacert, certfile, keyfile) reloads the member
 *    and lists the cluster;
 *  - keel's own CLI client (MemberApi) from the node's file — restapi.cafile and restapi.certfile
 *    used as client settings, as Patroni's PatroniRequest falls back to them — reaches it too, and
 *    says "TLS verification" when the CA is wrong; so does the peer client the agent builds from
 *    that file (what the other members use in a leader race), at the published api_url.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../../src/config/load.js';
import type { SandboxNodeRecord } from '../../../src/sandbox/sandbox.js';
import { MemberApi } from '../../../src/cli/member-api.js';
import { createHttpPeerClient } from '../../../src/api/peer-client.js';
import { restClientSettings } from '../../../src/config/rest-client-settings.js';
import { KeelError } from '../../../src/errors.js';
import { eventually, startTestCluster, type TestCluster } from '../../support/sandbox.js';
import { restartWithRestapi } from '../../support/tls-sandbox.js';
import { makeTestCertificates, removeTestCertificates, type TestCertificates } from '../../support/tls-certs.js';

const run = promisify(execFile);
const AUTH = { username: 'keel-admin', password: 'rest-secret' };

let cluster: TestCluster;
let certs: TestCertificates;
let node: SandboxNodeRecord;
let ctlFile: string;

interface Answer {
  status: number;
  body: string;
}

/** One https request made with node:https directly, so that the server is checked independently of keel's client. */
function httpsCall(path: string, options: RequestOptions & { body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: node.apiPort, path, agent: false, timeout: 10_000, ca: readFileSync(certs.caCert), ...options },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const clientCert = (): RequestOptions => ({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

before(
  async () => {
    certs = makeTestCertificates();
    cluster = await startTestCluster({ nodes: 1, ttlS: 10, loopWaitS: 2, retryTimeoutS: 3 });
    node = cluster.record.nodes[0] as SandboxNodeRecord;
    await restartWithRestapi(cluster, [node.name], {
      certfile: certs.serverCert,
      keyfile: certs.serverKeyEncrypted,
      keyfile_password: certs.serverKeyPassword,
      cafile: certs.caCert,
      verify_client: 'required',
      authentication: AUTH,
    });
    // GET /primary, not /health: /health answers 200 as soon as PostgreSQL runs, in recovery too,
    // and the promotion that follows reports 'starting' for a moment.
    await eventually('the TLS agent leading again (GET /primary 200 over https)', 120_000, async () => {
      try {
        return (await httpsCall('/primary', clientCert())).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    });
    // patronictl's file: the DCS, the credentials (3.0.2 reads restapi.authentication) and ctl's TLS files
    ctlFile = join(cluster.dir, 'ctl.yml');
    const ctl = {
      scope: cluster.record.scope,
      namespace: cluster.record.namespace,
      etcd3: { hosts: cluster.record.etcd.endpoints.join(',') },
      restapi: { authentication: AUTH },
      ctl: { cacert: certs.caCert, certfile: certs.clientCert, keyfile: certs.clientKey },
    };
    await writeFile(ctlFile, stringify(ctl, { version: '1.1' }));
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
    removeTestCertificates(certs);
  },
  { timeout: 120_000 },
);

test('GET /health over https answers 200 and the published api_url says https', async () => {
  // Right after the promotion the status may still say 'stopped' for a cycle (the probe is
  // invalidated while the promote task runs; a CI run caught it): ask until it is running.
  let health: Answer = { status: 0, body: '' };
  await eventually('GET /health 200 over https', 60_000, async () => {
    health = await httpsCall('/health', clientCert());
    return health.status === 200 ? true : undefined;
  }).catch(() => undefined);
  assert.equal(health.status, 200, health.body);
  // The member key is rewritten by the restarted agent's cycle; a CI run once read it before that
  // write landed, so the published address is awaited (generously) rather than read once.
  const expected = `https://127.0.0.1:${node.apiPort}/patroni`;
  let seen = '';
  await eventually(`the member's api_url to say ${expected}`, 60_000, async () => {
    const answer = await httpsCall('/cluster', clientCert());
    seen = answer.body;
    const members = (JSON.parse(answer.body) as { members: Array<{ name: string; api_url: string }> }).members;
    return members.find((m) => m.name === node.name)?.api_url === expected ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; last /cluster answer: ${seen}`);
  });
});

test('verify_client required: a connection without a client certificate is refused at the handshake', async () => {
  await assert.rejects(httpsCall('/health'), (error: NodeJS.ErrnoException) => {
    assert.match(error.code ?? error.message, /ALERT_CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
    return true;
  });
});

test('plain http to the TLS port gets no HTTP answer', async () => {
  const answered = await new Promise<boolean>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: node.apiPort, path: '/health', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
  assert.equal(answered, false);
});

test('POST /reload: without credentials 401, with them 202', async () => {
  const denied = await httpsCall('/reload', { ...clientCert(), method: 'POST' });
  assert.equal(denied.status, 401);
  const wrong = await httpsCall('/reload', { ...clientCert(), method: 'POST', headers: { authorization: basic(AUTH.username, 'nope') } });
  assert.equal(wrong.status, 401);
  const accepted = await httpsCall('/reload', { ...clientCert(), method: 'POST', headers: { authorization: basic(AUTH.username, AUTH.password) } });
  assert.equal(accepted.status, 202);
  assert.match(accepted.body, /reload scheduled/);
});

test('the real patronictl with ctl cacert/certfile/keyfile reloads the member and lists the cluster', async () => {
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  const reloadsBefore = ((await readFile(node.logFile, 'utf8')).match(/configuration reloaded/g) ?? []).length;
  const reload = await run('/usr/bin/patronictl', ['-c', ctlFile, 'reload', cluster.record.scope, node.name, '--force'], { timeout: 60_000, env });
  assert.match(reload.stdout, /Reload request received for member/);
  await eventually('the agent reloaded on patronictl reload', 30_000, async () =>
    ((await readFile(node.logFile, 'utf8')).match(/configuration reloaded/g) ?? []).length > reloadsBefore ? true : undefined,
  );
  const list = await run('/usr/bin/patronictl', ['-c', ctlFile, 'list', cluster.record.scope, '--format', 'json'], { timeout: 60_000, env });
  const rows = JSON.parse(list.stdout) as Array<{ Member: string; Role: string }>;
  assert.deepEqual(
    rows.map((r) => [r.Member, r.Role]),
    [[node.name, 'Leader']],
  );
});

test("keel's MemberApi from the node's own file (restapi cafile/certfile as client settings) reaches it; a wrong CA says TLS verification", async () => {
  const config = loadConfigFile(node.config, {});
  const apiUrl = `https://127.0.0.1:${node.apiPort}/patroni`;
  const api = MemberApi.fromConfig(config, 10_000);
  try {
    const answer = await api.request(apiUrl, 'GET', '/patroni');
    assert.equal(answer.status, 200);
    assert.equal((answer.json as { patroni?: { scope?: string } }).patroni?.scope, cluster.record.scope);
    assert.equal((await api.request(apiUrl, 'POST', '/reload')).status, 202, 'restapi.authentication is sent');
  } finally {
    api.close();
  }
  const peers = createHttpPeerClient(restClientSettings(config));
  try {
    const members = JSON.parse((await httpsCall('/cluster', clientCert())).body) as { members: Array<{ api_url: string }> };
    const status = await peers.status(members.members[0]?.api_url ?? '', 10_000);
    assert.equal(status?.['role'], 'master');
  } finally {
    peers.close();
  }
  const wrongCa = MemberApi.fromConfig({ ...config, ctl: { ...config.ctl, cacert: certs.otherCaCert } }, 10_000);
  try {
    await assert.rejects(wrongCa.request(apiUrl, 'GET', '/patroni'), (error: unknown) => {
      assert.ok(error instanceof KeelError);
      assert.equal(error.code, 'cli.api_tls');
      assert.match(error.message, /TLS verification of the server's certificate failed/);
      return true;
    });
  } finally {
    wrongCa.close();
  }
});
