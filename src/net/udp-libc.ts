/**
 * UDP sockets with options Node's dgram cannot set (UDP_SEGMENT, SO_RCVBUFFORCE): made and bound through libc
 * (koffi), then handed to dgram by file descriptor. undefined where that is not possible (no koffi, not Linux, a
 * scoped address, a refused option or bind): callers fall back to a plain dgram socket.
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type Libc, loadLibc, SOL_SOCKET } from './libc.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SO_RCVBUFFORCE = 33;

export interface LibcSocket {
  socket: Socket;
  fd: number;
  libc: Libc;
}

/**
 * A socket bound to host:port (0 = ephemeral) after `prepare` set its options on the bare fd; `prepare` answers false
 * to give up (the fd is closed).
 */
export async function bindThroughLibc(
  host: string,
  port: number,
  prepare: (c: Libc, fd: number) => boolean,
  lookup?: SocketOptions['lookup'],
): Promise<LibcSocket | undefined> {
  const c = await loadLibc();
  if (!c) return undefined;
  const v6 = isIPv6(host);
  const addr = Buffer.alloc(v6 ? 28 : 16);
  // sockaddr_in(6): sa_family in host order (little-endian on the platforms Node runs Linux on), the port in network
  // order.
  addr.writeUInt16LE(v6 ? AF_INET6 : AF_INET, 0);
  addr.writeUInt16BE(port, 2);
  if (c.inet_pton(v6 ? AF_INET6 : AF_INET, host, addr.subarray(v6 ? 8 : 4)) !== 1) return undefined;
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return undefined;
  if (!prepare(c, fd) || c.bind(fd, addr, addr.length) !== 0) {
    c.close(fd);
    return undefined;
  }
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ...(lookup ? { lookup } : {}) });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ fd }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch {
    socket.close(); // closes the fd too
    return undefined;
  }
  return { socket, fd, libc: c };
}

/**
 * Asks for a receive buffer of `bytes` past net.core.rmem_max (SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the
 * kernel's default stays, which still works). Best effort: always lets the socket be made.
 */
export function forceReceiveBuffer(c: Libc, fd: number, bytes: number): true {
  const size = Buffer.alloc(4);
  size.writeInt32LE(bytes);
  c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
  return true;
}
