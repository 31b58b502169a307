/**
 * A DHCP relay agent's side of the wire, for tests and benches that play many clients behind a relay: one socket on
 * the relay's address, port 67 (RFC 2131 §4.1: a server "sends any return messages to the 'DHCP server' port on the
 * BOOTP relay agent whose address appears in 'giaddr'"), BOOTREQUESTs with giaddr set, replies matched by xid. A relay
 * configured with several servers, as relays are for redundancy, forwards every client message to each of them.
 *
 * Run as a script inside a client namespace, it is such a relay with many clients behind it:
 *   node --import tsx relayed-dhcp.ts <giaddr> <server,server,...> dora <count> <macPrefix> <pauseMs>
 *   node --import tsx relayed-dhcp.ts <giaddr> <server,server,...> reboot <mac=ip,mac=ip,...>
 * `dora`: `lease` for each MAC; `reboot`: `reboot` for each address. Six clients at a time, each worker pausing
 * `pauseMs` after a client. Prints `ACK <mac> <ip> <server> <epoch ms>` for every DHCPACK, `FAILED <mac>` for a
 * client that got none, and `DONE` at the end.
 */
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { encodePacket } from '../../src/dhcp/encode.ts';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, macToChaddr } from '../../src/dhcp/packet.ts';

/** What a PXE ROM sends (option 60 and 93), so the server's whole boot decision runs. */
export const PXE_BIOS: Partial<DhcpPacket['options']> = {
  vendorClassIdentifier: 'PXEClient:Arch:00000:UNDI:002001',
  clientSystemArchitecture: [0],
};

export interface ExchangeOptions {
  extra?: Partial<DhcpPacket['options']>;
  attempts?: number;
  timeoutMs?: number;
  /**
   * A DHCPNAK ends the attempt at once (as no reply) rather than being ignored: RFC 2131 §3.1 "If the client receives
   * a DHCPNAK message, the client restarts the configuration process", so it waits no longer.
   */
  endOnNak?: boolean;
}

/** `<prefix>:xx:xx:xx` with client number `n` in the last three bytes. */
export function clientMac(prefix: string, n: number): string {
  return `${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
}

export class RelayedDhcp {
  private readonly waiting = new Map<number, (p: DhcpPacket) => void>();

  private constructor(
    private readonly socket: Socket,
    readonly giaddr: string,
    readonly servers: readonly string[],
  ) {
    socket.on('message', (msg) => {
      const d = decodePacket(msg);
      if (d.ok) this.waiting.get(d.packet.xid)?.(d.packet);
    });
  }

  static async open(giaddr: string, ...servers: string[]): Promise<RelayedDhcp> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => socket.bind({ address: giaddr, port: 67 }, () => r()));
    return new RelayedDhcp(socket, giaddr, servers);
  }

  packet(mac: string, xid: number, type: number, extra: Partial<DhcpPacket['options']> = {}): Buffer {
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
      giaddr: this.giaddr,
      chaddr: macToChaddr(mac) ?? Buffer.alloc(16),
      sname: '',
      file: '',
      options: { messageType: type, ...extra },
    });
    if (!e.ok) throw new Error(e.error.message);
    return e.buffer;
  }

  /** One message (to every server) and the reply of type `want`, sent again after `timeoutMs` up to `attempts` times. */
  async exchange(
    mac: string,
    xid: number,
    type: number,
    want: number,
    o: ExchangeOptions = {},
  ): Promise<DhcpPacket | undefined> {
    const bytes = this.packet(mac, xid, type, o.extra);
    for (let attempt = 0; attempt < (o.attempts ?? 1); attempt++) {
      const reply = await new Promise<DhcpPacket | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting.delete(xid);
          resolve(undefined);
        }, o.timeoutMs ?? 1000);
        this.waiting.set(xid, (p) => {
          const nak = o.endOnNak === true && p.options.messageType === MessageType.Nak;
          if (p.options.messageType !== want && !nak) return;
          clearTimeout(timer);
          this.waiting.delete(xid);
          resolve(nak ? undefined : p);
        });
        for (const server of this.servers) this.socket.send(bytes, 67, server);
      });
      if (reply) return reply;
    }
    return undefined;
  }

  /** DISCOVER → OFFER → REQUEST → ACK; the ACK, or undefined. */
  async dora(mac: string, xid: number, o: ExchangeOptions = {}): Promise<{ offer?: DhcpPacket; ack?: DhcpPacket }> {
    const offer = await this.exchange(mac, xid, MessageType.Discover, MessageType.Offer, o);
    if (!offer) return {};
    const extra = { ...o.extra, requestedIpAddress: offer.yiaddr, serverIdentifier: offer.options.serverIdentifier };
    const ack = await this.exchange(mac, xid, MessageType.Request, MessageType.Ack, { ...o, extra });
    return ack ? { offer, ack } : { offer };
  }

  /**
   * A client that keeps at it for `budgetMs`: DISCOVER (again every second) → the first OFFER → REQUEST naming its
   * server, up to 3 times a second apart; no ACK: DISCOVER again. A NAK ends a wait at once. The ACK, or undefined.
   */
  async lease(mac: string, xid: number, budgetMs: number): Promise<DhcpPacket | undefined> {
    const end = Date.now() + budgetMs;
    while (Date.now() < end) {
      const offer = await this.exchange(mac, xid, MessageType.Discover, MessageType.Offer, { endOnNak: true });
      if (!offer) continue;
      const extra = { requestedIpAddress: offer.yiaddr, serverIdentifier: offer.options.serverIdentifier };
      for (let i = 0; i < 3 && Date.now() < end; i++) {
        const ack = await this.exchange(mac, xid, MessageType.Request, MessageType.Ack, { extra, endOnNak: true });
        if (ack) return ack;
      }
    }
    return undefined;
  }

  /**
   * RFC 2131 §4.3.2 INIT-REBOOT: a REQUEST for `ip` naming no server, sent every second (at once after a NAK) for
   * `budgetMs`. The ACK, or undefined.
   */
  async reboot(mac: string, ip: string, xid: number, budgetMs: number): Promise<DhcpPacket | undefined> {
    const extra = { requestedIpAddress: ip };
    for (const end = Date.now() + budgetMs; Date.now() < end; ) {
      const ack = await this.exchange(mac, xid, MessageType.Request, MessageType.Ack, { extra, endOnNak: true });
      if (ack) return ack;
    }
    return undefined;
  }

  close(): void {
    this.socket.close();
  }
}

/** The script (see the top of this file). `secs` is always 0, so only the server registry moves a dead server's
 * clients, never their waiting. Bounded: 45 s per client. */
async function main(args: string[]): Promise<void> {
  const [giaddr = '', serverList = '', mode = 'dora', arg = '', prefix = '02:30:00', pauseArg = '0'] = args;
  const budgetMs = 45_000;
  const relay = await RelayedDhcp.open(giaddr, ...serverList.split(','));
  const report = (mac: string, ack: DhcpPacket | undefined): void => {
    process.stdout.write(
      ack ? `ACK ${mac} ${ack.yiaddr} ${ack.options.serverIdentifier} ${Date.now()}\n` : `FAILED ${mac}\n`,
    );
  };
  const jobs: (() => Promise<void>)[] =
    mode === 'reboot'
      ? arg.split(',').map((pair, i) => {
          const [mac = '', ip = ''] = pair.split('=');
          return async () => report(mac, await relay.reboot(mac, ip, (0x6b00_0000 + i) >>> 0, budgetMs));
        })
      : Array.from({ length: Number(arg) }, (_, n) => {
          const mac = clientMac(prefix, n);
          const xid = (0x6a00_0000 + (Number.parseInt(prefix.replace(/:/g, ''), 16) & 0xff) * 65536 + n) >>> 0;
          return async () => report(mac, await relay.lease(mac, xid, budgetMs));
        });
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < jobs.length) {
        await jobs[next++]!();
        await sleep(Number(pauseArg));
      }
    }),
  );
  process.stdout.write('DONE\n');
  relay.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
