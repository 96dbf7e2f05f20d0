/**
 * Other members' REST APIs (the PeerClient port): GET <api_url> for their status in a leader
 * race, POST /failsafe in failsafe_mode. Over https as Patroni's agent does it (its
 * PatroniRequest): the CA, client certificate and credentials of restClientSettings — ctl's,
 * falling back to restapi's. Every request has a deadline; an answer that is not JSON, a refusal,
 * a TLS failure or a timeout is "no answer" (null), never an exception. TLS failures (a wrong CA,
 * a refused client certificate) are a setup problem rather than an outage, so they are also
 * reported through `onTlsFailure` (the agent logs them).
 */
import { connect } from 'node:net';
import type { RestClientSettings } from '../config/rest-client-settings.js';
import type { Credentials } from '../config/types.js';
import { RestClient, RestRequestError } from './rest-client.js';

export interface HttpPeerClient {
  status(apiUrl: string, timeoutMs: number): Promise<Record<string, unknown> | null>;
  postFailsafe(apiUrl: string, body: Record<string, unknown>, auth: Credentials | undefined, timeoutMs: number): Promise<number | null>;
  reachable(apiUrl: string, timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** Opens and closes a TCP connection to the URL's host and port: true when it opened in time. */
function tcpReachable(url: URL, timeoutMs: number): Promise<boolean> {
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function createHttpPeerClient(settings: RestClientSettings, onTlsFailure: (message: string) => void = () => undefined): HttpPeerClient {
  // The status GET is a safe request: Patroni sends its headers anyway, and so do we.
  const client = new RestClient(settings);
  const noAnswer = (error: unknown): null => {
    if (error instanceof RestRequestError && error.tls) onTlsFailure(error.message);
    return null;
  };
  return {
    async status(apiUrl, timeoutMs) {
      try {
        const answer = await client.request(new URL(apiUrl), { method: 'GET', timeoutMs });
        const body = JSON.parse(answer.text) as unknown;
        return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
      } catch (error) {
        return noAnswer(error);
      }
    },

    reachable(apiUrl, timeoutMs) {
      return tcpReachable(new URL(apiUrl), timeoutMs);
    },

    /** `auth` is what the failsafe loop sends (the node's restapi.authentication; members share it). */
    async postFailsafe(apiUrl, body, auth, timeoutMs) {
      try {
        const answer = await client.request(new URL('/failsafe', apiUrl), { method: 'POST', json: body, auth: auth ?? null, timeoutMs });
        return answer.status;
      } catch (error) {
        return noAnswer(error);
      }
    },

    close() {
      client.close();
    },
  };
}
