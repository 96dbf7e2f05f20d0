/**
 * restapi.allowlist / allowlist_include_members, Patroni's semantics: when either is set, an
 * unsafe request (POST, PUT, PATCH, DELETE) is answered 403 "Access is denied" unless the client
 * address is in one of the listed addresses or networks — or, with allowlist_include_members, is
 * the host of a member's api_url or conn_url. The check comes before authentication.
 *
 * Entries are IP addresses, networks in CIDR notation, or host names (resolved to all their
 * addresses when the server starts; member hosts when asked). An IPv4-mapped IPv6 client address
 * (::ffff:10.0.0.1, how a dual-stack socket reports IPv4 clients) matches its IPv4 form.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { ConfigError } from '../errors.js';
export const systemResolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);
function family(address) {
    const v = isIP(address);
    return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null;
}
/** ::ffff:a.b.c.d → a.b.c.d; anything else unchanged. */
export function unmapIpv4(address) {
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    return m?.[1] ?? address;
}
async function addEntry(list, entry, resolve) {
    const slash = entry.indexOf('/');
    if (slash >= 0) {
        const net = entry.slice(0, slash);
        const bits = Number(entry.slice(slash + 1));
        const kind = family(net);
        if (kind === null || !Number.isInteger(bits) || bits < 0 || bits > (kind === 'ipv4' ? 32 : 128)) {
            throw new ConfigError('restapi.allowlist', `"${entry}" is not an address, a network (CIDR) or a host name`);
        }
        list.addSubnet(net, bits, kind);
        return;
    }
    const kind = family(entry);
    if (kind !== null) {
        list.addAddress(unmapIpv4(entry), family(unmapIpv4(entry)) ?? kind);
        return;
    }
    for (const address of await resolve(entry)) {
        const plain = unmapIpv4(address);
        list.addAddress(plain, family(plain) ?? 'ipv6');
    }
}
function contains(list, client) {
    const plain = unmapIpv4(client);
    const kind = family(plain);
    return kind !== null && list.check(plain, kind);
}
export class Allowlist {
    fixed;
    includeMembers;
    resolve;
    constructor(fixed, includeMembers, resolve) {
        this.fixed = fixed;
        this.includeMembers = includeMembers;
        this.resolve = resolve;
    }
    /** Resolves the configured entries; throws with the offending entry when one is invalid or unknown. */
    static async build(settings, resolve = systemResolve) {
        const fixed = new BlockList();
        for (const entry of settings.entries) {
            try {
                await addEntry(fixed, entry, resolve);
            }
            catch (error) {
                if (error instanceof ConfigError)
                    throw error;
                throw new ConfigError('restapi.allowlist', `cannot resolve "${entry}": ${error instanceof Error ? error.message : String(error)}`);
            }
        }
        return new Allowlist(fixed, settings.includeMembers, resolve);
    }
    /** Whether the check applies at all (Patroni: allowlist or allowlist_include_members set). */
    static wanted(settings) {
        return settings.entries.length > 0 || settings.includeMembers;
    }
    /** Whether `client` may make unsafe requests; `memberHosts` are the hosts of members' api_url and conn_url. */
    async allows(client, memberHosts) {
        if (contains(this.fixed, client))
            return true;
        if (!this.includeMembers)
            return false;
        const members = new BlockList();
        for (const host of memberHosts()) {
            try {
                await addEntry(members, host, this.resolve);
            }
            catch {
                // A member host that does not resolve allows nobody; the others still count.
            }
        }
        return contains(members, client);
    }
}
//# sourceMappingURL=allowlist.js.map