import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Only globally routable unicast addresses may receive webhooks. ipaddr.js names every
 * special range (loopback, private, linkLocal incl. 169.254.169.254, carrierGradeNat,
 * uniqueLocal incl. fd00:ec2::254, multicast, reserved, benchmarking, ...); IPv4-mapped
 * and NAT64-embedded IPv6 forms are judged by the IPv4 address they carry.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
    else if (['rfc6052', 'rfc6145', '6to4', 'teredo'].includes(v6.range())) return false;
  }
  return parsed.range() === 'unicast';
}

export class BlockedAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, which is not a public address`);
    this.name = 'BlockedAddressError';
  }
}

/** What a URL's host is, once the WHATWG parser has normalised its spellings (0x7f.1, 2130706433, ...). */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect that refuses to connect when any address the name resolves
 * to is not public: the check is on the addresses actually used, at every connection,
 * so a name that changes its answer after creation (DNS rebinding) is still refused.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const blocked = addresses.find((entry) => !isPublicAddress(entry.address));
    if (blocked) return callback(new BlockedAddressError(hostname, blocked.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
