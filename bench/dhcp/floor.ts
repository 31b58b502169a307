/**
 * BENCH_FLOOR=1: a bare DHCPv4 responder beside bootherd and Kea, to show where one Node event loop's ceiling is on
 * this machine for perfdhcp's DORA through a relay, apart from bootherd's own work. It reads option 53 out of the
 * datagram as bootherd's intake does (peekMessageType, without decoding), answers a DISCOVER with an OFFER and a
 * REQUEST with an ACK of the client's address (one per chaddr, handed out in order), addressed to the relay (giaddr, port 67, RFC 2131 §4.1), and does nothing else: no validation
 * beyond the BOOTP header and cookie, no boot decision, no event, no lease written anywhere.
 * Run by run.ts in the floor's own namespace: `node --import tsx bench/dhcp/floor.ts <server> <pool's first> <mask>`.
 */
import { createSocket } from 'node:dgram';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { MAGIC_COOKIE, peekMessageType } from '../../src/dhcp/packet.ts';
import { ipv4ToNumber, ipv4ToString } from '../../src/dhcp/wire.ts';

/** Answers from `server`, handing out addresses from `first` on (the bench's pool: run.ts POOL) with `mask`. */
export function floorServer(server: string, first: string, mask: string): void {
  const [serverIp, firstIp, maskIp] = [server, first, mask].map((a) => {
    const n = ipv4ToNumber(a);
    if (n === undefined) throw new Error(`not an IPv4 address: ${a}`);
    return n;
  }) as [number, number, number];
  const given = new Map<string, number>();
  let next = firstIp;
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (m) => {
    if (m[0] !== 1) return; // a BOOTREQUEST
    const type = peekMessageType(m);
    if (type !== MessageType.Discover && type !== MessageType.Request) return;
    const chaddr = m.toString('hex', 28, 34);
    let yiaddr = given.get(chaddr);
    if (yiaddr === undefined) {
      yiaddr = next++;
      given.set(chaddr, yiaddr);
    }
    const r = Buffer.alloc(300);
    r[0] = 2; // BOOTREPLY
    r[1] = 1;
    r[2] = 6;
    m.copy(r, 4, 4, 8); // xid
    m.copy(r, 10, 10, 12); // flags
    r.writeUInt32BE(yiaddr, 16);
    r.writeUInt32BE(serverIp, 20);
    m.copy(r, 24, 24, 44); // giaddr, chaddr
    r.writeUInt32BE(MAGIC_COOKIE, 236);
    let o = 240;
    r[o++] = 53;
    r[o++] = 1;
    r[o++] = type === MessageType.Discover ? MessageType.Offer : MessageType.Ack;
    for (const [code, value] of [
      [54, serverIp],
      [51, 3600],
      [1, maskIp],
    ] as const) {
      r[o++] = code;
      r[o++] = 4;
      r.writeUInt32BE(value, o);
      o += 4;
    }
    r[o] = 255;
    if (m.readUInt32BE(24)) socket.send(r, 67, ipv4ToString(m, 24)); // relayed: to the relay's giaddr, port 67
  });
  socket.bind(67);
}

if (process.argv[1]?.endsWith('floor.ts')) {
  const [server, first, mask] = process.argv.slice(2);
  if (!server || !first || !mask) throw new Error('usage: floor.ts <server> <first address> <mask>');
  floorServer(server, first, mask);
}
