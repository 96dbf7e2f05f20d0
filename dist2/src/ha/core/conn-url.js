export function parseConnUrl(connUrl) {
    if (connUrl === null)
        return null;
    try {
        const url = new URL(connUrl);
        if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
            return null;
        const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
        return { host, port: url.port === '' ? 5432 : Number(url.port) };
    }
    catch {
        return null;
    }
}
export function formatConnUrl(host, port) {
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return `postgres://${shownHost}:${port}/postgres`;
}
//# sourceMappingURL=conn-url.js.map