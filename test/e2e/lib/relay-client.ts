/**
 * A DHCP relay agent with many clients behind it, for crash tests: it runs DORA for `count` MACs (a few at a time),
 * retrying each step, and prints `ACK <mac> <ip>` for every DHCPACK it receives. Run inside a client namespace:
 *   node --import tsx relay-client.ts <giaddr> <server> <count> <macPrefix>
 */
import { createSocket } from 'node:dgram';
import { MessageType } from '../../../src/dhcp/options.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, encodePacket, macToChaddr } from '../../../src/dhcp/packet.ts';

const [giaddr = '', server = '', countArg = '100', prefix = '02:10:00'] = process.argv.slice(2);
const count = Number(countArg);
const socket = createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => socket.bind({ address: giaddr, port: 67 }, () => r()));

const waiting = new Map<number, (p: DhcpPacket) => void>();
socket.on('message', (msg) => {
  const d = decodePacket(msg);
  if (d.ok) waiting.get(d.packet.xid)?.(d.packet);
});

function packet(mac: string, xid: number, type: number, extra: Partial<DhcpPacket['options']> = {}): Buffer {
  const p: DhcpPacket = {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr,
    chaddr: macToChaddr(mac) ?? Buffer.alloc(16),
    sname: '',
    file: '',
    options: { messageType: type, ...extra },
  };
  const e = encodePacket(p);
  if (!e.ok) throw new Error(e.error.message);
  return e.buffer;
}

async function exchange(
  mac: string,
  xid: number,
  type: number,
  want: number,
  extra = {},
): Promise<DhcpPacket | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const reply = await new Promise<DhcpPacket | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(xid);
        resolve(undefined);
      }, 500);
      waiting.set(xid, (p) => {
        if (p.options.messageType !== want) return;
        clearTimeout(timer);
        waiting.delete(xid);
        resolve(p);
      });
      socket.send(packet(mac, xid, type, extra), 67, server);
    });
    if (reply) return reply;
  }
  return undefined;
}

let next = 0;
async function worker(): Promise<void> {
  while (next < count) {
    const n = next++;
    const mac = `${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
    const xid = (0x5000_0000 + n) >>> 0;
    const offer = await exchange(mac, xid, MessageType.Discover, MessageType.Offer);
    if (!offer) continue;
    const ack = await exchange(mac, xid, MessageType.Request, MessageType.Ack, {
      requestedIpAddress: offer.yiaddr,
      serverIdentifier: offer.options.serverIdentifier,
    });
    if (ack) process.stdout.write(`ACK ${mac} ${ack.yiaddr}\n`);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
process.stdout.write('DONE\n');
socket.close();
