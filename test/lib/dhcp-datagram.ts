/** A client's DHCPv4 message as the server's intake receives it: encoded, from a client port, at a time. */
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { encodePacket } from '../../src/dhcp/encode.ts';
import type { DhcpOptions } from '../../src/dhcp/option-types.ts';
import { macToChaddr } from '../../src/dhcp/packet.ts';
import type { Datagram } from '../../src/dhcp/server.ts';

const ZERO = '0.0.0.0';

export function v4Datagram(
  options: DhcpOptions,
  o: { from?: string; onProxyPort?: boolean; at?: number; giaddr?: string; xid?: number; mac?: string } = {},
): Datagram {
  const e = encodePacket({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: o.xid ?? 1,
    secs: 0,
    flags: 0,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: o.giaddr ?? ZERO,
    chaddr: macToChaddr(o.mac ?? '52:54:00:00:00:01')!,
    sname: '',
    file: '',
    options,
  });
  assert.ok(e.ok);
  return {
    msg: e.buffer,
    socket: {} as Socket,
    iface: undefined,
    from: { address: o.from ?? ZERO, port: 68 },
    onProxyPort: o.onProxyPort ?? false,
    at: o.at ?? 0,
  };
}
