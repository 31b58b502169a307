/**
 * V8 heap settings for `serve`, a long-running server whose live heap is small (~33 MB) while a flood of datagrams
 * allocates a lot of short-lived garbage. Node's defaults suit a batch job instead; under bench/rss (1,000 clients over
 * DHCP, TFTP and HTTP at once, then 400,000 malformed datagrams a run) they cost:
 * - the young generation grows to two 16 MB semi-spaces while bootherd starts, and stays resident. 8 MB semi-spaces
 *   (--max-semi-space-size=8) took the peak from 151 to 134–135 MB with the settings below, for 5–7 µs more GC a
 *   rendered script (bench/http's script row, ~5 % of its CPU; 4 MB would take ~6 MB more for twice that);
 * - after a full GC the old space may grow to up to 4× what survived before the next one, and the first limit is
 *   far above bootherd's heap: garbage promoted during a flood took the old space from 35 to 138 MB committed for
 *   33 MB live, and the C memory of dead Buffers and sockets it points to stayed allocated until that GC.
 *   --heap-growing-percent=50 runs the next full GC at 1.5× the live heap (10–26 ms at ~33 MB live), and
 *   --initial-old-space-size=48 sets the first limit near the heap bootherd starts with. Neither caps the heap.
 * - glibc gives each thread that contends for malloc an arena of its own (up to 8 per core), each keeping the memory
 *   it once held: MALLOC_ARENA_MAX=2 took ~6 MB off the peak, with no difference above the noise in bench/dhcp's
 *   ACK/s and CPU per ACK or in bench/http's GC time.
 * The semi-space size is fixed when V8 creates the heap and glibc reads its environment when the process starts, so
 * `serve` execs the same Node with them (same PID for a service manager, same stdio, the rest of the environment
 * unchanged) before it loads anything else. A flag the operator gave (on node's command line or in NODE_OPTIONS), or
 * a MALLOC_ARENA_MAX already set, is left as given.
 */
import { F_SETFD, loadLibc } from '../net/libc.ts';

export const SERVE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50', '--initial-old-space-size=48'];
const ARENAS = '2';

/** The flags `serve` still needs: those not already given. V8 accepts `_` for `-` in flag names. */
export function missingFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.split('=')[0]!.replaceAll('_', '-'));
  return SERVE_FLAGS.filter((f) => !given.includes(f.split('=')[0]!));
}

/**
 * For `serve` without its settings: replaces this process with `node <flags> <same arguments>`, MALLOC_ARENA_MAX set. Returns when there is
 * nothing to do or the exec is not possible (no libc through koffi, or execve failed): bootherd then runs with Node's
 * defaults, which work, with more memory.
 */
export async function execWithServeFlags(argv: readonly string[]): Promise<void> {
  // Not under a parent's IPC channel (a process manager that forks): Node closes that fd on exec.
  if (argv[2] !== 'serve' || process.env.NODE_CHANNEL_FD !== undefined) return;
  const flags = missingFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (!flags.length && process.env.MALLOC_ARENA_MAX !== undefined) return;
  const libc = await loadLibc();
  if (!libc) return;
  // Node marks stdin, stdout and stderr close-on-exec when it starts; the new image must inherit them.
  for (const fd of [0, 1, 2]) libc.fcntl(fd, F_SETFD, 0);
  const env = Object.entries({ MALLOC_ARENA_MAX: ARENAS, ...process.env }).map(([k, v]) => `${k}=${v}`);
  libc.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...flags, ...argv.slice(1), null],
    [...env, null],
  );
}
