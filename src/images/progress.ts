/**
 * Import progress: on a terminal one line redrawn in place (bar, bytes, rate, time left); elsewhere (logs, CI,
 * pipes) a plain line every 10 % or every 5 seconds, whichever comes first.
 */

export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

const MB = 1_000_000;
const REDRAW_MS = 100;
const PLAIN_MS = 5_000;
const BAR = 24;

/** `1:02:03`, `2:03`, or `0:05` for seconds left. */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** One progress line; `elapsedMs` 0 gives no rate and no time left. */
export function progressLine(done: number, total: number, elapsedMs: number, bar: boolean): string {
  const pct = total ? Math.floor((done / total) * 100) : 100;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? clock((total - done) / rate) : '-:--';
  const bytes = `${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB`;
  const speed = `${(rate / MB).toFixed(1)} MB/s`;
  if (!bar) return `${String(pct).padStart(3)}%  ${bytes}  ${speed}  ETA ${eta}`;
  const filled = Math.round((Math.min(done, total) / (total || 1)) * BAR);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${String(pct).padStart(3)}%  ${bytes}  ${speed}  ETA ${eta}`;
}

export class Progress {
  private readonly started: number;
  private last = -Infinity;
  private lastStep = -1;
  private drawn = 0;

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  update(done: number, total: number): void {
    const t = this.now();
    const elapsed = t - this.started;
    if (this.sink.isTTY) {
      if (t - this.last < REDRAW_MS && done < total) return;
      this.last = t;
      const line = progressLine(done, total, elapsed, true);
      // Pad over a longer previous line, then return to the line's start.
      this.sink.write(`\r${line.padEnd(this.drawn)}`);
      this.drawn = line.length;
      return;
    }
    const step = total ? Math.floor((done / total) * 10) : 10;
    if (step === this.lastStep && t - this.last < PLAIN_MS && done < total) return;
    if (step === this.lastStep && done >= total) return;
    this.lastStep = step;
    this.last = t;
    this.sink.write(`${progressLine(done, total, elapsed, false)}\n`);
  }

  /** Ends the redrawn line on a terminal. */
  finish(): void {
    if (this.sink.isTTY && this.drawn) this.sink.write('\n');
  }
}
