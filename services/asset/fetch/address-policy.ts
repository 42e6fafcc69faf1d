/**
 * Which IP addresses a provider result URL may point at. Only globally routable unicast addresses pass; every
 * way of spelling a private address inside IPv6 (mapped, compatible, NAT64, 6to4) is unwrapped and judged as IPv4.
 */
import { isIPv4, isIPv6 } from 'node:net';

type V4Range = readonly [base: number, bits: number];

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

const BLOCKED_V4: readonly V4Range[] = [
  [v4(0, 0, 0, 0), 8], // "this network", incl. the unspecified 0.0.0.0
  [v4(10, 0, 0, 0), 8], // RFC 1918
  [v4(100, 64, 0, 0), 10], // CGNAT
  [v4(127, 0, 0, 0), 8], // loopback
  [v4(169, 254, 0, 0), 16], // link-local, cloud metadata
  [v4(172, 16, 0, 0), 12], // RFC 1918
  [v4(192, 0, 0, 0), 24], // IETF protocol assignments
  [v4(192, 0, 2, 0), 24], // documentation
  [v4(192, 88, 99, 0), 24], // 6to4 relay anycast
  [v4(192, 168, 0, 0), 16], // RFC 1918
  [v4(198, 18, 0, 0), 15], // benchmarking
  [v4(198, 51, 100, 0), 24], // documentation
  [v4(203, 0, 113, 0), 24], // documentation
  [v4(224, 0, 0, 0), 4], // multicast
  [v4(240, 0, 0, 0), 4], // reserved, incl. broadcast 255.255.255.255
];

function inRange(addr: number, [base, bits]: V4Range): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (addr & mask) >>> 0 === (base & mask) >>> 0;
}

function parseV4(text: string): number | null {
  if (!isIPv4(text)) return null;
  const p = text.split('.').map(Number);
  return v4(p[0]!, p[1]!, p[2]!, p[3]!);
}

export function isPublicIPv4(text: string): boolean {
  const n = parseV4(text);
  return n !== null && !BLOCKED_V4.some((r) => inRange(n, r));
}

/** Eight 16-bit groups of an IPv6 address (zone id dropped), or null when it is not one. */
export function parseV6(text: string): number[] | null {
  const bare = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!isIPv6(bare)) return null;
  let body = bare.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const n = parseV4(dotted[1]!);
    if (n === null) return null;
    tail.push(n >>> 16, n & 0xffff);
    body = body.slice(0, -dotted[1]!.length);
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1);
  }
  const [left = '', right] = body.split('::');
  const parse = (s: string) => (s ? s.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const head = parse(left);
  const rest = right === undefined ? [] : parse(right);
  const zeros = 8 - head.length - rest.length - tail.length;
  if (zeros < 0 || (right === undefined && zeros !== 0)) return null;
  return [...head, ...new Array(zeros).fill(0), ...rest, ...tail];
}

const embedded = (hi: number, lo: number) => `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;

export function isPublicIPv6(text: string): boolean {
  const g = parseV6(text);
  if (!g) return false;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  // ::/128, ::1, IPv4-compatible ::a.b.c.d and IPv4-mapped ::ffff:a.b.c.d: judged by the IPv4 inside.
  if (upperZero && (g5 === 0 || g5 === 0xffff)) {
    if (g5 === 0 && g6 === 0) return false; // ::, ::1 and the rest of ::/112
    return isPublicIPv4(embedded(g6, g7));
  }
  // IPv4-translated ::ffff:0:a.b.c.d (SIIT).
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) return false;
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4; the local-use 64:ff9b:1::/48 never is public.
  if (g0 === 0x64 && g1 === 0xff9b) {
    if (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPublicIPv4(embedded(g6, g7));
    return false;
  }
  // 6to4 2002::/16 carries an IPv4 in the next 32 bits.
  if (g0 === 0x2002) return isPublicIPv4(embedded(g1, g2));
  // Only global unicast 2000::/3 remains a candidate.
  if ((g0 & 0xe000) !== 0x2000) return false; // ULA fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64, …
  if (g0 === 0x2001 && g1 < 0x200) return false; // 2001::/23 IETF assignments incl. Teredo 2001::/32
  if (g0 === 0x2001 && g1 === 0xdb8) return false; // documentation
  if (g0 === 0x3fff && g1 < 0x1000) return false; // 3fff::/20 documentation
  return true;
}

/** The default policy: the address is a globally routable unicast address. */
export function isPublicAddress(address: string): boolean {
  return isIPv4(address) ? isPublicIPv4(address) : isPublicIPv6(address);
}
