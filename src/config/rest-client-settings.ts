/**
 * How a client talks to members' REST APIs, derived from a node's configuration exactly as
 * Patroni 3.0.2's PatroniRequest does (patroni/request.py) — used both by the CLI (patronictl's
 * role) and by the agent calling other members (Patroni's agent uses the same object):
 *  - credentials: ctl.authentication, else restapi.authentication;
 *  - each TLS file: the ctl one, else the restapi one (ctl.cacert -> restapi.cafile,
 *    ctl.certfile -> restapi.certfile, ctl.keyfile -> restapi.keyfile, keyfile_password likewise);
 *  - insecure (ctl.insecure or patronictl -k): no verification of the member's certificate — but
 *    with a client certificate the chain is still verified and only the host name is not.
 * Pure: paths only; the files are read by src/api/rest-client.ts.
 */
import type { Credentials, LocalConfig } from './types.js';

export interface RestClientSettings {
  auth?: Credentials;
  /** CA bundle the members' certificates are verified against; absent = the system's CAs. */
  cafile?: string;
  /** Client certificate presented to members (needed when they set verify_client). */
  certfile?: string;
  keyfile?: string;
  keyfilePassword?: string;
  insecure: boolean;
}

/** `insecure` overrides ctl.insecure (the CLI's -k flag), as PatroniRequest's argument does. */
export function restClientSettings(config: Pick<LocalConfig, 'ctl' | 'restapi'>, insecure?: boolean): RestClientSettings {
  const { ctl, restapi } = config;
  const auth = ctl.authentication ?? restapi.authentication;
  const cafile = ctl.cacert ?? restapi.cafile;
  const certfile = ctl.certfile ?? restapi.certfile;
  const keyfile = certfile === undefined ? undefined : (ctl.keyfile ?? restapi.keyfile);
  const keyfilePassword = certfile === undefined ? undefined : (ctl.keyfilePassword ?? restapi.keyfilePassword);
  return {
    ...(auth === undefined ? {} : { auth }),
    ...(cafile === undefined ? {} : { cafile }),
    ...(certfile === undefined ? {} : { certfile }),
    ...(keyfile === undefined ? {} : { keyfile }),
    ...(keyfilePassword === undefined ? {} : { keyfilePassword }),
    insecure: insecure ?? ctl.insecure,
  };
}
