/**
 * UDP generic segmentation offload for windowed transfers: with Linux's UDP_SEGMENT set (udp(7): "the kernel splits
 * the payload into segments of gso_size bytes"), one sendmsg carries several DATA packets laid out back to back and the
 * kernel cuts them apart, instead of one syscall per block. Node's dgram cannot set the option, so such a socket is
 * made and bound through libc (koffi) and handed to dgram by its fd. Where that is not possible (no koffi, not Linux,
 * a scoped address), `openGsoSocket` answers undefined and the transfer sends block by block.
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { loadLibc } from '../net/libc.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
/** A UDP datagram's payload limit; one segmented send stays under it. */
export const GSO_MAX_BYTES = 65_000;

export interface GsoSocket {
  socket: Socket;
  /** Sets the segment size (one DATA packet: blksize + 4); 0 turns segmentation off. false if the kernel refused. */
  segment(bytes: number): boolean;
}

/** A UDP socket bound to `host`, port 0, whose segment size can be set; undefined where that is not possible. */
export async function openGsoSocket(host: string, lookup: SocketOptions['lookup']): Promise<GsoSocket | undefined> {
  const c = await loadLibc();
  if (!c) return undefined;
  const v6 = isIPv6(host);
  const addr = Buffer.alloc(v6 ? 28 : 16);
  // sockaddr_in(6): sa_family in host order (little-endian on the platforms Node runs Linux on), port 0 = ephemeral.
  addr.writeUInt16LE(v6 ? AF_INET6 : AF_INET, 0);
  if (c.inet_pton(v6 ? AF_INET6 : AF_INET, host, addr.subarray(v6 ? 8 : 4)) !== 1) return undefined;
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return undefined;
  const probe = Buffer.alloc(4);
  // The kernel must know the option (Linux ≥ 4.18) before the socket is worth using.
  if (c.setsockopt(fd, SOL_UDP, UDP_SEGMENT, probe, 4) !== 0 || c.bind(fd, addr, addr.length) !== 0) {
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
  return {
    socket,
    segment(bytes) {
      probe.writeInt32LE(bytes, 0);
      return c.setsockopt(fd, SOL_UDP, UDP_SEGMENT, probe, 4) === 0;
    },
  };
}
