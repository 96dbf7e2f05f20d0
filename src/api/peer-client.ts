/**
 * Other members' REST APIs over HTTP (the PeerClient port): GET <api_url> for their status in a
 * leader race, POST /failsafe in failsafe_mode. Every request has a deadline; an answer that is
 * not JSON, a refusal or a timeout is "no answer" (null), never an exception.
 */
import type { Credentials } from '../config/types.js';

export const httpPeerClient = {
  async status(apiUrl: string, timeoutMs: number): Promise<Record<string, unknown> | null> {
    try {
      const response = await fetch(apiUrl, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await response.json()) as unknown;
      return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  },

  /** Members share the REST API credentials (Patroni sends its own restapi.authentication). */
  async postFailsafe(apiUrl: string, body: Record<string, unknown>, auth: Credentials | undefined, timeoutMs: number): Promise<number | null> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
    try {
      const response = await fetch(new URL('/failsafe', apiUrl), {
        method: 'POST',
        body: JSON.stringify(body),
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.text();
      return response.status;
    } catch {
      return null;
    }
  },
};
