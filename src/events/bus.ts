/**
 * Boot events: every decision goes to live listeners at once (the UI's event stream) and to the store (the
 * machine's timeline) in batches — one transaction, one fsync, for all boots of the last tenth of a second — so a
 * boot storm costs a handful of disk flushes, not one per request. A failed write is reported, never allowed to fail
 * the boot it describes. Last-seen facts ride in the same batch, the newest per machine.
 */
import { EventEmitter } from 'node:events';
import type { BootEvent, SeenFacts } from '../model/types.ts';
import type { Store } from '../store/types.ts';

/** How long an event may wait for company before it is written. A commit writes every page it touched once, and the
 * boots of different machines touch different pages (index leaves, machine rows): at 12,000 scripts a second, 100 ms
 * batches cost SQLite's writer thread 18–21 µs of CPU an event against 25–28 with 20 ms (bench/http). The live
 * stream does not wait for it. */
const BATCH_MS = 100;
/** Write at once when this many are waiting. */
const BATCH_MAX = 2000;

export class EventBus {
  private readonly emitter = new EventEmitter();
  private events: BootEvent[] = [];
  private seen = new Map<string, SeenFacts>();
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
  ) {
    this.emitter.setMaxListeners(1000);
  }

  record(event: BootEvent, seen?: { machineId: string; facts: SeenFacts }): void {
    this.events.push(event);
    if (seen) this.seen.set(seen.machineId, seen.facts);
    this.emitter.emit('event', event);
    if (this.events.length >= BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_MS);
  }

  /** Write what is queued; resolves when everything recorded so far is in the store. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.events;
    const seen = [...this.seen];
    this.events = [];
    this.seen = new Map();
    // Batches are written one after another so the log keeps its order.
    this.writing = this.writing.then(async () => {
      if (!events.length && !seen.length) return;
      try {
        await this.store.writeBootLog(events, seen);
      } catch (err) {
        this.onError(err);
      }
    });
    return this.writing;
  }

  subscribe(listener: (event: BootEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
