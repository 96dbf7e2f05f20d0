/**
 * The CLI's client for members' REST APIs (what patronictl's PatroniRequest does): operator verbs
 * (switchover, restart, reinit, reload, pause, ...) send their request to a member's api_url with
 * the REST credentials of the configuration file. Every request has a deadline; an unreachable
 * member is a one-line KeelError, never a stack trace.
 */
import { KeelError } from '../errors.js';
export class MemberApi {
    auth;
    timeoutMs;
    constructor(auth, timeoutMs = 30_000) {
        this.auth = auth;
        this.timeoutMs = timeoutMs;
    }
    /** The REST credentials of a node's configuration file (restapi.authentication), as patronictl uses them. */
    static fromConfig(config, timeoutMs) {
        return new MemberApi(config.restapi.authentication, timeoutMs);
    }
    /** `path` replaces the api_url's path, as patronictl's urljoin does (api_url ends in /patroni). */
    async request(apiUrl, method, path, body, timeoutMs = this.timeoutMs) {
        const url = new URL(path, apiUrl);
        const headers = {};
        if (body !== undefined)
            headers['content-type'] = 'application/json';
        if (this.auth !== undefined)
            headers['authorization'] = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
        let response;
        let text;
        try {
            response = await fetch(url, {
                method,
                headers,
                ...(body === undefined ? {} : { body: JSON.stringify(body) }),
                signal: AbortSignal.timeout(timeoutMs),
            });
            text = await response.text();
        }
        catch (error) {
            const cause = error instanceof Error ? (error.cause?.message ?? error.message) : String(error);
            throw new KeelError('cli.api_unreachable', `${method} ${url.href} failed: ${cause}`);
        }
        let json;
        try {
            json = JSON.parse(text);
        }
        catch {
            json = undefined;
        }
        return { status: response.status, text, json };
    }
}
//# sourceMappingURL=member-api.js.map