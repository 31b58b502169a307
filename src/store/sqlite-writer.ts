/**
 * The SQLite engine's writer threads. Two kinds of write must not run on the event loop that answers machines:
 * - the boot log (events, last-seen facts; synchronous=NORMAL): the inserts (~30 µs an event with its JSON)
 *   and the WAL checkpoints they trigger (an fsync of the database file) were the p99 of bench/http's script row;
 * - DHCP lease commits (synchronous=FULL): the fsync each group commit waits for stopped the DHCP loop reading packets
 *   (18 % of its time in bench/dhcp's profile). An ACK still waits until its lease is on disk.
 * Each kind has its own thread and connection to the same file, one batch at a time, acknowledged once committed, so
 * each keeps its order. This file is both sides: `WriterThread` (main thread) and, run as a worker, the loop that
 * owns the connection.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { BootEvent, SeenFacts } from '../model/types.ts';
import { CLAIM_CONDITION, claimOrder, toStoredLease } from './lease-claim.ts';
import type { LeaseClaim, StoredLease } from './types.ts';

export interface LogBatch {
  events: BootEvent[];
  seen: [string, SeenFacts][];
}

/** Leases: a blind commit (an array), or a claim (Store.claimLeases), answered with the changes refused. */
export type LeaseBatch = StoredLease[] | { leases: StoredLease[]; claim: LeaseClaim };

interface Roles {
  log: LogBatch;
  leases: LeaseBatch;
}
interface Results {
  log: undefined;
  leases: StoredLease[];
}
export type WriterRole = keyof Roles;

/** A batch crosses to the thread as one JSON string: structured cloning of the event objects cost ~20 µs an event. */
interface Message {
  id: number;
  json: string;
}
type Reply = { id: number; error?: string; result?: unknown };

/** The main thread's end: `write` resolves once the batch is committed on the thread's connection. */
export class WriterThread<R extends WriterRole> {
  /** Started by the first write: a CLI command that writes nothing of this kind never pays for a thread. */
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  private next = 1;
  private dead?: Error;
  private closing = false;

  constructor(
    private readonly file: string,
    private readonly role: R,
  ) {}

  /** False once the thread is gone: the caller writes on its own connection instead. */
  get alive(): boolean {
    return !this.dead;
  }

  write(batch: Roles[R]): Promise<Results[R]> {
    if (this.dead) return Promise.reject(this.dead);
    this.worker ??= this.start();
    const worker = this.worker;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (result) => resolve(result as Results[R]), reject });
      worker.ref();
      worker.postMessage({ id, json: JSON.stringify(batch) } satisfies Message);
    });
  }

  /** After the last write was acknowledged: close the connection and end the thread. */
  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (!worker || this.dead) {
      this.dead ??= new Error(`SQLite ${this.role} writer closed`);
      return;
    }
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    // The dist build runs this .js file as the worker. Under tsx (tests, `--import tsx`) it is .ts, and Node 20 does
    // not carry the main thread's loader hooks into a worker: register tsx there first.
    const ts = import.meta.url.endsWith('.ts');
    const entry = ts
      ? `import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(import.meta.url)}))`
      : new URL(import.meta.url);
    const worker = new Worker(entry, { eval: ts, workerData: { file: this.file, role: this.role } });
    // Referenced only while a batch is in flight: an idle writer must not keep a CLI command alive, a busy one must.
    worker.unref();
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (!this.pending.size && !this.closing) worker.unref();
      if (r.error) p?.reject(new Error(r.error));
      else p?.resolve(r.result);
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`SQLite ${this.role} writer exited (${code})`)));
    return worker;
  }
}

/**
 * The statements of one role, as one transaction a batch (only that role's: the other's tables may not exist). The
 * store runs the same on its own connections when a thread is gone.
 */
export function writerStatements<R extends WriterRole>(db: SQLite.Database, role: R): (batch: Roles[R]) => Results[R];
export function writerStatements(db: SQLite.Database, role: WriterRole): (batch: unknown) => unknown {
  if (role === 'leases') return leaseStatements(db) as (batch: unknown) => unknown;

  const insert = db.prepare(
    'INSERT INTO boot_events (at, machine_id, mac, stage, facts, decision) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const seenAt = db.prepare('UPDATE machines SET last_seen = ? WHERE id = ?');
  // Plain JSON.stringify, not canonical(): nothing compares a log row's text, and it was ~2.5 µs an event of this
  // thread's ~15 (the events table's three indexes ~6, the last-seen updates ~2.6; bench/http's 1000-machine fleet).
  return db.transaction((b: LogBatch) => {
    for (const e of b.events)
      insert.run(e.at, e.machineId ?? null, e.mac, e.stage, JSON.stringify(e.facts), JSON.stringify(e.decision));
    for (const [id, facts] of b.seen) seenAt.run(JSON.stringify(facts), id);
  }) as (batch: unknown) => unknown;
}

/** The lease statements: the blind upsert, and the claim (the same SQL as sql-leases.ts, prepared once). */
function leaseStatements(db: SQLite.Database): (batch: LeaseBatch) => StoredLease[] {
  const columns = 'INSERT INTO dhcp_leases (ip, mac, client_id, hostname, state, expires_at';
  const upsert = db.prepare(
    `${columns}) VALUES (?, ?, ?, ?, ?, ?) ` +
      'ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, client_id = excluded.client_id, ' +
      'hostname = excluded.hostname, state = excluded.state, expires_at = excluded.expires_at',
  );
  const claimOne = db.prepare(
    `${columns}, server) VALUES (@ip, @mac, @clientId, @hostname, @state, @expiresAt, @server) ` +
      'ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, client_id = excluded.client_id, ' +
      'hostname = excluded.hostname, state = excluded.state, expires_at = excluded.expires_at, server = excluded.server ' +
      `WHERE ${CLAIM_CONDITION[0]}@now${CLAIM_CONDITION[1]} RETURNING ip`,
  );
  const holder = db.prepare<[string]>('SELECT * FROM dhcp_leases WHERE ip = ?');
  const commit = db.transaction((leases: StoredLease[]) => {
    for (const l of leases) upsert.run(l.ip, l.mac, l.clientId ?? null, l.hostname ?? null, l.state, l.expiresAt);
  });
  const claim = db.transaction((leases: StoredLease[], c: LeaseClaim): StoredLease[] => {
    const refused: [number, StoredLease][] = [];
    for (const i of claimOrder(leases)) {
      const l = leases[i]!;
      const row = {
        ip: l.ip,
        mac: l.mac,
        clientId: l.clientId ?? null,
        hostname: l.hostname ?? null,
        state: l.state,
        expiresAt: l.expiresAt,
        server: c.server,
        now: c.now,
      };
      if (claimOne.get(row)) continue;
      const r = holder.get(l.ip) as Parameters<typeof toStoredLease>[0] | undefined;
      if (r) refused.push([i, toStoredLease(r)]);
    }
    return refused.sort(([a], [b]) => a - b).map(([, l]) => l);
  });
  return (batch) => {
    if (Array.isArray(batch)) {
      commit(batch);
      return [];
    }
    // IMMEDIATE: the write lock first, so another process's claim waits for it (busy_timeout) instead of failing.
    return claim.immediate(batch.leases, batch.claim);
  };
}

function serve(file: string, role: WriterRole): void {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  // Leases are acknowledged to clients: on disk when the commit returns. The log may lose its last moments on a power cut.
  db.pragma(`synchronous = ${role === 'leases' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  // This thread may wait for the main connection's write lock (an apply): waiting here blocks no request.
  db.pragma('busy_timeout = 10000');
  let run: (batch: unknown) => unknown;
  let failure: string | undefined;
  try {
    run = writerStatements(db, role) as (batch: unknown) => unknown;
  } catch (err) {
    // Answered to every write (e.g. a database without the schema), rather than a dead thread with no reason given.
    failure = (err as Error).message;
    run = () => {
      throw new Error(failure);
    };
  }
  parentPort!.on('message', (m: Message | 'close') => {
    if (m === 'close') {
      db.close();
      parentPort!.close();
      return;
    }
    try {
      const result = run(JSON.parse(m.json));
      parentPort!.postMessage({ id: m.id, ...(result === undefined ? {} : { result }) } satisfies Reply);
    } catch (err) {
      parentPort!.postMessage({ id: m.id, error: (err as Error).message } satisfies Reply);
    }
  });
}

const data = workerData as { file?: unknown; role?: unknown } | null;
if (!isMainThread && typeof data?.file === 'string' && (data.role === 'log' || data.role === 'leases'))
  serve(data.file, data.role);
