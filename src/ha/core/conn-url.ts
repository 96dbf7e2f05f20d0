/** Members publish `conn_url` = postgres://host:port/postgres (Patroni's format); parse it back. */
export interface HostPortOnly {
  host: string;
  port: number;
}

export function parseConnUrl(connUrl: string | null): HostPortOnly | null {
  if (connUrl === null) return null;
  try {
    const url = new URL(connUrl);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return null;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return { host, port: url.port === '' ? 5432 : Number(url.port) };
  } catch {
    return null;
  }
}

export function formatConnUrl(host: string, port: number): string {
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `postgres://${shownHost}:${port}/postgres`;
}
