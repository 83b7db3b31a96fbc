import { isIPv6 } from 'node:net';

/**
 * The key a client address is counted under by the failure limits. An IPv4 address is itself (an
 * IPv4-mapped IPv6 address too). An IPv6 address counts per /64: one subscriber usually gets a whole
 * /64 (RFC 6177) and can pick any of its 2^64 addresses, so counting each address alone would let it
 * fail without end. Pure, and cheap: it runs only on the failure path and for the up-front check.
 */
export function clientAddressKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const zone = ip.indexOf('%');
  const address = zone < 0 ? ip : ip.slice(0, zone);
  if (!isIPv6(address)) return ip;
  const hextets = expandIPv6(address);
  return `${hextets.slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address, lower case without leading zeros (the :: expanded). */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const part = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const left = part(head);
  const right = part(tail);
  // An embedded IPv4 tail (::1.2.3.4) holds two hextets; only the first four matter here.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - width(left) - width(right) }, () => '0');
  return [...left, ...zeros, ...right].map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)));
}
