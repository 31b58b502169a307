/**
 * The embedded default engine: SQLite through better-sqlite3. WAL with synchronous=FULL makes a commit durable
 * (fsynced) before the call returns, so every inventory write is on disk when its promise resolves.
 *
 * The boot log (events, last-seen facts) is telemetry written in batches, and better-sqlite3 runs on the event loop:
 * an fsync per batch would stall every request behind the disk. So it goes through a second connection with
 * synchronous=NORMAL, owned by a writer thread (sqlite-writer.ts) so neither the inserts nor the checkpoints
 * run on the loop — safe against a crash of bootherd, and made durable by the next FULL commit or checkpoint; a power
 * cut can lose the last moments of the log, never inventory or leases. DHCP lease commits have a writer thread of
 * their own (synchronous=FULL: durable before the ACK) so their fsync does not stop the DHCP loop either.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { BootherdError } from '../errors.ts';
import { normalizeMac } from '../model/identity.ts';
import type { BootEvent, Machine, SeenFacts } from '../model/types.ts';
import { toEvent } from './sql-events.ts';
import { toMachine } from './sql-machines.ts';
import { migrateSql } from './sql-migrate.ts';
import type { Database } from './sql-schema.ts';
import { SqlStore } from './sql-store.ts';
import { toToken } from './sql-tokens.ts';
import { changeLog } from './sqlite-changes.ts';
import { type LeaseBatch, type LogBatch, WriterThread, writerStatements } from './sqlite-writer.ts';
import type { LeaseClaim, MachineLookup, StoreChange, StoredLease } from './types.ts';

class SqliteStore extends SqlStore {
  private readonly appendLog: (batch: LogBatch) => void;
  private readonly writeLeases: (batch: LeaseBatch) => StoredLease[];
  private readonly touch: SQLite.Statement<[string, string, string]>;
  private readonly reads: ReturnType<typeof hotReads>;
  private readonly changes: ReturnType<typeof changeLog>;

  constructor(
    db: Kysely<Database>,
    private readonly main: SQLite.Database,
    log: SQLite.Database,
    private readonly writers?: { log: WriterThread<'log'>; leases: WriterThread<'leases'> },
  ) {
    super(db, async () => {
      await writers?.log.close();
      await writers?.leases.close();
      await db.destroy();
      if (log !== main) log.close();
    });
    this.reads = hotReads(main);
    // A token use is telemetry like the boot log: an fsync per API request would stall the event loop.
    this.touch = log.prepare(
      'UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
    );
    // The writer threads' own statements, on this thread's connections: used when a thread is gone (and for an
    // in-memory database, which has no threads). One synchronous transaction each: it never stays open across an
    // await, so it cannot block the main connection.
    this.writeLeases = writerStatements(main, 'leases');
    this.appendLog = writerStatements(log, 'log');
    this.changes = changeLog(log, log === main);
  }

  /**
   * Read on the log connection, which never holds a transaction across an await: on the main one, an open apply
   * would read from its own snapshot (missing a commit made since) and see its own uncommitted rows. Its data_version
   * moves with every commit of another connection — the CLI, the writer threads, and this store's main connection,
   * whose (already announced) writes are therefore reported too: harmless, a cache re-reads that record.
   */
  othersChanges(): () => StoreChange[] {
    return this.changes();
  }

  /**
   * Starts both writer threads and waits for an empty batch on each: a thread (its modules, its connection) took
   * 0.3-0.5 s to start under tsx on a quiet machine (up to 1.2 s loaded), which the first DHCPACK after a start waited
   * for (bench/boot, scenario c). A thread that fails to start is not an error here: writes fall back to this
   * connection, as they do when a thread dies.
   */
  async warmWriters(): Promise<void> {
    if (!this.writers) return;
    await Promise.allSettled([this.writers.leases.write([]), this.writers.log.write({ events: [], seen: [] })]);
  }

  /** One synchronous transaction of prepared upserts on the FULL connection: durable when it returns. */
  override async commitLeases(changes: StoredLease[]): Promise<void> {
    if (!changes.length) return;
    if (this.writers?.leases.alive) {
      await this.writers.leases.write(changes);
      return;
    }
    // A kysely transaction (apply) may be open on this connection across awaits; better-sqlite3 would nest the upsert
    // as a savepoint inside it, committed (or rolled back) with it. Queue behind it on kysely's connection instead.
    if (this.main.inTransaction) return super.commitLeases(changes);
    this.writeLeases(changes);
  }

  /** The claim on the lease writer's thread (one IMMEDIATE transaction), or as commitLeases falls back. */
  override async claimLeases(changes: StoredLease[], claim: LeaseClaim): Promise<StoredLease[]> {
    if (!changes.length) return [];
    if (this.writers?.leases.alive) return this.writers.leases.write({ leases: changes, claim });
    if (this.main.inTransaction) return super.claimLeases(changes, claim);
    return this.writeLeases({ leases: changes, claim });
  }

  override async writeBootLog(events: BootEvent[], seen: [string, SeenFacts][]): Promise<void> {
    if (this.writers?.log.alive) return this.writers.log.write({ events, seen });
    await whenNotBusy(() => this.appendLog({ events, seen }));
  }

  override async touchToken(id: string, at: string): Promise<void> {
    await whenNotBusy(() => this.touch.run(at, id, at));
  }

  // The API's listing path, straight to prepared statements: building these through the query builder cost more
  // than running them (a page of 100 with its latest events: ~330 µs → see bench/api).

  override async listMachines(page: { after?: string; limit?: number } = {}): Promise<Machine[]> {
    // Rows as arrays: better-sqlite3 builds them in about half the time of objects (a page of 100: ~85 → ~50 µs).
    return (
      this.reads.page.all(page.after ?? '', page.limit ?? -1) as [string, string | null, string | null, number][]
    ).map(([doc, next_action, last_seen, version]) => toMachine({ doc, next_action, last_seen, version }));
  }

  /** Machine and event JSON built by SQLite's own JSON functions, in C: no parse and re-serialize per row in JS. */
  override async listMachinesJson(page: { after?: string; limit: number }): Promise<{ id: string; json: string }[]> {
    return (this.reads.pageJson.all(page.after ?? '', page.limit) as [string, string, string | null][]).map(
      ([id, machine, event]) => ({ id, json: event ? `${machine.slice(0, -1)},"lastEvent":${event}}` : machine }),
    );
  }

  /**
   * The boot path's lookup, once per script request: the query builder's version (with `LIMIT ?`) cost ~50 µs, a
   * prepared statement with `LIMIT 1` ~7 µs (bench/http). Same order of identities as SqlStore.findMachine.
   */
  override async findMachine(q: MachineLookup): Promise<Machine | undefined> {
    // Inside an open apply, this connection would read its uncommitted rows: queue behind it as commitLeases does.
    if (this.main.inTransaction) return super.findMachine(q);
    const mac = q.mac ? normalizeMac(q.mac) : undefined;
    const row = ((mac && this.reads.byMac.get(mac)) ||
      (q.uuid && this.reads.byUuid.get(q.uuid.toLowerCase())) ||
      (q.serial && this.reads.bySerial.get(q.serial)) ||
      (q.hostname && this.reads.byHostname.get(q.hostname.toLowerCase()))) as
      | { doc: string; next_action: string | null; last_seen: string | null; version: number }
      | undefined;
    return row ? toMachine(row) : undefined;
  }

  override async getToken(id: string) {
    const r = this.reads.token.get(id) as Parameters<typeof toToken>[0] | undefined;
    return r ? toToken(r) : undefined;
  }

  override async countMachines(): Promise<number> {
    return (this.reads.count.get() as { n: number }).n;
  }

  override async latestEvents(
    machineIds: string[],
    options: { brief?: boolean } = {},
  ): Promise<Map<string, BootEvent>> {
    const out = new Map<string, BootEvent>();
    if (!machineIds.length) return out;
    const query = options.brief ? this.reads.latestBrief : this.reads.latest;
    for (const row of query.all(JSON.stringify([...new Set(machineIds)]))) {
      const e = toEvent(row as Parameters<typeof toEvent>[0]);
      if (e.machineId !== undefined) out.set(e.machineId, e);
    }
    return out;
  }
}

function hotReads(db: SQLite.Database) {
  return {
    // Ids are never empty, so `id > ''` is every machine; LIMIT -1 is no limit in SQLite.
    page: db
      .prepare<[string, number]>(
        'SELECT doc, next_action, last_seen, version FROM machines WHERE id > ? ORDER BY id LIMIT ?',
      )
      .raw(true),
    count: db.prepare('SELECT count(*) AS n FROM machines'),
    byMac: db.prepare<[string]>(
      'SELECT m.doc, m.next_action, m.last_seen, m.version FROM machine_macs x JOIN machines m ON m.id = x.machine_id ' +
        'WHERE x.mac = ? ORDER BY m.id LIMIT 1',
    ),
    byUuid: db.prepare<[string]>(
      'SELECT doc, next_action, last_seen, version FROM machines WHERE uuid = ? ORDER BY id LIMIT 1',
    ),
    bySerial: db.prepare<[string]>(
      'SELECT doc, next_action, last_seen, version FROM machines WHERE serial = ? ORDER BY id LIMIT 1',
    ),
    byHostname: db.prepare<[string]>(
      'SELECT doc, next_action, last_seen, version FROM machines WHERE hostname = ? ORDER BY id LIMIT 1',
    ),
    token: db.prepare<[string]>('SELECT * FROM api_tokens WHERE id = ?'),
    // Splices of the stored canonical JSON (a document is a non-empty object, next action, facts and decision are
    // JSON): concatenation costs a third of json_patch/json_object, which parse what is already JSON. The event is
    // the machine's newest, in the shape toEvent gives, facts left out (brief).
    pageJson: db
      .prepare<[string, number]>(
        `SELECT m.id,
           substr(m.doc, 1, length(m.doc) - 1)
             || coalesce(',"nextAction":' || m.next_action, '') || coalesce(',"lastSeen":' || m.last_seen, '') || ',"version":' || m.version || '}',
           (SELECT '{"id":' || e.id || ',"at":' || json_quote(e.at) || ',"machineId":' || json_quote(e.machine_id)
                   || ',"mac":' || json_quote(e.mac) || ',"stage":' || json_quote(e.stage)
                   || ',"facts":{},"decision":' || e.decision || '}'
              FROM boot_events e
             WHERE e.id = (SELECT max(b.id) FROM boot_events b WHERE b.machine_id = m.id))
         FROM machines m WHERE m.id > ? ORDER BY m.id LIMIT ?`,
      )
      .raw(true),
    // One max(id) probe of the (machine_id, id) index per machine, the ids passed as one JSON array.
    latest: db.prepare<[string]>(
      'SELECT e.* FROM json_each(?) j JOIN boot_events e ON e.id = ' +
        '(SELECT max(b.id) FROM boot_events b WHERE b.machine_id = j.value)',
    ),
    latestBrief: db.prepare<[string]>(
      "SELECT e.id, e.at, e.machine_id, e.mac, e.stage, '{}' AS facts, e.decision FROM json_each(?) j " +
        'JOIN boot_events e ON e.id = (SELECT max(b.id) FROM boot_events b WHERE b.machine_id = j.value)',
    ),
  };
}

/** A write on the log connection. The main one may hold a write transaction across awaits (apply): wait, not block. */
async function whenNotBusy(write: () => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      write();
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 500) throw err;
      await sleep(10);
    }
  }
}

function connect(file: string, synchronous: 'FULL' | 'NORMAL', busyMs: number): SQLite.Database {
  let db: SQLite.Database;
  try {
    db = new SQLite(file);
  } catch (err) {
    throw new BootherdError('STORE', `cannot open SQLite database ${file}: ${(err as Error).message}`);
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${busyMs}`);
  return db;
}

/**
 * kysely's SQLite driver prepares every statement anew, which costs more than running it. Queries come from a small,
 * fixed set of shapes, so keep their prepared statements (bounded, in case a caller ever builds SQL from data).
 */
function cachePreparedStatements(db: SQLite.Database): void {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= 256) cache.clear();
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as SQLite.Database['prepare'];
}

/**
 * Transactions that take the write lock when they begin (`BEGIN IMMEDIATE`). Every transaction the store opens
 * writes, most after reading (an apply compares before it writes). A deferred one takes the lock at its first write,
 * and in WAL mode that upgrade fails at once, busy_timeout or not, when another connection committed since the
 * transaction's first read (SQLite: SQLITE_BUSY_SNAPSHOT): the CLI's `apply` failed with "database is locked" when the
 * server's boot-log writer committed in between. An immediate one waits for the lock (busy_timeout) instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
export class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: SqliteDialectConfig) {
    super(sqlite);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.sqlite);
  }
}

export async function openSqliteStore(file: string): Promise<SqlStore> {
  const memory = file === ':memory:';
  if (!memory) mkdirSync(dirname(file), { recursive: true });
  const main = connect(file, 'FULL', 5000);
  cachePreparedStatements(main);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: main }) });
  try {
    await migrateSql(db, 'sqlite', `sqlite:${file}`);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  // An in-memory database exists only on its own connection.
  const log = memory ? main : connect(file, 'NORMAL', 0);
  const writers = memory ? undefined : { log: new WriterThread(file, 'log'), leases: new WriterThread(file, 'leases') };
  return new SqliteStore(db, main, log, writers);
}

/** `bootherd migrate`: bring the file to the current schema without opening a store; returns the migrations applied. */
export async function migrateSqlite(file: string): Promise<string[]> {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: connect(file, 'FULL', 5000) }) });
  try {
    return await migrateSql(db, 'sqlite', `sqlite:${file}`);
  } finally {
    await db.destroy();
  }
}
