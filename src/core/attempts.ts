/**
 * Failed-authentication limiter, keyed by the caller (client IP). At most `max` failures per key within `windowMs`
 * of its first failure; after that the key is blocked until the window ends. Memory is bounded: expired entries are
 * dropped and, past `maxKeys`, the oldest windows are evicted.
 */

export interface AttemptLimiterOptions {
  max?: number;
  windowMs?: number;
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  start: number;
  failures: number;
}

export class AttemptLimiter {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** Insertion order is window start order (a new window re-inserts), so the first entries expire first. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: AttemptLimiterOptions = {}) {
    this.max = options.max ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
    if (this.max < 1 || this.windowMs <= 0 || this.maxKeys < 1) throw new RangeError('invalid attempt limits');
  }

  blocked(key: string): boolean {
    const entry = this.live(key);
    return entry !== undefined && entry.failures >= this.max;
  }

  /** Milliseconds until `key` may try again (0 when not blocked), for a Retry-After header. */
  retryAfterMs(key: string): number {
    const entry = this.live(key);
    if (!entry || entry.failures < this.max) return 0;
    return entry.start + this.windowMs - this.now();
  }

  fail(key: string): void {
    const entry = this.live(key);
    if (entry) {
      entry.failures++;
      return;
    }
    this.prune();
    while (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { start: this.now(), failures: 1 });
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.start >= this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (now - entry.start < this.windowMs) break;
      this.entries.delete(key);
    }
  }
}
