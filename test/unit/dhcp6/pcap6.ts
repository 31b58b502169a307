/**
 * The UDP-over-IPv6 datagrams of a classic libpcap file (Ethernet, no IPv6 extension headers: what firmware, iPXE
 * and bootherd send for DHCPv6), for golden codec tests. test/lib/pcap.ts reads the IPv4 ones.
 */
import { readFileSync } from 'node:fs';
import { bytesToIpv6 } from '../../../src/net/ipv6.ts';

export interface Udp6Datagram {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

/** The ICMPv6 messages of the same captures (Router Solicitations and Advertisements). */
export function readIcmp6(path: string): { src: string; dst: string; message: Buffer }[] {
  return frames(path)
    .filter((ip) => ip[6] === 58)
    .map((ip) => ({
      src: bytesToIpv6(ip.subarray(8, 24)),
      dst: bytesToIpv6(ip.subarray(24, 40)),
      message: Buffer.from(ip.subarray(40, 40 + ip.readUInt16BE(4))),
    }));
}

/** The IPv6 packets (from the IPv6 header on) of a pcap's Ethernet frames. */
function frames(path: string): Buffer[] {
  const buf = readFileSync(path);
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${path}: not a little-endian microsecond pcap`);
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    if (frame.readUInt16BE(12) === 0x86dd) out.push(frame.subarray(14));
  }
  return out;
}

export function readPcap6(path: string): Udp6Datagram[] {
  // Next header UDP with no extension headers: what firmware, iPXE and bootherd send for DHCPv6.
  return frames(path)
    .filter((ip) => ip[6] === 17)
    .map((ip) => {
      const udp = ip.subarray(40, 40 + ip.readUInt16BE(4));
      return {
        src: bytesToIpv6(ip.subarray(8, 24)),
        dst: bytesToIpv6(ip.subarray(24, 40)),
        sport: udp.readUInt16BE(0),
        dport: udp.readUInt16BE(2),
        payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))),
      };
    });
}
