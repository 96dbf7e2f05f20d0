/**
 * The etcd section of a Patroni-format file (`etcd:` or `etcd3:`; keel speaks the v3 API for
 * both) resolved to the endpoints keel connects to.
 *
 * Patroni's rules (patroni/dcs/etcd.py get_etcd_client): `proxy`, then `url`, then `hosts`,
 * then `host`; hosts is a comma-separated string or a list of "host:port"; the port defaults
 * to 2379 (or the section's `port` key); a url carries protocol and credentials.
 * DNS SRV discovery (`srv`) is not supported and says so.
 */
import type { EtcdConfig, HostPort } from './types.js';
import type { LocalFile } from './schema.js';
import { splitHostPort } from './values.js';

export type Fail = (path: string, message: string, hint?: string) => never;

const ETCD_DEFAULT_PORT = 2379;
const OTHER_DCS = ['consul', 'exhibitor', 'kubernetes', 'raft', 'zookeeper'] as const;

type EtcdSection = NonNullable<LocalFile['etcd3']>;

/**
 * Patroni picks the first DCS section in module order (consul, etcd, etcd3, ...); keel only
 * speaks etcd (always the v3 API), so it takes `etcd` when present, else `etcd3`, and warns
 * about sections it does not use.
 */
export function resolveEtcd(merged: Record<string, unknown>, parsed: Pick<LocalFile, 'etcd' | 'etcd3'>, fail: Fail, warnings: string[]): EtcdConfig {
  const name = parsed.etcd !== undefined ? 'etcd' : parsed.etcd3 !== undefined ? 'etcd3' : undefined;
  const section = parsed.etcd ?? parsed.etcd3;
  const others = OTHER_DCS.filter((dcs) => merged[dcs] !== undefined && merged[dcs] !== null);
  if (name === undefined || section === undefined) {
    const found = others.length === 0 ? '' : ` (found ${others.join(', ')}, which keel does not support)`;
    return fail(
      'etcd3',
      `is required: keel keeps the cluster state in etcd${found}`,
      'add an etcd3 section, e.g. etcd3: {hosts: "10.0.1.11:2379,10.0.1.12:2379,10.0.1.13:2379"}',
    );
  }
  for (const dcs of others) warnings.push(`${dcs}: ignored, keel only supports etcd (using the ${name} section)`);
  if (name === 'etcd' && parsed.etcd3 !== undefined) warnings.push('etcd3: ignored because an etcd section is present too (Patroni also uses etcd then)');
  return { section: name, ...etcdEndpoints(name, section, fail) };
}

function etcdEndpoints(name: string, section: EtcdSection, fail: Fail): EtcdConfig {
  const base = {
    ...(section.cacert === undefined && section.ca_cert === undefined ? {} : { cacert: section.cacert ?? section.ca_cert }),
    ...(section.cert === undefined ? {} : { cert: section.cert }),
    ...(section.key === undefined ? {} : { key: section.key }),
  };
  const credentials = (username: string | undefined, password: string | undefined) => ({
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  });
  // Patroni's precedence: proxy, then url, then hosts, then host
  const urlKey = section.proxy !== undefined ? 'proxy' : section.url !== undefined ? 'url' : undefined;
  if (urlKey !== undefined) {
    const parsed = parseEtcdUrl(section[urlKey] ?? '');
    if (parsed === undefined) return fail(`${name}.${urlKey}`, `expected "http(s)://host:port", got ${JSON.stringify(section[urlKey])}`);
    return {
      endpoints: [parsed.endpoint],
      protocol: parsed.protocol,
      ...credentials(parsed.username ?? section.username, parsed.password ?? section.password),
      ...base,
    };
  }
  let protocol = section.protocol ?? 'http';
  const auth = credentials(section.username, section.password);
  if (section.hosts !== undefined) {
    const defaultPort = section.port ?? ETCD_DEFAULT_PORT;
    const isList = Array.isArray(section.hosts);
    const entries = isList ? (section.hosts as string[]) : (section.hosts as string).split(',');
    const endpoints: HostPort[] = [];
    for (const [index, entry] of entries.entries()) {
      if (entry.trim() === '') continue;
      const at = isList ? `${name}.hosts[${index}]` : `${name}.hosts`;
      // keel also takes "https://host:port" entries (Patroni wants protocol: https); one scheme for all
      const scheme = /^(https?):\/\//i.exec(entry.trim());
      if (scheme !== null) {
        const entryProtocol = (scheme[1] ?? '').toLowerCase() as 'http' | 'https';
        const declared = section.protocol ?? (endpoints.length > 0 ? protocol : undefined);
        if (declared !== undefined && declared !== entryProtocol) {
          return fail(
            at,
            `"${entry.trim()}" says ${entryProtocol} but ${section.protocol !== undefined ? `${name}.protocol is` : 'the hosts before it are'} ${declared}`,
          );
        }
        protocol = entryProtocol;
      }
      const endpoint = splitHostPort(entry.trim().slice(scheme?.[0].length ?? 0), defaultPort);
      if (!endpoint.ok) return fail(at, endpoint.error);
      endpoints.push(endpoint.value);
    }
    if (endpoints.length === 0) return fail(`${name}.hosts`, 'expected at least one "host:port", got none');
    return { endpoints, protocol, ...auth, ...base };
  }
  if (section.host !== undefined) {
    const endpoint = splitHostPort(section.host, ETCD_DEFAULT_PORT);
    if (!endpoint.ok) return fail(`${name}.host`, endpoint.error);
    // Patroni: an explicit `port` key wins over the port written in `host`
    return { endpoints: [{ host: endpoint.value.host, port: section.port ?? endpoint.value.port }], protocol, ...auth, ...base };
  }
  if (section.srv !== undefined) {
    return fail(`${name}.srv`, 'DNS SRV discovery is not supported by keel', `list the endpoints instead: ${name}.hosts: "host1:2379,host2:2379,host3:2379"`);
  }
  return fail(`${name}.hosts`, 'is required: the etcd endpoints as "host:port,host:port" (or host, url)');
}

function parseEtcdUrl(text: string): { endpoint: HostPort; protocol: 'http' | 'https'; username?: string; password?: string } | undefined {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return undefined;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? ETCD_DEFAULT_PORT : Number(url.port);
  return {
    endpoint: { host, port },
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
  };
}
