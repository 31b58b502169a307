/**
 * Ending iPXE's IPv6 wait. iPXE builds of 2019 (Debian's) wait ~13 s for an IPv6 router after every DHCP; a Router
 * Advertisement ends the wait. bootherd answers Router Solicitations on its DHCP interfaces with a bare one:
 * RFC 4861 §4.2 with Router Lifetime 0 ("not a default router"), M = O = 0 and no options, so it configures nothing
 * on any host and only tells the solicitor there is no router to wait for. Where bootherd serves DHCPv6, the RA
 * says M = O = 1 and carries the prefix instead (routerAdvertisement), so hosts run DHCPv6 and find it on-link.
 *
 * Node has no raw sockets: the ICMPv6 socket comes from libc through koffi; a read with a 1 s receive timeout runs
 * on the libuv thread pool, so nothing blocks the event loop and close() is prompt.
 */
import { existsSync, read, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibc, SO_BINDTODEVICE, SOL_SOCKET } from './libc.ts';

const AF_INET6 = 10;
const SOCK_RAW = 3;
const IPPROTO_ICMPV6 = 58;
const IPPROTO_IPV6 = 41;
const SO_RCVTIMEO = 20;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_JOIN_GROUP = 20;
const ROUTER_SOLICITATION = 133;
const ROUTER_ADVERTISEMENT = 134;

/** The bare RA: type, code, checksum (the kernel fills it in for ICMPv6 raw sockets), then all zeros. */
export function bareRouterAdvertisement(): Buffer {
  const ra = Buffer.alloc(16);
  ra[0] = ROUTER_ADVERTISEMENT;
  return ra;
}

/** What the RA tells hosts when bootherd serves DHCPv6 on the link. */
export interface RaContent {
  /** M: "addresses are available via Dynamic Host Configuration Protocol [DHCPv6]" (RFC 4861 §4.2). */
  managed: boolean;
  /** O: "other configuration information is available via DHCPv6". */
  other: boolean;
  /** A Prefix Information option (§4.6.2) with the on-link flag L, and A for SLAAC when the operator wants it. */
  prefix?: { bytes: Buffer; length: number; autonomous: boolean; validSeconds: number; preferredSeconds: number };
}

/**
 * An RA with Router Lifetime 0 still ("not a default router": bootherd routes nothing), the M and O flags, and the
 * prefix the DHCPv6 addresses are on, so that firmware and iPXE run DHCPv6 and reach the server on-link.
 */
export function routerAdvertisement(c: RaContent): Buffer {
  const ra = bareRouterAdvertisement();
  ra[5] = (c.managed ? 0x80 : 0) | (c.other ? 0x40 : 0);
  if (!c.prefix) return ra;
  const pi = Buffer.alloc(32);
  pi[0] = 3; // Type 3: Prefix Information; Length 4 (units of 8 octets)
  pi[1] = 4;
  pi[2] = c.prefix.length;
  pi[3] = 0x80 | (c.prefix.autonomous ? 0x40 : 0);
  pi.writeUInt32BE(c.prefix.validSeconds, 4);
  pi.writeUInt32BE(c.prefix.preferredSeconds, 8);
  c.prefix.bytes.copy(pi, 16, 0, 16);
  return Buffer.concat([ra, pi]);
}

function allNodes(): Buffer {
  // sockaddr_in6 for ff02::1: family, port 0, flowinfo 0, address, scope id 0 (the bound device decides).
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(AF_INET6, 0);
  sa[8] = 0xff;
  sa[9] = 0x02;
  sa[23] = 0x01;
  return sa;
}

/** /proc/net/if_inet6 scope field (hex) of a link-local address (IPV6_ADDR_LINKLOCAL) and the DAD-failed flag. */
const SCOPE_LINK = 0x20;
const IFA_F_DADFAILED = 0x08;

/**
 * Why no RA can leave `iface`, with what to change, or undefined when one can. An ICMPv6 socket opens and binds even
 * where IPv6 is off, so this is asked before claiming to answer. `root` is where /proc is read (a test's temp dir).
 */
export function ipv6Obstacle(iface: string, root = '/'): string | undefined {
  const conf = join(root, 'proc/sys/net/ipv6/conf', iface, 'disable_ipv6');
  let disabled: string;
  try {
    disabled = readFileSync(conf, 'utf8').trim();
  } catch {
    if (!existsSync(join(root, 'proc/sys/net/ipv6'))) {
      return 'the kernel has no IPv6 (booted with ipv6.disable=1?): remove ipv6.disable=1 from its command line';
    }
    return `${iface} has no IPv6 settings (${conf} is missing): is it the name of a network interface?`;
  }
  if (disabled !== '0') {
    return `IPv6 is disabled on ${iface} (disable_ipv6 = ${disabled}): enable it with \`sysctl -w net.ipv6.conf.${iface}.disable_ipv6=0\``;
  }
  // RFC 4861 §4.2: an RA's "Source Address MUST be the link-local address assigned to the interface from which this
  // message is sent"; without one the kernel has no source to send from.
  let table = '';
  try {
    table = readFileSync(join(root, 'proc/net/if_inet6'), 'utf8');
  } catch {
    // No address table at all: the same as no link-local address.
  }
  const linkLocal = table.split('\n').some((line) => {
    const [, , , scope, flags, name] = line.trim().split(/\s+/);
    return (
      name === iface &&
      Number.parseInt(scope ?? '', 16) === SCOPE_LINK &&
      (Number.parseInt(flags ?? '', 16) & IFA_F_DADFAILED) === 0
    );
  });
  if (!linkLocal) {
    return `${iface} has no IPv6 link-local address: check \`ip -6 addr show dev ${iface}\` and set \`sysctl -w net.ipv6.conf.${iface}.addr_gen_mode=0\``;
  }
  return undefined;
}

export interface RouterAdvertiser {
  close(): void;
}

/**
 * Answer Router Solicitations on `iface` with `ra` (default: the bare one); calls `onAnswer` per RA sent. Throws if
 * the socket cannot be made.
 */
export async function answerRouterSolicitations(
  iface: string,
  onAnswer?: () => void,
  ra: Buffer = bareRouterAdvertisement(),
): Promise<RouterAdvertiser> {
  const c = await loadLibc();
  if (!c) throw new Error('libc is not reachable through koffi');
  const fd = c.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (fd < 0) throw new Error(`ICMPv6 socket: errno ${c.errno()} (needs root or CAP_NET_RAW)`);
  const int = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
  const timeout = Buffer.alloc(16); // struct timeval { 1 s, 0 µs }
  timeout.writeBigInt64LE(1n, 0);
  const dev = Buffer.from(`${iface}\0`);
  // Solicitations go to ff02::2, all-routers: a host that is not a router has not joined it, so join it here.
  const join = Buffer.alloc(20); // struct ipv6_mreq { in6_addr ff02::2; int ifindex }
  join[0] = 0xff;
  join[1] = 0x02;
  join[15] = 0x02;
  join.writeInt32LE(Number(readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim()), 16);
  for (const [level, name, value] of [
    [SOL_SOCKET, SO_BINDTODEVICE, dev],
    [SOL_SOCKET, SO_RCVTIMEO, timeout],
    // RFC 4861 §6.1.2: a receiver drops an RA whose hop limit is not 255.
    [IPPROTO_IPV6, IPV6_MULTICAST_HOPS, int(255)],
    [IPPROTO_IPV6, IPV6_JOIN_GROUP, join],
  ] as const) {
    if (c.setsockopt(fd, level, name, value, value.length) !== 0) {
      const errno = c.errno();
      c.close(fd);
      throw new Error(`ICMPv6 socket option ${name} on ${iface}: errno ${errno}`);
    }
  }
  const dest = allNodes();
  let closed = false;
  const buf = Buffer.alloc(1500);
  const loop = () => {
    if (closed) return;
    read(fd, buf, 0, buf.length, null, (err, n) => {
      if (closed) return;
      // EAGAIN every second (the receive timeout) is the loop's chance to notice close().
      if (!err && n > 0 && buf[0] === ROUTER_SOLICITATION) {
        if (c.sendto(fd, ra, ra.length, 0, dest, dest.length) === ra.length) onAnswer?.();
      }
      loop();
    });
  };
  loop();
  return {
    close() {
      if (closed) return;
      closed = true;
      // Let a read in flight return (at most the 1 s timeout) before the descriptor goes away.
      setTimeout(() => c.close(fd), 1100).unref();
    },
  };
}
