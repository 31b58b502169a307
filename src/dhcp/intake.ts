/**
 * The receive side of the DHCP server under load. Datagrams are drained from the sockets as they arrive and sorted
 * by option 53 into two bounded queues: REQUESTs (and DECLINE, RELEASE, INFORM, anything on the proxy port) first,
 * DISCOVERs after. Work runs in batches between socket reads, so a DISCOVER flood can neither fill the kernel's
 * buffer with the REQUESTs that finish boots nor hold them behind itself: when a queue is full the newest datagram is
 * shed (counted, with its reason) — a client retransmits it — and a DORA already half done is never starved.
 */
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { MessageType } from './option-types.ts';
import { peekMessageType } from './packet.ts';

export interface Datagram {
  msg: Buffer;
  socket: Socket;
  iface: string | undefined;
  from: { address: string; port: number };
  onProxyPort: boolean;
  /** performance.now() when it was read. */
  at: number;
}

export interface IntakeOptions {
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
  /** Handles one datagram; resolves when its reply is decided (never rejects). */
  handle(d: Datagram): Promise<void>;
  shed(reason: 'shed-request' | 'shed-discover', d: Datagram): void;
}

/** A FIFO on an array with a moving head: O(1) push and shift, compacted when half of it is consumed. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const PARALLEL = 4;
const URGENT = new Set<number>([MessageType.Request, MessageType.Decline, MessageType.Release, MessageType.Inform]);

export class Intake {
  private readonly urgent = new Fifo<Datagram>();
  private readonly discover = new Fifo<Datagram>();
  private scheduled = false;
  private closed = false;

  constructor(private readonly o: IntakeOptions) {}

  push(d: Datagram): void {
    if (this.closed) return;
    const type = d.onProxyPort ? MessageType.Request : peekMessageType(d.msg);
    const urgent = type !== undefined && URGENT.has(type);
    const queue = urgent ? this.urgent : this.discover;
    if (queue.size >= (urgent ? this.o.urgentMax : this.o.discoverMax)) {
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

  private freshDiscover(): Datagram | undefined {
    const oldest = performance.now() - this.o.discoverMaxWaitMs;
    for (let d = this.discover.shift(); d; d = this.discover.shift()) {
      if (d.at >= oldest) return d;
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
