/**
 * Per-interface UDP/IPv4 sockets (DHCP's). A DHCP server must know which interface a broadcast came in on (to pick
 * the subnet and its own address) and must send each reply out of that same interface. Linux gives that with one
 * socket per interface bound to it with SO_BINDTODEVICE; Node's dgram cannot set that option, so the socket is made
 * through libc (koffi) and handed to dgram by file descriptor. Where that is not possible, one socket on 0.0.0.0
 * serves every interface.
 */
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { BpfInsn } from './libc.ts';
import { bindThroughLibc, bindToDevice, broadcast, isBound, receiveBuffer } from './udp-libc.ts';

/** Room for a burst of requests while the loop waits on a lease commit's fsync. */
const RECEIVE_BUFFER = 4 * 1024 * 1024;

export interface DhcpSocket {
  /** The interface this socket is bound to, or undefined for the portable fallback. */
  iface?: string;
  socket: Socket;
  /** Attaches a classic BPF socket filter, or detaches it when `program` is empty; false if the kernel refused.
   * Absent on the portable fallback. */
  filter?(program: readonly BpfInsn[]): boolean;
}

/**
 * A socket bound to `iface` and `port` on 0.0.0.0 (broadcasts reach only a wildcard bind), or an Error saying why
 * not. No SO_REUSEADDR: sockets on different devices do not conflict, and without it a second bootherd (or another
 * DHCP server) on the same interface fails to start instead of silently sharing the port and the pool.
 */
async function boundToDevice(iface: string, port: number): Promise<DhcpSocket | Error> {
  const made = await bindThroughLibc('0.0.0.0', port, [
    broadcast(),
    bindToDevice(iface),
    receiveBuffer(RECEIVE_BUFFER),
  ]);
  if (isBound(made)) {
    const { socket, fd, libc } = made;
    return { iface, socket, filter: (program) => libc.socketFilter(fd, program) === 0 };
  }
  const { failed, errno } = made;
  // EACCES/EPERM: ports below 1024 and SO_BINDTODEVICE need root or CAP_NET_BIND_SERVICE/CAP_NET_RAW.
  return Object.assign(new Error(`${failed} on ${iface}${errno ? `: errno ${errno}` : ''}`), {
    code: errno === 13 || errno === 1 ? 'EACCES' : errno === 98 ? 'EADDRINUSE' : 'EOTHER',
  });
}

/**
 * One socket per interface on `port`, or one wildcard socket when `interfaces` is empty or SO_BINDTODEVICE is not
 * available (then `warn` says so: replies may leave by the wrong interface on a multi-homed host).
 */
export async function openDhcpSockets(
  interfaces: string[],
  port: number,
  warn: (m: string) => void,
): Promise<DhcpSocket[]> {
  const out: DhcpSocket[] = [];
  if (interfaces.length) {
    for (const iface of interfaces) {
      if (!existsSync(`/sys/class/net/${iface}`)) throw new Error(`DHCP: no network interface "${iface}" on this host`);
      const s = await boundToDevice(iface, port);
      if (s instanceof Error) {
        if (
          (s as Error & { code?: string }).code === 'EACCES' ||
          (s as Error & { code?: string }).code === 'EADDRINUSE'
        ) {
          for (const o of out) o.socket.close();
          throw s;
        }
        warn(`DHCP: ${s.message}; falling back to one socket on 0.0.0.0:${port} for all interfaces`);
        for (const o of out) o.socket.close();
        out.length = 0;
        break;
      }
      out.push(s);
    }
    if (out.length) return out;
  }
  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: '0.0.0.0', port }, () => {
      socket.off('error', reject);
      socket.setBroadcast(true);
      resolve();
    });
  });
  return [{ socket }];
}

const addressCache = new Map<string, { at: number; address: string | undefined }>();

/**
 * The first IPv4 address of an interface: the server identifier and next-server for clients on it. Node lists only
 * interfaces that are up *and* have carrier (a bridge whose only port is a VM's tap before the VM starts has none),
 * so fall back to iproute2. Cached for a few seconds: this is asked for every packet.
 */
export function interfaceAddress(iface: string): string | undefined {
  const hit = addressCache.get(iface);
  if (hit && Date.now() - hit.at < 5000) return hit.address;
  let address = networkInterfaces()[iface]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (!address) {
    try {
      const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', iface], { encoding: 'utf8', timeout: 2000 });
      const parsed = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
      address = parsed[0]?.addr_info?.[0]?.local;
    } catch {
      address = undefined;
    }
  }
  addressCache.set(iface, { at: Date.now(), address });
  return address;
}
