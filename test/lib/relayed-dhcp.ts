/**
 * A DHCP relay agent's side of the wire, for tests and benches that play many clients behind a relay: one socket on
 * the relay's address, port 67 (RFC 2131 §4.1: a server "sends any return messages to the 'DHCP server' port on the
 * BOOTP relay agent whose address appears in 'giaddr'"), BOOTREQUESTs with giaddr set, replies matched by xid.
 */
import { createSocket, type Socket } from 'node:dgram';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, encodePacket, macToChaddr } from '../../src/dhcp/packet.ts';

/** What a PXE ROM sends (option 60 and 93), so the server's whole boot decision runs. */
export const PXE_BIOS: Partial<DhcpPacket['options']> = {
  vendorClassIdentifier: 'PXEClient:Arch:00000:UNDI:002001',
  clientSystemArchitecture: [0],
};

export class RelayedDhcp {
  private readonly waiting = new Map<number, (p: DhcpPacket) => void>();

  private constructor(
    private readonly socket: Socket,
    readonly giaddr: string,
    readonly server: string,
  ) {
    socket.on('message', (msg) => {
      const d = decodePacket(msg);
      if (d.ok) this.waiting.get(d.packet.xid)?.(d.packet);
    });
  }

  static async open(giaddr: string, server: string): Promise<RelayedDhcp> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => socket.bind({ address: giaddr, port: 67 }, () => r()));
    return new RelayedDhcp(socket, giaddr, server);
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

  /** One message and the reply of type `want`, sent again after `timeoutMs` up to `attempts` times. */
  async exchange(
    mac: string,
    xid: number,
    type: number,
    want: number,
    o: { extra?: Partial<DhcpPacket['options']>; attempts?: number; timeoutMs?: number } = {},
  ): Promise<DhcpPacket | undefined> {
    const bytes = this.packet(mac, xid, type, o.extra);
    for (let attempt = 0; attempt < (o.attempts ?? 1); attempt++) {
      const reply = await new Promise<DhcpPacket | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting.delete(xid);
          resolve(undefined);
        }, o.timeoutMs ?? 1000);
        this.waiting.set(xid, (p) => {
          if (p.options.messageType !== want) return;
          clearTimeout(timer);
          this.waiting.delete(xid);
          resolve(p);
        });
        this.socket.send(bytes, 67, this.server);
      });
      if (reply) return reply;
    }
    return undefined;
  }

  /** DISCOVER → OFFER → REQUEST → ACK; the ACK, or undefined. */
  async dora(
    mac: string,
    xid: number,
    o: { extra?: Partial<DhcpPacket['options']>; attempts?: number; timeoutMs?: number } = {},
  ): Promise<{ offer?: DhcpPacket; ack?: DhcpPacket }> {
    const offer = await this.exchange(mac, xid, MessageType.Discover, MessageType.Offer, o);
    if (!offer) return {};
    const extra = { ...o.extra, requestedIpAddress: offer.yiaddr, serverIdentifier: offer.options.serverIdentifier };
    const ack = await this.exchange(mac, xid, MessageType.Request, MessageType.Ack, { ...o, extra });
    return ack ? { offer, ack } : { offer };
  }

  close(): void {
    this.socket.close();
  }
}
