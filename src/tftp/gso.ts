/**
 * UDP generic segmentation offload for windowed transfers: with Linux's UDP_SEGMENT set (udp(7): "the kernel splits
 * the payload into segments of gso_size bytes"), one sendmsg carries several DATA packets laid out back to back and the
 * kernel cuts them apart, instead of one syscall per block. Node's dgram cannot set the option, so such a socket is
 * made and bound through libc (koffi) and handed to dgram by its fd. Where that is not possible (no koffi, not Linux,
 * a scoped address), `openGsoSocket` answers undefined and the transfer sends block by block.
 */
import type { Socket, SocketOptions } from 'node:dgram';
import { bindThroughLibc, isBound } from '../net/udp-libc.ts';

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
  const probe = Buffer.alloc(4);
  // The kernel must know the option (Linux ≥ 4.18) before the socket is worth using.
  const made = await bindThroughLibc(
    host,
    0,
    [{ name: 'UDP_SEGMENT', level: SOL_UDP, option: UDP_SEGMENT, value: probe }],
    lookup,
  );
  if (!isBound(made)) return undefined;
  const { socket, fd, libc } = made;
  return {
    socket,
    segment(bytes) {
      probe.writeInt32LE(bytes, 0);
      return libc.setsockopt(fd, SOL_UDP, UDP_SEGMENT, probe, 4) === 0;
    },
  };
}
