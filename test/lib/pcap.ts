/**
 * Minimal reader for classic libpcap files (not pcapng): both byte orders, microsecond and nanosecond
 * timestamps, link type Ethernet (optionally 802.1Q-tagged). Returns the unfragmented IPv4/UDP datagrams.
 */
import { readFileSync } from 'node:fs';

export interface UdpDatagram {
  /** Capture time, seconds since the epoch (fractional). */
  ts: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_UDP = 17;

export function readPcapFile(path: string): UdpDatagram[] {
  return readPcap(readFileSync(path));
}

export function readPcap(buf: Buffer): UdpDatagram[] {
  if (buf.length < 24) throw new Error('pcap: file shorter than its global header');
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) {
    le = false;
    nano = magicBE === 0xa1b23c4d;
  } else {
    throw new Error(`pcap: unknown magic 0x${magicBE.toString(16)} (pcapng is not supported)`);
  }
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const linktype = u32(20) & 0x0fffffff;
  if (linktype !== LINKTYPE_ETHERNET) throw new Error(`pcap: link type ${linktype} is not Ethernet`);

  const out: UdpDatagram[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const start = off + 16;
    if (start + inclLen > buf.length) throw new Error(`pcap: record at ${off} runs past the end of the file`);
    const frame = buf.subarray(start, start + inclLen);
    off = start + inclLen;
    const udp = parseEthernetUdp(frame);
    if (udp) out.push({ ts: sec + frac / (nano ? 1e9 : 1e6), ...udp });
  }
  return out;
}

function parseEthernetUdp(frame: Buffer): Omit<UdpDatagram, 'ts'> | undefined {
  let off = 12;
  if (frame.length < off + 2) return undefined;
  let ethertype = frame.readUInt16BE(off);
  off += 2;
  if (ethertype === ETHERTYPE_VLAN) {
    if (frame.length < off + 4) return undefined;
    ethertype = frame.readUInt16BE(off + 2);
    off += 4;
  }
  if (ethertype !== ETHERTYPE_IPV4 || frame.length < off + 20) return undefined;
  const ip = frame.subarray(off);
  const ihl = (ip[0]! & 0x0f) * 4;
  const totalLength = ip.readUInt16BE(2);
  const fragment = ip.readUInt16BE(6);
  // Only whole datagrams: MF set or a fragment offset means a piece of one.
  if (ip[0]! >> 4 !== 4 || ihl < 20 || ip[9] !== IPPROTO_UDP || (fragment & 0x3fff) !== 0) return undefined;
  if (totalLength > ip.length || totalLength < ihl + 8) return undefined;
  const udp = ip.subarray(ihl, totalLength);
  const udpLength = udp.readUInt16BE(4);
  if (udpLength < 8 || udpLength > udp.length) return undefined;
  return {
    src: ip.subarray(12, 16).join('.'),
    dst: ip.subarray(16, 20).join('.'),
    sport: udp.readUInt16BE(0),
    dport: udp.readUInt16BE(2),
    payload: Buffer.from(udp.subarray(8, udpLength)),
  };
}
