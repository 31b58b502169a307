/** DHCPv6 client messages for tests that drive the server's loop (server.ts `dhcp6Loop`) without a socket. */
import type { Subnet6Config } from '../../src/config/dhcp6.ts';
import { type Dhcp6Options, encodeMessage } from '../../src/dhcp6/packet.ts';

/** A documentation prefix with a range of 256 addresses, for the loop's pool. */
export const TEST_SUBNET6: Subnet6Config = {
  prefix: '2001:db8::/64',
  range: ['2001:db8::100', '2001:db8::1ff'],
  preferredSeconds: 3600,
  validSeconds: 7200,
};

/**
 * Message `type` from client `n` (one octet) on `iface`: a DUID-LL of its MAC 52:54:00:00:<group>:<n> as Client
 * Identifier (how firmware names itself), one empty IA_NA, sent from the matching link-local address; `options` adds
 * or overrides (our Server Identifier, Rapid Commit).
 */
export function clientMessage(
  type: number,
  n: number,
  iface: string,
  options: Partial<Dhcp6Options> = {},
  group = 1,
): { msg: Buffer; from: string; port: number; at: number } {
  const mac = Buffer.from([0x52, 0x54, 0, 0, group, n]);
  const msg = encodeMessage({
    type,
    xid: n,
    options: {
      clientId: Buffer.concat([Buffer.from([0, 3, 0, 1]), mac]),
      iaNa: [{ iaid: 1, t1: 0, t2: 0, addresses: [] }],
      ...options,
    },
  });
  const host = `${group.toString(16)}${n.toString(16).padStart(2, '0')}`;
  return { msg, from: `fe80::5054:ff:fe00:${host}%${iface}`, port: 546, at: performance.now() };
}
