/**
 * Names TLS failures in words an operator can act on. node reports them as bare OpenSSL codes
 * ("unable to verify the first certificate", "ERR_SSL_WRONG_VERSION_NUMBER"); a client of etcd
 * or of a member's REST API turns them into "TLS verification of <endpoint>'s certificate
 * failed ..." so a wrong CA is never mistaken for an unreachable host.
 */

/** OpenSSL's verification results that mean "this server's certificate is not trusted". */
const VERIFICATION_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
]);

export type TlsFailureKind = 'server_not_trusted' | 'client_certificate_refused' | 'not_tls';

export interface TlsFailure {
  kind: TlsFailureKind;
  /** One line, e.g. "TLS verification of the server's certificate failed: unable to verify the first certificate". */
  message: string;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The TLS failure behind `error` (or its cause), or null when it is not one. */
export function tlsFailure(error: unknown): TlsFailure | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = codeOf(e);
    const detail = e.message.split('\n')[0] ?? '';
    if (VERIFICATION_CODES.has(code)) {
      return { kind: 'server_not_trusted', message: `TLS verification of the server's certificate failed (${code}: ${detail})` };
    }
    if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)/.test(code)) {
      return { kind: 'client_certificate_refused', message: `the server refused the TLS handshake, it wants a client certificate it trusts (${code})` };
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long/i.test(detail)) {
      return { kind: 'not_tls', message: `the server does not speak TLS (${code || detail}); use http:// for it or enable TLS there` };
    }
  }
  return null;
}
