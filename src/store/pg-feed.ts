/**
 * The change feed between servers sharing one PostgreSQL database. A write publishes with pg_notify inside its own
 * transaction: "if NOTIFY is executed inside a transaction, the notify events are not delivered until and unless the
 * transaction is committed" (PostgreSQL manual, NOTIFY), so a notification always means committed. Each server
 * LISTENs on one dedicated connection (not a pooled one: a pool hands connections around and closes idle ones),
 * reconnected with capped backoff. Notifications sent while it was away are lost, so every (re)connect is announced
 * as an `inventory` change: every cache drops everything.
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from './sql-schema.ts';
import type { StoreChange } from './types.ts';

export const CHANNEL = 'bootherd_changes';
/** NOTIFY payloads must be shorter than 8000 bytes (manual); ids are far shorter, but never fail a write over it. */
const MAX_PAYLOAD = 7000;
const KINDS = new Set<StoreChange['kind']>(['machine', 'profile', 'group', 'inventory']);
const OPS = new Set<StoreChange['op']>(['put', 'delete', 'apply']);

/** Who wrote: the server's id (for people and logs) and this store instance's (two servers must never share it). */
export interface Writer {
  server: string;
  instance: string;
}

/** Small on the wire: kind, id, op, server, instance. */
export function encodeChange(change: StoreChange, w: Writer): string {
  const text = JSON.stringify({ k: change.kind, i: change.id, o: change.op, s: w.server, n: w.instance });
  return Buffer.byteLength(text) <= MAX_PAYLOAD
    ? text
    : JSON.stringify({ k: 'inventory', o: 'apply', s: w.server, n: w.instance });
}

export function decodeChange(payload: string | undefined): { change: StoreChange; instance?: string } | undefined {
  try {
    const p = JSON.parse(payload ?? '') as { k?: unknown; i?: unknown; o?: unknown; s?: unknown; n?: unknown };
    if (!KINDS.has(p.k as StoreChange['kind']) || !OPS.has(p.o as StoreChange['op'])) return undefined;
    const change: StoreChange = {
      kind: p.k as StoreChange['kind'],
      ...(typeof p.i === 'string' ? { id: p.i } : {}),
      op: p.o as StoreChange['op'],
      ...(typeof p.s === 'string' ? { server: p.s } : {}),
    };
    return { change, ...(typeof p.n === 'string' ? { instance: p.n } : {}) };
  } catch {
    return undefined;
  }
}

export async function publishChange(db: Db, change: StoreChange, w: Writer): Promise<void> {
  await sql`select pg_notify(${CHANNEL}, ${encodeChange(change, w)})`.execute(db);
}

export interface FeedOptions {
  url: string;
  /** This store instance: its own notifications are not delivered back. */
  instance: string;
  /** The listening connection failed (once per outage) or came back. */
  report: (message: string) => void;
  /** The message of an error, with the URL's password blanked. */
  describe: (err: unknown) => string;
}

/** One LISTEN connection, opened on the first subscriber, reopened with backoff (0.25 s doubling to 5 s) until closed. */
export class PgChangeFeed {
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private client?: pg.Client;
  private timer?: NodeJS.Timeout;
  private attempt = 0;
  private started = false;
  private closed = false;
  private down = false;

  constructor(private readonly o: FeedOptions) {}

  watch(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return () => this.listeners.delete(listener);
  }

  private emit(change: StoreChange): void {
    for (const l of this.listeners) l(change);
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.o.url, keepAlive: true, connectionTimeoutMillis: 10_000 });
    let lost = false;
    const onLost = (err?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      if (!this.down) {
        this.down = true;
        this.o.report(`change feed lost (${err ? this.o.describe(err) : 'connection closed'}); reconnecting`);
        if (this.started) this.emit({ kind: 'inventory', op: 'lost' });
      }
      const delay = Math.min(250 * 2 ** this.attempt++, 5000);
      this.timer = setTimeout(() => void this.connect(), delay);
      this.timer.unref();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL) return;
      const heard = decodeChange(n.payload);
      if (heard && heard.instance !== this.o.instance) this.emit(heard.change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      onLost(err);
      return;
    }
    if (this.closed || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    if (this.down) this.o.report('change feed listening again');
    this.down = false;
    // Whatever was written while nobody here listened is unknown.
    this.emit({ kind: 'inventory', op: 'apply' });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
