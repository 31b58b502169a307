/**
 * The DHCPv6 server socket: one UDP/IPv6 socket on [::]:547 that has joined All_DHCP_Relay_Agents_and_Servers
 * (ff02::1:2) on each served interface. RFC 8415 §7.1: "A link-scoped multicast address used by a client to
 * communicate with neighboring (i.e., on-link) relay agents and servers"; the client sends from its link-local
 * address. Node reports a link-local source with its zone (`fe80::…%br0`), which names the interface the message came
 * in on, and a reply sent to that scoped address leaves by the same interface: no SO_BINDTODEVICE needed.
 */

import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

const ALL_DHCP_SERVERS = 'ff02::1:2';

export async function openDhcp6Socket(interfaces: string[], port: number): Promise<Socket> {
  for (const iface of interfaces) {
    if (!existsSync(`/sys/class/net/${iface}`)) throw new Error(`DHCPv6: no network interface "${iface}" on this host`);
  }
  // ipv6Only: the IPv4 DHCP server owns IPv4; reuseAddr off, so a second server on this host fails to start.
  const socket = createSocket({ type: 'udp6', ipv6Only: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: '::', port }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  for (const iface of interfaces) {
    try {
      socket.addMembership(ALL_DHCP_SERVERS, `::%${iface}`);
    } catch (err) {
      socket.close();
      throw new Error(`DHCPv6: cannot join ${ALL_DHCP_SERVERS} on ${iface}: ${(err as Error).message}`);
    }
  }
  return socket;
}

/** The interface of a scoped link-local address (`fe80::1%br0` → `br0`), or undefined. */
export function zoneOf(address: string): string | undefined {
  const at = address.indexOf('%');
  return at < 0 ? undefined : address.slice(at + 1);
}

const cache = new Map<string, { at: number; address: string | undefined }>();

/**
 * The first global IPv6 address of an interface: where the boot file URLs point. Node lists only interfaces that are
 * up with carrier, so fall back to iproute2 (as udp4.ts does). Cached for a few seconds: asked for every message.
 */
export function interfaceAddress6(iface: string): string | undefined {
  const hit = cache.get(iface);
  if (hit && Date.now() - hit.at < 5000) return hit.address;
  const global = (a: string) => !a.toLowerCase().startsWith('fe80:');
  let address = networkInterfaces()[iface]?.find(
    (a) => a.family === 'IPv6' && !a.internal && global(a.address),
  )?.address;
  if (!address) {
    try {
      const out = execFileSync('ip', ['-j', '-6', 'addr', 'show', 'dev', iface, 'scope', 'global'], {
        encoding: 'utf8',
        timeout: 2000,
      });
      const parsed = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
      address = parsed[0]?.addr_info?.find((a) => a.local && global(a.local))?.local;
    } catch {
      address = undefined;
    }
  }
  cache.set(iface, { at: Date.now(), address });
  return address;
}
