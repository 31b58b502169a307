/**
 * A DHCP relay agent configured with several servers, as relays are for redundancy (each client message forwarded to
 * every server), playing many clients behind it. Run inside a client namespace:
 *   node --import tsx fleet-relay-client.ts <giaddr> <server,server,...> dora <count> <macPrefix> <pauseMs>
 *   node --import tsx fleet-relay-client.ts <giaddr> <server,server,...> reboot <mac=ip,mac=ip,...>
 * `dora`: DISCOVER (retransmitted every second, to every server) → the first OFFER → REQUEST naming its server; no
 * ACK after 3 tries: DISCOVER again. `reboot`: INIT-REBOOT REQUESTs (no server identifier) for each address. `secs` is
 * always 0, so only the server registry moves a dead server's clients, never their waiting. Prints
 * `ACK <mac> <ip> <server> <epoch ms>` for every DHCPACK and `DONE` at the end; bounded: 45 s per client.
 */
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, encodePacket, macToChaddr } from '../../../src/dhcp/packet.ts';

const [giaddr = '', serverList = '', mode = 'dora', arg = '', prefix = '02:30:00', pauseArg = '0'] =
  process.argv.slice(2);
const servers = serverList.split(',');
const CLIENT_BUDGET_MS = 45_000;
const WORKERS = 6;

const socket = createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => socket.bind({ address: giaddr, port: 67 }, () => r()));
const waiting = new Map<number, (p: DhcpPacket) => void>();
socket.on('message', (msg) => {
  const d = decodePacket(msg);
  if (d.ok) waiting.get(d.packet.xid)?.(d.packet);
});

function bytes(mac: string, xid: number, options: DhcpPacket['options']): Buffer {
  const e = encodePacket({
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
    options,
  });
  if (!e.ok) throw new Error(e.error.message);
  return e.buffer;
}

/** Sends to every server, waits up to a second for a reply of type `want`. */
function ask(buf: Buffer, xid: number, want: number): Promise<DhcpPacket | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(xid);
      resolve(undefined);
    }, 1000);
    waiting.set(xid, (p) => {
      if (p.options.messageType !== want && p.options.messageType !== MessageType.Nak) return;
      clearTimeout(timer);
      waiting.delete(xid);
      resolve(p.options.messageType === want ? p : undefined);
    });
    for (const s of servers) socket.send(buf, 67, s);
  });
}

const acked = (mac: string, ack: DhcpPacket): void => {
  process.stdout.write(`ACK ${mac} ${ack.yiaddr} ${ack.options.serverIdentifier} ${Date.now()}\n`);
};

async function dora(mac: string, xid: number): Promise<void> {
  const end = Date.now() + CLIENT_BUDGET_MS;
  while (Date.now() < end) {
    const offer = await ask(bytes(mac, xid, { messageType: MessageType.Discover }), xid, MessageType.Offer);
    if (!offer) continue;
    const request = bytes(mac, xid, {
      messageType: MessageType.Request,
      requestedIpAddress: offer.yiaddr,
      serverIdentifier: offer.options.serverIdentifier,
    });
    for (let i = 0; i < 3 && Date.now() < end; i++) {
      const ack = await ask(request, xid, MessageType.Ack);
      if (ack) return acked(mac, ack);
    }
  }
  process.stdout.write(`FAILED ${mac}\n`);
}

async function reboot(mac: string, ip: string, xid: number): Promise<void> {
  const request = bytes(mac, xid, { messageType: MessageType.Request, requestedIpAddress: ip });
  for (const end = Date.now() + CLIENT_BUDGET_MS; Date.now() < end; ) {
    const ack = await ask(request, xid, MessageType.Ack);
    if (ack) return acked(mac, ack);
  }
  process.stdout.write(`FAILED ${mac}\n`);
}

const jobs: (() => Promise<void>)[] =
  mode === 'reboot'
    ? arg.split(',').map((pair, i) => {
        const [mac = '', ip = ''] = pair.split('=');
        return () => reboot(mac, ip, (0x6b00_0000 + i) >>> 0);
      })
    : Array.from({ length: Number(arg) }, (_, n) => {
        const mac = `${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
        return () =>
          dora(mac, (0x6a00_0000 + (Number.parseInt(prefix.replace(/:/g, ''), 16) & 0xff) * 65536 + n) >>> 0);
      });
let next = 0;
await Promise.all(
  Array.from({ length: WORKERS }, async () => {
    while (next < jobs.length) {
      await jobs[next++]!();
      await sleep(Number(pauseArg));
    }
  }),
);
process.stdout.write('DONE\n');
socket.close();
