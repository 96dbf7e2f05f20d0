/**
 * The CLI's client for members' REST APIs (what patronictl's PatroniRequest does): operator verbs
 * (switchover, restart, reinit, reload, pause, ...) send their request to a member's api_url with
 * the REST credentials of the configuration file. Every request has a deadline; an unreachable
 * member is a one-line KeelError, never a stack trace.
 */
import { KeelError } from '../errors.js';
import type { Credentials, LocalConfig } from '../config/types.js';

export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiAnswer {
  status: number;
  /** The body as text (Patroni answers operations with a one-line text). */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export class MemberApi {
  constructor(
    private readonly auth: Credentials | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  /** The REST credentials of a node's configuration file (restapi.authentication), as patronictl uses them. */
  static fromConfig(config: LocalConfig, timeoutMs?: number): MemberApi {
    return new MemberApi(config.restapi.authentication, timeoutMs);
  }

  /** `path` replaces the api_url's path, as patronictl's urljoin does (api_url ends in /patroni). */
  async request(apiUrl: string, method: ApiMethod, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<ApiAnswer> {
    const url = new URL(path, apiUrl);
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      throw new KeelError('cli.api_unreachable', `${method} ${url.href} failed: ${cause}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  }
}
