/**
 * keel's own read-only endpoints, next to Patroni's (routes.ts): the status page and the JSON it
 * reads beyond Patroni's. Open like every GET (Patroni's rule: only unsafe methods need auth).
 *  - GET /ui: the status page (ui-page.ts);
 *  - GET /decisions[?member=NAME]: a member's recent HA decisions (this member's by default;
 *    another member's is fetched from its REST API by this agent);
 *  - GET /explain: for each member, whether it would take over now and the rule deciding it
 *    (`keel explain` as JSON), plus the leader and whether its agent answers.
 */
import { json, text, type Route } from './routes.js';
import { UI_PAGE } from './ui-page.js';

function notImplemented(path: string): ReturnType<typeof text> {
  return text(501, `Server does not support this operation: GET ${path} is not implemented by this agent`);
}

export function keelRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/ui',
      unsafe: false,
      body: 'none',
      // The page reads only same-origin JSON; nothing may frame it or load anything else.
      handle: () => ({
        code: 200,
        body: { kind: 'text', text: UI_PAGE, contentType: 'text/html; charset=utf-8' },
        headers: {
          'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
          'Cache-Control': 'no-store',
        },
      }),
    },
    {
      method: 'GET',
      path: '/decisions',
      unsafe: false,
      body: 'none',
      async handle(request) {
        const load = request.provider.getDecisions;
        if (load === undefined) return notImplemented('/decisions');
        const member = request.query.get('member');
        const value = await load.call(request.provider, member === null || member === '' ? null : member);
        return value === null || value === undefined ? text(502, `member ${member ?? ''} did not answer`) : json(200, value);
      },
    },
    {
      method: 'GET',
      path: '/explain',
      unsafe: false,
      body: 'none',
      async handle(request) {
        const load = request.provider.getExplain;
        if (load === undefined) return notImplemented('/explain');
        const value = await load.call(request.provider);
        return value === null || value === undefined ? text(502, 'the cluster cannot be read from etcd') : json(200, value);
      },
    },
  ];
}
