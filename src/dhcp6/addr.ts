/** IPv6 address math for DHCPv6: text ↔ 16 bytes ↔ bigint, prefixes, and the MAC inside a DUID or an EUI-64. */
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

const mac = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/**
 * The MAC in a DUID: RFC 8415 §11.2 DUID-LLT (type 1: hardware type, time, link-layer address) and §11.4 DUID-LL
 * (type 3: hardware type, link-layer address), hardware type 1 (Ethernet). Other DUIDs carry none.
 */
export function macFromDuid(duid: Buffer): string | undefined {
  const type = duid.readUInt16BE(0);
  if (type === 1 && duid.length === 14 && duid.readUInt16BE(2) === 1) return mac(duid.subarray(8, 14));
  if (type === 3 && duid.length === 10 && duid.readUInt16BE(2) === 1) return mac(duid.subarray(4, 10));
  return undefined;
}

/** The MAC behind a modified EUI-64 interface identifier (RFC 4291 App. A: ff:fe in the middle, U/L bit flipped). */
export function macFromEui64(address: string): string | undefined {
  if (!isIPv6(address)) return undefined;
  const b = ipv6ToBytes(address.split('%')[0] as string);
  if (b[11] !== 0xff || b[12] !== 0xfe) return undefined;
  return mac(
    Buffer.from([
      (b[8] as number) ^ 0x02,
      b[9] as number,
      b[10] as number,
      b[13] as number,
      b[14] as number,
      b[15] as number,
    ]),
  );
}
