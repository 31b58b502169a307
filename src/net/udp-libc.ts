/**
 * UDP sockets with options Node's dgram cannot set (SO_BINDTODEVICE, UDP_SEGMENT, SO_RCVBUFFORCE): made, given their
 * options and bound through libc (koffi), then handed to dgram by file descriptor. Where that is not possible (no
 * koffi, not Linux, a scoped address, a refused option or bind) the answer names the step that failed and its errno,
 * and callers fall back or report it.
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type Libc, loadLibc, SO_BINDTODEVICE, SOL_SOCKET } from './libc.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SO_BROADCAST = 6;
const SO_RCVBUFFORCE = 33;

export interface LibcSocket {
  socket: Socket;
  fd: number;
  libc: Libc;
}

/** The step that failed (an option's name, `bind(host:port)`, …) and errno (0 where there is none). */
export interface LibcBindFailure {
  failed: string;
  errno: number;
}

export interface SocketOption {
  name: string;
  level: number;
  option: number;
  value: Buffer;
  /** A refusal is ignored (the kernel's default stays). */
  bestEffort?: boolean;
}

const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

export const broadcast = (): SocketOption => ({
  name: 'SO_BROADCAST',
  level: SOL_SOCKET,
  option: SO_BROADCAST,
  value: int32(1),
});
export const bindToDevice = (iface: string): SocketOption => ({
  name: 'SO_BINDTODEVICE',
  level: SOL_SOCKET,
  option: SO_BINDTODEVICE,
  value: Buffer.from(`${iface}\0`),
});
/** A receive buffer past net.core.rmem_max (SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the default stays). */
export const receiveBuffer = (bytes: number): SocketOption => ({
  name: 'SO_RCVBUFFORCE',
  level: SOL_SOCKET,
  option: SO_RCVBUFFORCE,
  value: int32(bytes),
  bestEffort: true,
});

export const isBound = (s: LibcSocket | LibcBindFailure): s is LibcSocket => 'socket' in s;

/** A socket with `options` set on the bare fd (in order), bound to host:port (0 = ephemeral). */
export async function bindThroughLibc(
  host: string,
  port: number,
  options: SocketOption[],
  lookup?: SocketOptions['lookup'],
): Promise<LibcSocket | LibcBindFailure> {
  const c = await loadLibc();
  if (!c) return { failed: 'libc through koffi', errno: 0 };
  const v6 = isIPv6(host);
  const addr = Buffer.alloc(v6 ? 28 : 16);
  // sockaddr_in(6): sa_family in host order (little-endian on the platforms Node runs Linux on), the port in network
  // order.
  addr.writeUInt16LE(v6 ? AF_INET6 : AF_INET, 0);
  addr.writeUInt16BE(port, 2);
  if (c.inet_pton(v6 ? AF_INET6 : AF_INET, host, addr.subarray(v6 ? 8 : 4)) !== 1)
    return { failed: `inet_pton(${host})`, errno: 0 };
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return { failed: 'socket()', errno: c.errno() };
  const fail = (failed: string): LibcBindFailure => {
    const errno = c.errno();
    c.close(fd);
    return { failed, errno };
  };
  for (const o of options)
    if (c.setsockopt(fd, o.level, o.option, o.value, o.value.length) !== 0 && !o.bestEffort) return fail(o.name);
  if (c.bind(fd, addr, addr.length) !== 0) return fail(`bind(${v6 ? `[${host}]` : host}:${port})`);
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ...(lookup ? { lookup } : {}) });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ fd }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close(); // closes the fd too
    return { failed: `dgram on fd ${fd}: ${(err as Error).message}`, errno: 0 };
  }
  return { socket, fd, libc: c };
}
