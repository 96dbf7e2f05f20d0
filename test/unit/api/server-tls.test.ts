/**
 * The REST API over HTTPS on 127.0.0.1 (port 0) with certificates made by openssl, and keel's
 * own clients of it (RestClient under the peer client and MemberApi). Covers Patroni's
 * verify_client meanings — none; optional: safe requests open, unsafe ones 403 "client
 * certificate required" without a valid certificate, an invalid certificate refused at the
 * handshake; required: no handshake without one — and the client side: CA verification,
 * insecure, client certificates, an encrypted key, a wrong CA reported as TLS verification,
 * plain http to an https port, and bad TLS files at start as one-line errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer, type ApiServer, type ApiServerTls } from '../../../src/api/server.js';
import type { ApiProvider } from '../../../src/api/routes.js';
import { RestClient, RestRequestError } from '../../../src/api/rest-client.js';
import { createHttpPeerClient } from '../../../src/api/peer-client.js';
import { MemberApi } from '../../../src/cli/member-api.js';
import { KeelError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/log.js';
import { baseStatus } from './fixtures.js';
import { makeTestCertificates, removeTestCertificates, type TestCertificates } from '../../support/tls-certs.js';

const AUTH = { username: 'keel', password: 's3cret' };
let certs: TestCertificates;
const servers: ApiServer[] = [];
const clients: Array<{ close(): void }> = [];

const provider: ApiProvider = {
  getStatus: () => baseStatus('primary'),
  getClusterJson: async () => ({ members: [] }),
  getHistory: async () => [],
  getConfig: async () => ({}),
  postReload: async () => ({ code: 202, text: 'reload scheduled' }),
  postFailsafe: async (body) => {
    failsafeBodies.push(body);
    return { code: 200, text: 'Accepted' };
  },
};
const failsafeBodies: unknown[] = [];

before(() => {
  certs = makeTestCertificates();
});

after(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((s) => s.close()));
  removeTestCertificates(certs);
});

async function serve(tls: Partial<ApiServerTls>): Promise<string> {
  const server = await startApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.caCert, verifyClient: 'none', ...tls },
    auth: AUTH,
    provider,
    log: createLogger({ level: 'error', format: 'text', write: () => undefined }),
  });
  servers.push(server);
  assert.equal(server.scheme, 'https');
  return `https://127.0.0.1:${server.port}`;
}

function client(settings: ConstructorParameters<typeof RestClient>[0]): RestClient {
  const made = new RestClient(settings);
  clients.push(made);
  return made;
}

const withCa = () => client({ cafile: certs.caCert, insecure: false, auth: AUTH });
const withCert = () => client({ cafile: certs.caCert, certfile: certs.clientCert, keyfile: certs.clientKey, insecure: false, auth: AUTH });

test('verify_client optional: safe requests need no certificate, unsafe ones do (403), then basic auth applies', async () => {
  const base = await serve({ verifyClient: 'optional' });
  assert.equal((await withCa().request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 })).status, 200);
  const noCert = await withCa().request(new URL('/reload', base), { method: 'POST', timeoutMs: 5_000 });
  assert.deepEqual([noCert.status, noCert.text], [403, 'client certificate required']);
  const certNoAuth = await withCert().request(new URL('/reload', base), { method: 'POST', auth: null, timeoutMs: 5_000 });
  assert.equal(certNoAuth.status, 401);
  const both = await withCert().request(new URL('/reload', base), { method: 'POST', timeoutMs: 5_000 });
  assert.deepEqual([both.status, both.text], [202, 'reload scheduled']);
});

test('verify_client optional: a certificate from another CA is refused at the handshake (Python CERT_OPTIONAL)', async () => {
  const base = await serve({ verifyClient: 'optional', cafile: certs.otherCaCert });
  // the server trusts only other-ca; the client's certificate is signed by ca
  const untrusted = client({ cafile: certs.caCert, certfile: certs.clientCert, keyfile: certs.clientKey, insecure: false });
  await assert.rejects(untrusted.request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 }), RestRequestError);
});

test('verify_client required: no certificate, no connection; with one, every request works', async () => {
  const base = await serve({ verifyClient: 'required' });
  await assert.rejects(withCa().request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 }), (error: unknown) => {
    assert.ok(error instanceof RestRequestError);
    assert.match(error.message, /client certificate|socket hang up|ECONNRESET/);
    return true;
  });
  assert.equal((await withCert().request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 })).status, 200);
  assert.equal((await withCert().request(new URL('/reload', base), { method: 'POST', timeoutMs: 5_000 })).status, 202);
});

test('clients: a wrong or missing CA is a TLS verification error; insecure skips it; plain http to the port gets no answer', async () => {
  const base = await serve({ verifyClient: 'none' });
  for (const settings of [{ insecure: false }, { cafile: certs.otherCaCert, insecure: false }]) {
    await assert.rejects(client(settings).request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(error instanceof RestRequestError && error.tls, String(error));
      assert.match(error.message, /^GET https:\/\/127\.0\.0\.1:\d+\/health: TLS verification of the server's certificate failed/);
      return true;
    });
  }
  assert.equal((await client({ insecure: true }).request(new URL('/health', base), { method: 'GET', timeoutMs: 5_000 })).status, 200);
  const plain = new URL('/health', base.replace('https:', 'http:'));
  await assert.rejects(withCa().request(plain, { method: 'GET', timeoutMs: 5_000 }), RestRequestError);
});

test('MemberApi: TLS failures are a one-line KeelError with a hint; --insecure and a CA both work', async () => {
  const base = await serve({ verifyClient: 'none' });
  const strict = new MemberApi(AUTH, 5_000);
  clients.push(strict);
  await assert.rejects(strict.request(`${base}/patroni`, 'GET', '/patroni'), (error: unknown) => {
    assert.ok(error instanceof KeelError);
    assert.equal(error.code, 'cli.api_tls');
    assert.match(error.hint ?? '', /ctl\.cacert/);
    return true;
  });
  const insecure = new MemberApi(AUTH, 5_000, { insecure: true });
  const verified = new MemberApi(AUTH, 5_000, { cafile: certs.caCert, insecure: false });
  clients.push(insecure, verified);
  assert.equal((await insecure.request(`${base}/patroni`, 'GET', '/patroni')).status, 200);
  const reload = await verified.request(`${base}/patroni`, 'POST', '/reload');
  assert.deepEqual([reload.status, reload.text], [202, 'reload scheduled']);
});

test("the agent's peer client over https: status JSON and POST /failsafe with the CA and a client certificate; a wrong CA is no answer", async () => {
  const base = await serve({ verifyClient: 'optional', keyfile: certs.serverKeyEncrypted, keyfilePassword: certs.serverKeyPassword });
  const peers = createHttpPeerClient({ cafile: certs.caCert, certfile: certs.clientCert, keyfile: certs.clientKey, insecure: false });
  clients.push(peers);
  const status = await peers.status(`${base}/patroni`, 5_000);
  assert.equal(status?.['role'], 'master', "Patroni 3.0.2's spelling");
  assert.equal(await peers.postFailsafe(`${base}/patroni`, { n1: 'https://n1:8008/patroni' }, AUTH, 5_000), 200);
  assert.deepEqual(failsafeBodies, [{ n1: 'https://n1:8008/patroni' }]);
  const reported: string[] = [];
  const wrong = createHttpPeerClient({ cafile: certs.otherCaCert, insecure: false }, (message) => reported.push(message));
  clients.push(wrong);
  assert.equal(await wrong.status(`${base}/patroni`, 5_000), null);
  assert.equal(reported.length, 1);
  assert.match(reported[0] ?? '', /TLS verification of the server's certificate failed/);
  assert.equal(await wrong.status('http://127.0.0.1:1/patroni', 5_000), null, 'refused: no answer');
  assert.equal(reported.length, 1, 'an unreachable member is not a TLS failure');
});

test('bad TLS files at start are one-line errors naming the restapi key', async () => {
  const start = (tls: Partial<ApiServerTls>) =>
    startApiServer({
      listen: { host: '127.0.0.1', port: 0 },
      tls: { certfile: certs.serverCert, keyfile: certs.serverKey, verifyClient: 'none', ...tls },
      provider,
    });
  await assert.rejects(start({ keyfile: certs.serverKeyEncrypted, keyfilePassword: 'wrong' }), (error: unknown) => {
    assert.ok(error instanceof KeelError && error.code === 'api.tls_file');
    assert.match(error.message, /^cannot serve the REST API over HTTPS: restapi\.keyfile: /);
    assert.ok(!error.message.includes('\n'));
    return true;
  });
  await assert.rejects(start({ cafile: `${certs.dir}/none.crt` }), /restapi\.cafile: cannot read .*none\.crt: no such file/);
});
