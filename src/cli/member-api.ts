/**
 * The CLI's client for members' REST APIs (what patronictl's PatroniRequest does): operator verbs
 * (switchover, restart, reinit, reload, pause, ...) send their request to a member's api_url with
 * the credentials and TLS settings of the configuration file — the ctl section, falling back to
 * restapi (see src/config/rest-client-settings.ts) — so https members work as with patronictl.
 * Every request has a deadline; an unreachable member or a TLS failure is a one-line KeelError,
 * never a stack trace.
 */
import { KeelError } from '../errors.js';
import type { Credentials, LocalConfig } from '../config/types.js';
import { restClientSettings, type RestClientSettings } from '../config/rest-client-settings.js';
import { RestClient, RestRequestError } from '../api/rest-client.js';

export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiAnswer {
  status: number;
  /** The body as text (Patroni answers operations with a one-line text). */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** TLS settings of a MemberApi (paths; read once, when it is made). */
export type MemberApiTls = Omit<RestClientSettings, 'auth'>;

export interface MemberApiOptions {
  /** patronictl -k / --insecure: overrides ctl.insecure. */
  insecure?: boolean;
}

export class MemberApi {
  private readonly client: RestClient;

  constructor(
    auth: Credentials | undefined,
    private readonly timeoutMs = 30_000,
    tls: MemberApiTls = { insecure: false },
  ) {
    this.client = new RestClient({ ...tls, ...(auth === undefined ? {} : { auth }) });
  }

  /** The credentials and TLS settings of a node's configuration file, as patronictl uses them. */
  static fromConfig(config: LocalConfig, timeoutMs?: number, options: MemberApiOptions = {}): MemberApi {
    const { auth, ...tls } = restClientSettings(config, options.insecure ?? (insecureFlag ? true : undefined));
    return new MemberApi(auth, timeoutMs, tls);
  }

  /** `path` replaces the api_url's path, as patronictl's urljoin does (api_url ends in /patroni). */
  async request(apiUrl: string, method: ApiMethod, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<ApiAnswer> {
    const url = new URL(path, apiUrl);
    let answer;
    try {
      answer = await this.client.request(url, { method, ...(body === undefined ? {} : { json: body }), timeoutMs });
    } catch (error) {
      if (!(error instanceof RestRequestError)) throw error;
      throw new KeelError(error.tls ? 'cli.api_tls' : 'cli.api_unreachable', error.message, {
        ...(error.tls ? { hint: 'check ctl.cacert / restapi.cafile (the CA of the members), ctl.certfile / keyfile, or use --insecure' } : {}),
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.text) as unknown;
    } catch {
      json = undefined;
    }
    return { status: answer.status, text: answer.text, json };
  }

  /** Frees the connections (requests never keep one alive; this only matters for tests). */
  close(): void {
    this.client.close();
  }
}

/** keel's global -k/--insecure (patronictl's): no verification of members' certificates for this command. */
let insecureFlag = false;

export function setInsecureFlag(insecure: boolean): void {
  insecureFlag = insecure;
}
