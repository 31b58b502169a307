/** The MAC inside a DHCPv6 DUID or an IPv6 EUI-64 interface identifier. */
import { isIPv6 } from 'node:net';
import { macFromBytes } from '../model/identity.ts';
import { ipv6ToBytes } from '../net/ipv6.ts';

/**
 * The MAC in a DUID: RFC 8415 §11.2 DUID-LLT (type 1: hardware type, time, link-layer address) and §11.4 DUID-LL
 * (type 3: hardware type, link-layer address), hardware type 1 (Ethernet). Other DUIDs carry none.
 */
export function macFromDuid(duid: Buffer): string | undefined {
  const type = duid.readUInt16BE(0);
  if (type === 1 && duid.length === 14 && duid.readUInt16BE(2) === 1) return macFromBytes(duid.subarray(8, 14));
  if (type === 3 && duid.length === 10 && duid.readUInt16BE(2) === 1) return macFromBytes(duid.subarray(4, 10));
  return undefined;
}

/** The MAC behind a modified EUI-64 interface identifier (RFC 4291 App. A: ff:fe in the middle, U/L bit flipped). */
export function macFromEui64(address: string): string | undefined {
  if (!isIPv6(address)) return undefined;
  const b = ipv6ToBytes(address.split('%')[0] as string);
  if (b[11] !== 0xff || b[12] !== 0xfe) return undefined;
  return macFromBytes(
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
