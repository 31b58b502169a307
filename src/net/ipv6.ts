/**
 * IPv6 address math: text ↔ 16 bytes ↔ bigint, and prefixes. Apart from dhcp6/ because the configuration checks the
 * DHCPv6 prefixes and ranges with it too (config/dhcp6.ts).
 */
import { isIPv6 } from 'node:net';

/** 16 bytes of an IPv6 address; throws on a string that is not one (callers validate first). */
export function ipv6ToBytes(text: string): Buffer {
  return bigintToBytes(ipv6ToBigint(text));
}

export function ipv6ToBigint(text: string): bigint {
  if (!isIPv6(text) || text.includes('%')) throw new Error(`"${text}" is not an IPv6 address`);
  let t = text;
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = t.split('::');
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

export function bigintToBytes(n: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(n >> 64n, 0);
  b.writeBigUInt64BE(n & 0xffff_ffff_ffff_ffffn, 8);
  return b;
}

/** RFC 5952 canonical text: lower case, the longest run of two or more zero groups as `::`. */
export function bytesToIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function bigintToIpv6(n: bigint): string {
  return bytesToIpv6(bigintToBytes(n));
}

/** `2001:db8::/64` → network and prefix length, or undefined. */
export function parsePrefix(cidr: string): { network: bigint; length: number } | undefined {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(cidr);
  if (!m || !isIPv6(m[1] as string)) return undefined;
  const length = Number(m[2]);
  if (length > 128) return undefined;
  const mask = length === 0 ? 0n : ((1n << BigInt(length)) - 1n) << BigInt(128 - length);
  return { network: ipv6ToBigint(m[1] as string) & mask, length };
}

export function inPrefix(addr: bigint, p: { network: bigint; length: number }): boolean {
  const shift = BigInt(128 - p.length);
  return addr >> shift === p.network >> shift;
}
