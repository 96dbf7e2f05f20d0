/**
 * The TLS parts of a patroni.yml, resolved and checked while loading: restapi's server settings
 * (HTTPS exactly when certfile is set), the ctl section, and the files a client of the members
 * (ctl, falling back to restapi) and of etcd would use. Every named file must be usable by node's
 * TLS (src/config/tls-files.ts); otherwise `fail` names the key, so nothing starts with a file
 * that would only fail on the first connection.
 */
import type { Fail } from './etcd.js';
import { restClientSettings } from './rest-client-settings.js';
import type { LocalFile } from './schema.js';
import { type TlsFileRole, type TlsFiles, cipherListProblem, tlsFilesProblem } from './tls-files.js';
import type { CtlConfig, EtcdConfig, RestApiConfig } from './types.js';

/** Fails on the key behind the first unusable file of `files` (`keys` maps each role to its key). */
function checkTls(files: TlsFiles, keys: Record<TlsFileRole, string>, fail: Fail): void {
  const problem = tlsFilesProblem(files);
  if (problem !== null) fail(keys[problem.role], problem.message);
}

export function checkEtcdTls(etcd: EtcdConfig, section: string, fail: Fail, warnings: string[]): void {
  const named = (['cacert', 'cert', 'key'] as const).filter((key) => etcd[key] !== undefined);
  if (etcd.protocol === 'http' && named.length > 0) {
    warnings.push(`${section}.${named.join('/')}: ignored, etcd is reached over http (set ${section}.protocol: https)`);
  }
  if (etcd.key !== undefined && etcd.cert === undefined) fail(`${section}.key`, `is set without ${section}.cert (the client certificate it belongs to)`);
  checkTls({ ca: etcd.cacert, cert: etcd.cert, key: etcd.key }, { ca: `${section}.cacert`, cert: `${section}.cert`, key: `${section}.key` }, fail);
}

/** restapi's server-side TLS: https exactly when certfile is set. */
export function restApiTls(api: LocalFile['restapi'], fail: Fail, warnings: string[]): Partial<RestApiConfig> & Pick<RestApiConfig, 'verifyClient'> {
  if (api.certfile === undefined) {
    if (api.keyfile !== undefined) fail('restapi.keyfile', 'is set without restapi.certfile (the certificate it belongs to)');
    if (api.keyfile_password !== undefined) fail('restapi.keyfile_password', 'is set without restapi.certfile');
    if (api.verify_client !== undefined && api.verify_client !== 'none') {
      warnings.push('restapi.verify_client: ignored, the REST API serves plain HTTP without restapi.certfile');
    }
  }
  const tls = {
    ...(api.certfile === undefined ? {} : { certfile: api.certfile }),
    ...(api.keyfile === undefined ? {} : { keyfile: api.keyfile }),
    ...(api.keyfile_password === undefined ? {} : { keyfilePassword: api.keyfile_password }),
    ...(api.cafile === undefined ? {} : { cafile: api.cafile }),
    ...(api.ciphers === undefined ? {} : { ciphers: api.ciphers }),
    verifyClient: api.certfile === undefined ? 'none' : (api.verify_client ?? 'none'),
  } as const;
  checkTls(
    { ca: tls.cafile, cert: tls.certfile, key: tls.keyfile, passphrase: tls.keyfilePassword },
    { ca: 'restapi.cafile', cert: 'restapi.certfile', key: 'restapi.keyfile' },
    fail,
  );
  const cipherProblem = tls.ciphers === undefined ? null : cipherListProblem(tls.ciphers);
  if (cipherProblem !== null) fail('restapi.ciphers', cipherProblem);
  return tls;
}

export function buildCtl(parsed: LocalFile): CtlConfig {
  const ctl = parsed.ctl;
  const auth = ctl.authentication;
  return {
    ...(auth === undefined ? {} : { authentication: { username: auth.username, ...(auth.password === undefined ? {} : { password: auth.password }) } }),
    insecure: ctl.insecure ?? false,
    ...(ctl.cacert === undefined ? {} : { cacert: ctl.cacert }),
    ...(ctl.certfile === undefined ? {} : { certfile: ctl.certfile }),
    ...(ctl.keyfile === undefined ? {} : { keyfile: ctl.keyfile }),
    ...(ctl.keyfile_password === undefined ? {} : { keyfilePassword: ctl.keyfile_password }),
  };
}

/** The files a client of the members would use (ctl, falling back to restapi) must be usable too. */
export function checkClientTls(restapi: RestApiConfig, ctl: CtlConfig, fail: Fail): void {
  if (ctl.keyfile !== undefined && ctl.certfile === undefined && restapi.certfile === undefined) {
    fail('ctl.keyfile', 'is set without ctl.certfile (the client certificate it belongs to)');
  }
  const client = restClientSettings({ restapi, ctl });
  const from = (ctlKey: string, restKey: string, ctlValue: string | undefined) => (ctlValue !== undefined ? `ctl.${ctlKey}` : `restapi.${restKey}`);
  checkTls(
    { ca: client.cafile, cert: client.certfile, key: client.keyfile, passphrase: client.keyfilePassword },
    { ca: from('cacert', 'cafile', ctl.cacert), cert: from('certfile', 'certfile', ctl.certfile), key: from('keyfile', 'keyfile', ctl.keyfile) },
    fail,
  );
}
