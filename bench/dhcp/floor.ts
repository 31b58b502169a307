/**
 * BENCH_FLOOR=1: a bare DHCPv4 responder beside bootherd and Kea, to show where one Node event loop's ceiling is on
 * this machine for perfdhcp's DORA through a relay, apart from bootherd's own work. It reads option 53 out of the
 * datagram, answers a DISCOVER with an OFFER and a REQUEST with an ACK of the client's address (one per chaddr, handed
 * out in order), addressed to the relay (giaddr, port 67, RFC 2131 §4.1), and does nothing else: no validation
 * beyond the BOOTP header and cookie, no boot decision, no event, no lease written anywhere.
 * Run by run.ts in the floor's own namespace: `node --import tsx bench/dhcp/floor.ts <server address>`.
 */
import { createSocket } from 'node:dgram';

const MAGIC_COOKIE = 0x63825363;
/** RFC 2132 §9.6 message types. */
const DISCOVER = 1;
const OFFER = 2;
const REQUEST = 3;
const ACK = 5;
/** The bench's pool (run.ts: POOL), from its first address. */
const FIRST = ipv4('198.18.0.10');
const MASK = ipv4('255.254.0.0');

function ipv4(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** Option 53 of a BOOTREQUEST with the magic cookie, or undefined. */
function messageType(m: Buffer): number | undefined {
  if (m.length < 244 || m[0] !== 1 || m.readUInt32BE(236) !== MAGIC_COOKIE) return undefined;
  for (let i = 240; i < m.length; ) {
    const code = m[i]!;
    if (code === 255) return undefined;
    if (code === 0) {
      i++;
      continue;
    }
    const len = m[i + 1] ?? 0;
    if (code === 53 && len === 1) return m[i + 2];
    i += 2 + len;
  }
  return undefined;
}

export function floorServer(server: string): void {
  const serverIp = ipv4(server);
  const given = new Map<string, number>();
  let next = FIRST;
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (m) => {
    const type = messageType(m);
    if (type !== DISCOVER && type !== REQUEST) return;
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
    r[o++] = type === DISCOVER ? OFFER : ACK;
    for (const [code, value] of [
      [54, serverIp],
      [51, 3600],
      [1, MASK],
    ] as const) {
      r[o++] = code;
      r[o++] = 4;
      r.writeUInt32BE(value, o);
      o += 4;
    }
    r[o] = 255;
    const giaddr = m.readUInt32BE(24);
    const to = giaddr ? `${giaddr >>> 24}.${(giaddr >> 16) & 255}.${(giaddr >> 8) & 255}.${giaddr & 255}` : undefined;
    if (to) socket.send(r, 67, to);
  });
  socket.bind(67);
}

if (process.argv[1]?.endsWith('floor.ts')) floorServer(process.argv[2] ?? '192.0.2.1');
