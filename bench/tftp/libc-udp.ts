/**
 * The libc calls bench/tftp's event-loop-free servers and client make through koffi (floor.ts, fast-client.ts): IPv4
 * UDP on loopback, blocking, with a receive timeout.
 */

export type Libc = Awaited<ReturnType<typeof loadUdpLibc>>;

export async function loadUdpLibc() {
  const koffi = (await import('koffi')).default;
  const c = koffi.load('libc.so.6');
  const socket = c.func('int socket(int, int, int)');
  const setsockopt = c.func('int setsockopt(int, int, int, const void *, uint32_t)');
  const bind = c.func('int bind(int, const void *, uint32_t)');
  /** sockaddr_in for 127.0.0.1:port (sa_family in host order, the port in network order). */
  const loopback = (port: number): Buffer => {
    const a = Buffer.alloc(16);
    a.writeUInt16LE(2, 0); // AF_INET
    a.writeUInt16BE(port, 2);
    a.set([127, 0, 0, 1], 4);
    return a;
  };
  return {
    koffi,
    recvfrom: c.func('long recvfrom(int, void *, size_t, int, void *, void *)'),
    recvmmsg: c.func('int recvmmsg(int, void *, unsigned int, int, void *)'),
    sendto: c.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    close: c.func('int close(int)'),
    loopback,
    /** A UDP socket bound to 127.0.0.1:port (0: ephemeral) whose receives give up after `timeoutSeconds`. */
    open(port: number, timeoutSeconds: number, receiveBuffer?: number): number {
      const fd = socket(2, 2, 0) as number;
      const timeval = Buffer.alloc(16);
      timeval.writeBigInt64LE(BigInt(timeoutSeconds), 0);
      setsockopt(fd, 1, 20, timeval, 16); // SOL_SOCKET, SO_RCVTIMEO
      if (receiveBuffer) {
        const size = Buffer.alloc(4);
        size.writeInt32LE(receiveBuffer);
        setsockopt(fd, 1, 33, size, 4); // SO_RCVBUFFORCE (needs root; refused otherwise, the default stays)
      }
      if (bind(fd, loopback(port), 16) !== 0) throw new Error(`bind 127.0.0.1:${port} failed`);
      return fd;
    },
  };
}
