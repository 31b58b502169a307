/**
 * The few socket calls Node's dgram cannot make (SO_BINDTODEVICE, raw ICMPv6, UDP_SEGMENT, socket filters), the exec
 * `serve` uses to restart itself with its heap flags (Node 20 has no process.execve) and malloc_trim, from libc through
 * koffi.
 * Loaded once; undefined where libc or koffi is not available (or not Linux), so callers can fall back.
 */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  inet_pton(af: number, src: string, dst: Buffer): number;
  close(fd: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** argv and envp end with null, as execve(2) wants; returns only on failure. */
  execve(path: string, argv: (string | null)[], envp: (string | null)[]): number;
  /** malloc_trim(3): gives the C heap's free memory back to the system; 1 if some was released. */
  mallocTrim(pad: number): number;
  /** SO_ATTACH_FILTER with a classic BPF program (socket(7)); SO_DETACH_FILTER when `program` is empty. */
  socketFilter(fd: number, program: readonly BpfInsn[]): number;
  errno(): number;
}

/** One classic BPF instruction (struct sock_filter, linux/filter.h). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export const SOL_SOCKET = 1;
export const SO_BINDTODEVICE = 25;
export const F_SETFD = 2;
const SO_ATTACH_FILTER = 26;
const SO_DETACH_FILTER = 27;

let loaded: Promise<Libc | undefined> | undefined;

export function loadLibc(): Promise<Libc | undefined> {
  loaded ??= (async () => {
    if (process.platform !== 'linux') return undefined;
    try {
      const koffi = (await import('koffi')).default;
      const lib = koffi.load('libc.so.6');
      const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'];
      const insn = koffi.struct('sock_filter', { code: 'uint16', jt: 'uint8', jf: 'uint8', k: 'uint32' });
      koffi.struct('sock_fprog', { len: 'uint16', filter: koffi.pointer(insn) });
      const attachFilter = lib.func('int setsockopt(int, int, int, const sock_fprog *, uint32_t)');
      return {
        socket: lib.func('int socket(int, int, int)') as Libc['socket'],
        setsockopt,
        bind: lib.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
        sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)') as Libc['sendto'],
        inet_pton: lib.func('int inet_pton(int, const char *, void *)') as Libc['inet_pton'],
        close: lib.func('int close(int)') as Libc['close'],
        fcntl: lib.func('int fcntl(int, int, int)') as Libc['fcntl'],
        execve: lib.func('int execve(const char *, const char **, const char **)') as Libc['execve'],
        mallocTrim: lib.func('int malloc_trim(size_t)') as Libc['mallocTrim'],
        socketFilter: (fd, program) =>
          program.length
            ? (attachFilter(fd, SOL_SOCKET, SO_ATTACH_FILTER, { len: program.length, filter: program }, 16) as number)
            : setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, Buffer.alloc(4), 4),
        errno: () => koffi.errno(),
      };
    } catch {
      return undefined;
    }
  })();
  return loaded;
}
