/**
 * TLS settings in patroni.yml: restapi certfile / keyfile / keyfile_password / cafile / ciphers /
 * verify_client, the ctl section, and etcd cacert (ca_cert) / cert / key. Every file is checked
 * when the configuration loads, so a missing or unusable one is a one-line ConfigError naming its
 * key; the client settings follow Patroni's PatroniRequest fallbacks (ctl, then restapi).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restClientSettings } from '../../../src/config/rest-client-settings.js';
import { TLS_CA, TLS_CERT, TLS_KEY, TLS_KEY_ENCRYPTED, TLS_KEY_PASSWORD, assertConfigError, load, minimal, setPath } from './helpers.js';

const MISSING = `${TLS_CA}.missing`;

function withRestapi(values: Record<string, unknown>): Record<string, unknown> {
  const config = minimal();
  for (const [key, value] of Object.entries(values)) setPath(config, `restapi.${key}`, value);
  return config;
}

test('restapi TLS settings load; verify_client defaults to none and is case-insensitive; restapi.certfile no longer warns', () => {
  const config = load(withRestapi({ certfile: TLS_CERT, keyfile: TLS_KEY, cafile: TLS_CA, verify_client: 'Required', ciphers: 'ECDHE+AESGCM' }));
  assert.equal(config.restapi.certfile, TLS_CERT);
  assert.equal(config.restapi.keyfile, TLS_KEY);
  assert.equal(config.restapi.cafile, TLS_CA);
  assert.equal(config.restapi.ciphers, 'ECDHE+AESGCM');
  assert.equal(config.restapi.verifyClient, 'required');
  assert.ok(!config.warnings.some((w) => w.includes('certfile')), config.warnings.join('\n'));
  assert.equal(load(withRestapi({ certfile: TLS_CERT, keyfile: TLS_KEY })).restapi.verifyClient, 'none');
  assert.equal(load(minimal()).restapi.certfile, undefined, 'plain HTTP without certfile');
});

test('an encrypted key needs its keyfile_password; a wrong one names restapi.keyfile', () => {
  const ok = load(withRestapi({ certfile: TLS_CERT, keyfile: TLS_KEY_ENCRYPTED, keyfile_password: TLS_KEY_PASSWORD }));
  assert.equal(ok.restapi.keyfilePassword, TLS_KEY_PASSWORD);
  assertConfigError(
    () => load(withRestapi({ certfile: TLS_CERT, keyfile: TLS_KEY_ENCRYPTED, keyfile_password: 'wrong' })),
    'restapi.keyfile',
    'cannot be used',
  );
});

test('unusable restapi TLS settings are one-line errors naming the key', () => {
  const cases: Array<[Record<string, unknown>, string, string | RegExp]> = [
    [{ certfile: MISSING }, 'restapi.certfile', `cannot read ${MISSING}: no such file`],
    [{ certfile: TLS_CERT, keyfile: MISSING }, 'restapi.keyfile', 'no such file'],
    [{ certfile: TLS_CERT }, 'restapi.certfile', 'no key file given, so it must also hold the private key'],
    [{ certfile: TLS_CERT, keyfile: TLS_KEY, cafile: TLS_KEY }, 'restapi.cafile', 'holds no PEM certificate'],
    [{ certfile: TLS_CERT, keyfile: TLS_CA }, 'restapi.keyfile', 'cannot be used'],
    [{ keyfile: TLS_KEY }, 'restapi.keyfile', 'is set without restapi.certfile'],
    [{ keyfile_password: 'x' }, 'restapi.keyfile_password', 'is set without restapi.certfile'],
    [{ certfile: TLS_CERT, keyfile: TLS_KEY, verify_client: 'maybe' }, 'restapi.verify_client', 'expected none, optional or required, got "maybe"'],
    [{ certfile: TLS_CERT, keyfile: TLS_KEY, ciphers: 'NO-SUCH-CIPHER' }, 'restapi.ciphers', 'OpenSSL takes none of'],
    [{ certfile: '/' }, 'restapi.certfile', 'is a directory'],
  ];
  for (const [values, path, fragment] of cases) {
    const error = assertConfigError(() => load(withRestapi(values)), path, fragment);
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
  }
});

test('verify_client without certfile only warns: the REST API serves plain HTTP', () => {
  const config = load(withRestapi({ verify_client: 'required' }));
  assert.equal(config.restapi.verifyClient, 'none');
  assert.ok(config.warnings.some((w) => w.startsWith('restapi.verify_client: ignored')));
});

test('PATRONI_RESTAPI_* and PATRONI_CTL_* variables set the TLS settings, and errors name the variable', () => {
  const config = load(minimal(), {
    PATRONI_RESTAPI_CERTFILE: TLS_CERT,
    PATRONI_RESTAPI_KEYFILE: TLS_KEY,
    PATRONI_RESTAPI_VERIFY_CLIENT: 'optional',
    PATRONI_CTL_CACERT: TLS_CA,
    PATRONI_CTL_INSECURE: 'true',
    PATRONI_CTL_USERNAME: 'ctl-user',
    PATRONI_CTL_PASSWORD: 'ctl-pass',
  });
  assert.equal(config.restapi.verifyClient, 'optional');
  assert.deepEqual(config.ctl, { authentication: { username: 'ctl-user', password: 'ctl-pass' }, insecure: true, cacert: TLS_CA });
  assertConfigError(() => load(minimal(), { PATRONI_RESTAPI_CERTFILE: MISSING }), 'restapi.certfile', '(set by PATRONI_RESTAPI_CERTFILE)');
});

test('the ctl section loads, and its files are checked as the client would use them', () => {
  const config = minimal();
  setPath(config, 'ctl', { insecure: true, cacert: TLS_CA, certfile: TLS_CERT, keyfile: TLS_KEY, authentication: { username: 'u', password: 'p' } });
  assert.deepEqual(load(config).ctl, {
    authentication: { username: 'u', password: 'p' },
    insecure: true,
    cacert: TLS_CA,
    certfile: TLS_CERT,
    keyfile: TLS_KEY,
  });
  assert.deepEqual(load(minimal()).ctl, { insecure: false });
  assertConfigError(() => load(setPath(minimal(), 'ctl', { cacert: MISSING })), 'ctl.cacert', 'no such file');
  assertConfigError(() => load(setPath(minimal(), 'ctl', { keyfile: TLS_KEY })), 'ctl.keyfile', 'is set without ctl.certfile');
  assertConfigError(() => load(setPath(minimal(), 'ctl', { certfile: TLS_CERT })), 'ctl.certfile', 'must also hold the private key');
  // ctl.certfile with restapi.keyfile: Patroni's per-file fallback pairs them
  const mixed = withRestapi({ certfile: TLS_CERT, keyfile: TLS_KEY });
  setPath(mixed, 'ctl', { certfile: TLS_CERT });
  assert.equal(load(mixed).ctl.certfile, TLS_CERT);
});

test("client settings follow Patroni's PatroniRequest: ctl first, else restapi; insecure overridable", () => {
  const both = withRestapi({
    certfile: TLS_CERT,
    keyfile: TLS_KEY_ENCRYPTED,
    keyfile_password: TLS_KEY_PASSWORD,
    cafile: TLS_CA,
    authentication: { username: 'r', password: 'rp' },
  });
  const fromRestapi = restClientSettings(load(both));
  assert.deepEqual(fromRestapi, {
    auth: { username: 'r', password: 'rp' },
    cafile: TLS_CA,
    certfile: TLS_CERT,
    keyfile: TLS_KEY_ENCRYPTED,
    keyfilePassword: TLS_KEY_PASSWORD,
    insecure: false,
  });
  setPath(both, 'ctl', { cacert: TLS_CERT, certfile: TLS_CERT, keyfile: TLS_KEY, authentication: { username: 'c', password: 'cp' }, insecure: true });
  const fromCtl = restClientSettings(load(both));
  assert.deepEqual(fromCtl, {
    auth: { username: 'c', password: 'cp' },
    cafile: TLS_CERT,
    certfile: TLS_CERT,
    keyfile: TLS_KEY,
    keyfilePassword: TLS_KEY_PASSWORD,
    insecure: true,
  });
  assert.equal(restClientSettings(load(both), false).insecure, false, 'the -k flag (or its absence) given explicitly wins');
  assert.deepEqual(restClientSettings(load(withRestapi({ cafile: TLS_CA }))), { cafile: TLS_CA, insecure: false }, 'restapi.cafile alone verifies members');
});

test('etcd TLS files: cacert (or ca_cert), cert, key are checked and one-line errors name the key', () => {
  const etcd = (values: Record<string, unknown>) => load(setPath(minimal(), 'etcd3', { hosts: '10.0.0.11:2379', protocol: 'https', ...values })).etcd;
  assert.deepEqual(etcd({ cacert: TLS_CA, cert: TLS_CERT, key: TLS_KEY }), {
    section: 'etcd3',
    endpoints: [{ host: '10.0.0.11', port: 2379 }],
    protocol: 'https',
    cacert: TLS_CA,
    cert: TLS_CERT,
    key: TLS_KEY,
  });
  assert.equal(etcd({ ca_cert: TLS_CA }).cacert, TLS_CA, "python-etcd's name");
  assertConfigError(() => etcd({ cacert: MISSING }), 'etcd3.cacert', 'no such file');
  assertConfigError(() => etcd({ cert: TLS_CERT, key: MISSING }), 'etcd3.key', 'no such file');
  assertConfigError(() => etcd({ cert: TLS_CERT }), 'etcd3.cert', 'must also hold the private key');
  assertConfigError(() => etcd({ key: TLS_KEY }), 'etcd3.key', 'is set without etcd3.cert');
  const section = setPath(minimal(), 'etcd3', undefined);
  setPath(section, 'etcd', { host: '10.0.0.11:2379', cacert: MISSING });
  assertConfigError(() => load(section), 'etcd.cacert', 'no such file');
});

test('etcd3.hosts entries may carry http(s)://; one scheme for all, agreeing with protocol', () => {
  const hosts = (value: unknown, protocol?: string) =>
    load(setPath(minimal(), 'etcd3', { hosts: value, ...(protocol === undefined ? {} : { protocol }) })).etcd;
  assert.deepEqual(hosts('https://a:2379,https://b'), {
    section: 'etcd3',
    endpoints: [
      { host: 'a', port: 2379 },
      { host: 'b', port: 2379 },
    ],
    protocol: 'https',
  });
  assert.equal(hosts(['https://a:2379'], 'https').protocol, 'https');
  assertConfigError(() => hosts('https://a:2379', 'http'), 'etcd3.hosts', 'says https but etcd3.protocol is http');
  assertConfigError(() => hosts(['http://a:2379', 'https://b:2379']), 'etcd3.hosts[1]', 'says https but the hosts before it are http');
});

test('restapi http_extra_headers / https_extra_headers warn: keel does not send them yet', () => {
  const warnings = load(
    withRestapi({ http_extra_headers: { 'X-Frame-Options': 'SAMEORIGIN' }, https_extra_headers: { 'Strict-Transport-Security': 'max-age=1' } }),
  ).warnings;
  assert.ok(warnings.includes('restapi.http_extra_headers: extra response headers are not sent by keel yet'), warnings.join('\n'));
  assert.ok(warnings.includes('restapi.https_extra_headers: extra response headers are not sent by keel yet'), warnings.join('\n'));
});

test('etcd TLS files with protocol http warn that they are ignored', () => {
  const warnings = load(setPath(minimal(), 'etcd3', { hosts: '10.0.0.11:2379', cacert: TLS_CA, cert: TLS_CERT, key: TLS_KEY })).warnings;
  assert.ok(warnings.includes('etcd3.cacert/cert/key: ignored, etcd is reached over http (set etcd3.protocol: https)'), warnings.join('\n'));
  const https = load(setPath(minimal(), 'etcd3', { hosts: '10.0.0.11:2379', protocol: 'https', cacert: TLS_CA })).warnings;
  assert.ok(!https.some((w) => w.startsWith('etcd3.cacert')), https.join('\n'));
});
