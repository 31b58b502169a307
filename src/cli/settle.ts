/**
 * Memory given back after a burst. A flood (of DHCP DISCOVERs, of malformed datagrams) leaves V8's old space grown
 * to 1.5× a heap full of dead datagrams and glibc holding the C memory their buffers used, between live allocations:
 * bench/rss measured +15–19 MB after the first fuzz run, of which `malloc_trim(0)` alone gave back 7–10 MB and the
 * rest is old space a full GC would empty. V8 only shrinks by itself when its memory reducer notices idleness, which
 * a server that answers the odd packet may never show. So once `serve` has been busy and then goes quiet for a
 * second, it runs two full GCs and, a quarter second later, `malloc_trim(0)` (10–40 ms in all, on an idle event
 * loop), and not again until it has been busy and grown since.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Libc } from '../net/libc.ts';

/** How often the event loop's utilization is looked at. */
const TICK_MS = 1000;
/** Event-loop utilization over a tick: above BUSY the process worked, below IDLE it rests. */
const BUSY = 0.25;
const IDLE = 0.05;
/** The trim follows the GCs after this share of a tick. */
const TRIM_DELAY = 0.25;
/** Less growth than this since the last settling is not worth a full GC. */
const GROWN_BYTES = 4 * 1024 * 1024;

export interface Settled {
  before: number;
  after: number;
  ms: number;
}

/** Starts watching; returns the stop. `onSettled` hears each settling (for a debug line). */
export function settleWhenIdle(libc: Libc | undefined, onSettled: (s: Settled) => void, tickMs = TICK_MS): () => void {
  // How test runners reach a full GC in a running process: expose it, then take it from a fresh context.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') return () => {};
  let last = performance.eventLoopUtilization();
  let busy = false;
  let settledAt = process.memoryUsage.rss();
  let trim: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (elu > BUSY) busy = true;
    const rss = process.memoryUsage.rss();
    // Shrinking on its own (V8's memory reducer) counts as settled.
    if (rss < settledAt) settledAt = rss;
    if (trim || !busy || elu > IDLE || rss < settledAt + GROWN_BYTES) return;
    const t0 = performance.now();
    // Two collections and the trim a quarter second later, as measured best (bench/rss, a fuzz run's growth): one GC
    // and the trim at once +6–13 MB on the first run, two and the trim at once −5.4 to +5.5 on any run, two and the
    // trim later −2.5 to +3.3 (DHCP-only first runs +2.7 to +5.2). What stayed was in V8's mappings, not glibc's heap.
    gc();
    gc();
    busy = false;
    const gcMs = performance.now() - t0;
    trim = setTimeout(() => {
      const t1 = performance.now();
      libc?.mallocTrim(0);
      trim = undefined;
      settledAt = process.memoryUsage.rss();
      onSettled({ before: rss, after: settledAt, ms: gcMs + performance.now() - t1 });
    }, tickMs * TRIM_DELAY);
    trim.unref();
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(trim);
  };
}
