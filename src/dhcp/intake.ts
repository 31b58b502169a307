/**
 * The receive side of a DHCP server under load, for DHCPv4 and DHCPv6 alike. Datagrams are drained from the sockets
 * as they arrive and sorted by the caller's classifier into two bounded queues: the messages that finish or keep a
 * binding (REQUEST and the like) first, the ones that start an exchange (DISCOVER, SOLICIT) after. Work runs in
 * batches between socket reads, so a DISCOVER flood can neither fill the kernel's buffer with the REQUESTs that finish
 * boots nor hold them behind itself: when a queue is full the newest datagram is shed (counted, with its reason) — a
 * client retransmits it — and an exchange already half done is never starved.
 */
import { performance } from 'node:perf_hooks';

/** Which queue a datagram waits in: `urgent` (finishes or keeps a binding) or `discover` (starts an exchange). */
export type IntakeClass = 'urgent' | 'discover';

export interface IntakeOptions<D extends { at: number }> {
  /** Queue bounds: REQUESTs and the like, DISCOVERs and the rest. */
  urgentMax: number;
  discoverMax: number;
  /** A DISCOVER that waited longer is shed: its OFFER would come too late to be taken, and the wait is a sign of
   * overload that only grows if old work is done first. */
  discoverMaxWaitMs: number;
  /** Datagrams handled per turn of the event loop at most, and the time they may take, before the sockets are read
   * again. libuv reads at most 32 datagrams per socket per turn: short turns keep the kernel's buffer from
   * overflowing, where a REQUEST would be lost before anyone could put it first. */
  batch: number;
  budgetMs: number;
  /** Reads the message type without a decode (DHCPv4: option 53; DHCPv6: the msg-type octet). */
  classify(d: D): IntakeClass;
  /** Handles one datagram; resolves when its reply is decided (never rejects). */
  handle(d: D): Promise<void>;
  shed(reason: 'shed-request' | 'shed-discover', d: D): void;
}

/** The bounds both servers run with: a few hundred ms of work at most, so a shed DISCOVER is retried by its client
 * (4 s in RFC 2131 §4.1; RFC 8415 §15's SOL_TIMEOUT is 1 s) while a queued one would still be answered in time. */
export const INTAKE_BOUNDS = {
  urgentMax: 4096,
  // Above what is served within discoverMaxWaitMs (~4,000 a second): the wait sheds, not the bound. At 512, a burst
  // of 1,000 DISCOVERs at once (bench/rss) got 161-316 OFFERs, the rest shed on arrival.
  discoverMax: 2048,
  discoverMaxWaitMs: 300,
  // bench/dhcp's flood, with 8/0.25 against 32/1: the kernel dropped 30,000-37,000 datagrams at the full socket
  // buffer instead of 175,000-202,000 in 5 s, and 4,600-5,600 DORA/s completed instead of 1,500-3,400.
  batch: 8,
  budgetMs: 0.25,
} as const;

/** A FIFO on an array with a moving head: O(1) push and shift, compacted when half of it is consumed. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    // Let go of it now, not at the next compaction: a handled datagram kept here lives on into the old space.
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const PARALLEL = 4;

export class Intake<D extends { at: number }> {
  private readonly urgent = new Fifo<D>();
  private readonly discover = new Fifo<D>();
  private scheduled = false;
  private closed = false;
  /** DISCOVERs (the `discover` class) read, handled and shed so far: what admission control (admission.ts) steers
   * by. */
  discoversReceived = 0;
  discoversServed = 0;
  discoversShed = 0;
  get discoversQueued(): number {
    return this.discover.size;
  }

  constructor(private readonly o: IntakeOptions<D>) {}

  push(d: D): void {
    if (this.closed) return;
    const urgent = this.o.classify(d) === 'urgent';
    if (!urgent) this.discoversReceived++;
    const queue = urgent ? this.urgent : this.discover;
    if (queue.size >= (urgent ? this.o.urgentMax : this.o.discoverMax)) {
      if (!urgent) this.discoversShed++;
      this.o.shed(urgent ? 'shed-request' : 'shed-discover', d);
      return;
    }
    queue.push(d);
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate runs after the poll phase: every batch is followed by a read of the sockets.
      setImmediate(() => void this.run());
    }
  }

  private freshDiscover(): D | undefined {
    const oldest = performance.now() - this.o.discoverMaxWaitMs;
    for (let d = this.discover.shift(); d; d = this.discover.shift()) {
      if (d.at >= oldest) {
        this.discoversServed++;
        return d;
      }
      this.discoversShed++;
      this.o.shed('shed-discover', d);
    }
    return undefined;
  }

  /** Stops handling; queued datagrams are dropped (the clients retransmit to the next server instance). */
  close(): void {
    this.closed = true;
  }

  private async run(): Promise<void> {
    // A few at a time, awaited, so the time spent includes the work their promises do (the boot decision, the
    // pool, the reply); a handful in parallel so one slow store call does not hold the rest.
    const end = performance.now() + this.o.budgetMs;
    for (let n = 0; n < this.o.batch && !this.closed && performance.now() < end; ) {
      const started: Promise<void>[] = [];
      while (started.length < PARALLEL) {
        const d = this.urgent.shift() ?? this.freshDiscover();
        if (!d) break;
        started.push(this.o.handle(d));
      }
      if (!started.length) break;
      n += started.length;
      await Promise.all(started);
    }
    this.scheduled = false;
    if (!this.closed && (this.urgent.size || this.discover.size)) {
      this.scheduled = true;
      setImmediate(() => void this.run());
    }
  }
}
