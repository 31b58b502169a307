/**
 * Log lines for dropped DHCP packets, rate-limited: at most one line per reason per window, and the packets dropped
 * in between counted and reported with the next line (or by flush() once the window is over), so a flood costs a
 * line every few seconds yet no drop goes unmentioned. Pure: the caller passes the time and writes the lines.
 */
import type { DhcpDropReason } from './exchange.ts';

export interface DropLine {
  level: 'info' | 'warn';
  message: string;
}

/** Drops that mean something is wrong with this server or its config rather than with one client. */
const SERIOUS = new Set<DhcpDropReason>([
  'pool-exhausted',
  'commit-failed',
  'no-server-address',
  'send-failed',
  'send-queue-full',
  'encode-failed',
  'error',
  'shed-request',
]);

interface Window {
  until: number;
  suppressed: number;
  lastDetail: string;
}

export class DropLog {
  private readonly windows = new Map<DhcpDropReason, Window>();

  constructor(private readonly windowMs: number) {}

  /** A packet was dropped: the line to write now, or undefined when this reason had its line less than a window ago. */
  note(reason: DhcpDropReason, detail: string, now: number): DropLine | undefined {
    const w = this.windows.get(reason);
    if (w && now < w.until) {
      w.suppressed++;
      w.lastDetail = detail;
      return undefined;
    }
    const earlier = w?.suppressed ? ` (and ${w.suppressed} more since the last line)` : '';
    this.windows.set(reason, { until: now + this.windowMs, suppressed: 0, lastDetail: detail });
    return this.line(reason, `DHCP: packet dropped (${reason}): ${detail}${earlier}`);
  }

  /** Lines for the drops counted in windows that are over; call it about once a window. */
  flush(now: number): DropLine[] {
    const out: DropLine[] = [];
    for (const [reason, w] of this.windows) {
      if (now < w.until) continue;
      if (w.suppressed) {
        const text = `DHCP: ${w.suppressed} more packets dropped (${reason}) since the last line, last: ${w.lastDetail}`;
        out.push(this.line(reason, text));
        this.windows.set(reason, { until: now + this.windowMs, suppressed: 0, lastDetail: w.lastDetail });
      } else {
        this.windows.delete(reason);
      }
    }
    return out;
  }

  private line(reason: DhcpDropReason, message: string): DropLine {
    return { level: SERIOUS.has(reason) ? 'warn' : 'info', message };
  }
}
