import { splitHostPort } from './values.js';
const ETCD_DEFAULT_PORT = 2379;
const OTHER_DCS = ['consul', 'exhibitor', 'kubernetes', 'raft', 'zookeeper'];
/**
 * Patroni picks the first DCS section in module order (consul, etcd, etcd3, ...); keel only
 * speaks etcd (always the v3 API), so it takes `etcd` when present, else `etcd3`, and warns
 * about sections it does not use.
 */
export function resolveEtcd(merged, parsed, fail, warnings) {
    const name = parsed.etcd !== undefined ? 'etcd' : parsed.etcd3 !== undefined ? 'etcd3' : undefined;
    const section = parsed.etcd ?? parsed.etcd3;
    const others = OTHER_DCS.filter((dcs) => merged[dcs] !== undefined && merged[dcs] !== null);
    if (name === undefined || section === undefined) {
        const found = others.length === 0 ? '' : ` (found ${others.join(', ')}, which keel does not support)`;
        return fail('etcd3', `is required: keel keeps the cluster state in etcd${found}`, 'add an etcd3 section, e.g. etcd3: {hosts: "10.0.1.11:2379,10.0.1.12:2379,10.0.1.13:2379"}');
    }
    for (const dcs of others)
        warnings.push(`${dcs}: ignored, keel only supports etcd (using the ${name} section)`);
    if (name === 'etcd' && parsed.etcd3 !== undefined)
        warnings.push('etcd3: ignored because an etcd section is present too (Patroni also uses etcd then)');
    return etcdEndpoints(name, section, fail);
}
function etcdEndpoints(name, section, fail) {
    const base = {
        ...(section.cacert === undefined ? {} : { cacert: section.cacert }),
        ...(section.cert === undefined ? {} : { cert: section.cert }),
        ...(section.key === undefined ? {} : { key: section.key }),
    };
    const credentials = (username, password) => ({
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
    });
    // Patroni's precedence: proxy, then url, then hosts, then host
    const urlKey = section.proxy !== undefined ? 'proxy' : section.url !== undefined ? 'url' : undefined;
    if (urlKey !== undefined) {
        const parsed = parseEtcdUrl(section[urlKey] ?? '');
        if (parsed === undefined)
            return fail(`${name}.${urlKey}`, `expected "http(s)://host:port", got ${JSON.stringify(section[urlKey])}`);
        return {
            endpoints: [parsed.endpoint],
            protocol: parsed.protocol,
            ...credentials(parsed.username ?? section.username, parsed.password ?? section.password),
            ...base,
        };
    }
    const protocol = section.protocol ?? 'http';
    const auth = credentials(section.username, section.password);
    if (section.hosts !== undefined) {
        const defaultPort = section.port ?? ETCD_DEFAULT_PORT;
        const isList = Array.isArray(section.hosts);
        const entries = isList ? section.hosts : section.hosts.split(',');
        const endpoints = [];
        for (const [index, entry] of entries.entries()) {
            if (entry.trim() === '')
                continue;
            const endpoint = splitHostPort(entry.trim(), defaultPort);
            if (!endpoint.ok)
                return fail(isList ? `${name}.hosts[${index}]` : `${name}.hosts`, endpoint.error, entry.includes('://') ? `write host:port only and set ${name}.protocol` : undefined);
            endpoints.push(endpoint.value);
        }
        if (endpoints.length === 0)
            return fail(`${name}.hosts`, 'expected at least one "host:port", got none');
        return { endpoints, protocol, ...auth, ...base };
    }
    if (section.host !== undefined) {
        const endpoint = splitHostPort(section.host, ETCD_DEFAULT_PORT);
        if (!endpoint.ok)
            return fail(`${name}.host`, endpoint.error);
        // Patroni: an explicit `port` key wins over the port written in `host`
        return { endpoints: [{ host: endpoint.value.host, port: section.port ?? endpoint.value.port }], protocol, ...auth, ...base };
    }
    if (section.srv !== undefined) {
        return fail(`${name}.srv`, 'DNS SRV discovery is not supported by keel', `list the endpoints instead: ${name}.hosts: "host1:2379,host2:2379,host3:2379"`);
    }
    return fail(`${name}.hosts`, 'is required: the etcd endpoints as "host:port,host:port" (or host, url)');
}
function parseEtcdUrl(text) {
    let url;
    try {
        url = new URL(text.trim());
    }
    catch {
        return undefined;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '')
        return undefined;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? ETCD_DEFAULT_PORT : Number(url.port);
    return {
        endpoint: { host, port },
        protocol: url.protocol === 'https:' ? 'https' : 'http',
        ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
        ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
    };
}
//# sourceMappingURL=etcd.js.map