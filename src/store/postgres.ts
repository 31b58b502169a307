/**
 * PostgreSQL through pg's connection pool and kysely's PostgresDialect: the same queries as SQLite (sql-store.ts).
 * A write resolves once its COMMIT (or its single autocommitted statement) has returned, which with PostgreSQL's
 * defaults (fsync on, synchronous_commit on) means flushed to its WAL. The one-shot compare-and-swap is one
 * `UPDATE ... WHERE next_action = $expected` whose row count says who won: under READ COMMITTED a racing UPDATE
 * waits for the row lock and then re-checks its WHERE against the new row ("the second updater ... will re-evaluate
 * its WHERE clause", PostgreSQL manual 13.2.1), so it matches nothing.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { BootherdError } from '../errors.ts';
import { PgChangeFeed, publishChange, type Writer } from './pg-feed.ts';
import { migrateSql } from './sql-migrate.ts';
import type { Database, Db } from './sql-schema.ts';
import { SqlStore } from './sql-store.ts';
import type { StoreChange } from './types.ts';

export interface PostgresOptions {
  /** How long the first connection is retried, for a database that starts with us; default 30 s. */
  connectBudgetMs?: number;
  /** A pooled connection failed while idle (server restart, network cut): reported, the pool opens a new one. */
  onError?: (err: BootherdError) => void;
  /** Who this store's writes come from in the change feed (the server registry's id); default: a random one. */
  serverId?: string;
}

/** Serializes migrations of servers starting together on one database ("bootherd" as 8 bytes). */
const MIGRATION_LOCK = sql.raw('7093010483890188900');

/** The database in messages: host:port/database from the URL, never its user's password. */
export function postgresWhere(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(an unparseable postgres:// URL)';
  }
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  const port = u.port || u.searchParams.get('port') || '5432';
  const db = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres';
  return `${host}:${port}/${db}`;
}

/** A driver message with every spelling of the URL's password blanked: pg never puts it there, but be sure. */
function scrub(url: string, message: string): string {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    return message;
  }
  if (!password) return message;
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {}
  for (const p of new Set([password, decoded])) message = message.split(p).join('***');
  return message;
}

/** What failed, readable: Node gives an AggregateError with an empty message when every address refused. */
function reasonOf(err: unknown): string {
  const e = err as Error & { code?: string; errors?: unknown[] };
  if (e?.message) return e.message;
  if (Array.isArray(e?.errors) && e.errors.length) return [...new Set(e.errors.map(reasonOf))].join('; ');
  return e?.code ?? String(err);
}

/**
 * Worth retrying: the network or a server that is starting, full or shutting down. A server's definite "no" (bad
 * password, no such database or role) is not: waiting does not change it.
 */
function transient(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) return ['57P01', '57P02', '57P03', '53300'].includes(err.code ?? '');
  const e = err as { code?: unknown; errors?: unknown; message?: unknown };
  // A socket error (ECONNREFUSED, EHOSTUNREACH, ...; several at once when a name has more addresses), pg's connect
  // timeout, or a connection closed during the handshake. Not: a bad URL or TLS setting, which stays bad.
  return (
    (typeof e?.code === 'string' && e.code.startsWith('E')) ||
    Array.isArray(e?.errors) ||
    /timeout|terminated/i.test(String(e?.message))
  );
}

function unreachable(url: string, err: unknown, detail = ''): BootherdError {
  const what = err instanceof pg.DatabaseError ? 'refused the connection' : 'cannot be reached';
  return new BootherdError(
    'STORE_UNAVAILABLE',
    scrub(url, `store: PostgreSQL at ${postgresWhere(url)} ${what}: ${reasonOf(err)}${detail}`),
  );
}

/** The first connection, retried with capped exponential backoff (0.25, 0.5, 1, 2, 4, 4 ... s) within the budget. */
async function firstConnection(pool: pg.Pool, url: string, budgetMs: number): Promise<void> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      (await pool.connect()).release();
      return;
    } catch (err) {
      const delay = Math.min(250 * 2 ** (attempt - 1), 4000);
      const elapsed = Date.now() - started;
      if (!transient(err) || elapsed + delay > budgetMs) {
        const tried = attempt > 1 ? ` (gave up after ${attempt} attempts in ${Math.round(elapsed / 1000)} s)` : '';
        throw unreachable(url, err, tried);
      }
      await sleep(delay);
    }
  }
}

async function connect(url: string, options: PostgresOptions): Promise<Kysely<Database>> {
  if (!URL.canParse(url)) {
    // Not echoed: it may hold a password.
    throw new BootherdError(
      'CONFIG_INVALID',
      'store: the postgres:// URL is not a valid URL (percent-encode the password)',
    );
  }
  // bigint (int8) arrives as text by default: ids, counts and ms times stay far below 2^53, read them as numbers.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, Number);
  const pool = new pg.Pool({
    connectionString: url,
    types,
    max: 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  const report = options.onError ?? ((err: BootherdError) => process.stderr.write(`bootherd: ${err.message}\n`));
  pool.on('error', (err) =>
    report(
      new BootherdError(
        'STORE_UNAVAILABLE',
        scrub(
          url,
          `store: PostgreSQL at ${postgresWhere(url)}: an idle pooled connection was lost (${reasonOf(err)}); ` +
            'the next query opens a new one',
        ),
      ),
    ),
  );
  // pg emits 'error' on a checked-out client whose connection breaks between queries (inside a transaction); with no
  // listener that would crash the process. The query in flight or the next one fails with the reason instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await firstConnection(pool, url, options.connectBudgetMs ?? 30_000);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const dialect = new PostgresDialect({
    pool: {
      connect: () => pool.connect().catch((err: unknown) => Promise.reject(unreachable(url, err))),
      end: () => pool.end(),
    },
  });
  return new Kysely<Database>({ dialect });
}

/** Migrate under a session advisory lock, so of servers starting together one migrates and the others wait. */
async function migrateLocked(db: Kysely<Database>, url: string): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      return await migrateSql(conn, 'postgres', `postgres ${postgresWhere(url)}`);
    } finally {
      // If the connection broke, the server released the lock with the session.
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn).catch(() => undefined);
    }
  });
}

/** The SQL store, with writes published to (and other servers' writes heard from) the change feed. */
class PostgresStore extends SqlStore {
  constructor(
    db: Kysely<Database>,
    private readonly feed: PgChangeFeed,
    private readonly writer: Writer,
  ) {
    super(db, async () => {
      await feed.close();
      await db.destroy();
    });
  }

  protected override notifier() {
    return (db: Db, change: StoreChange) => publishChange(db, change, this.writer);
  }

  override readonly changeFeed = true;

  override watchChanges(listener: (change: StoreChange) => void): () => void {
    return this.feed.watch(listener);
  }
}

export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<SqlStore> {
  const db = await connect(url, options);
  try {
    await migrateLocked(db, url);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  // The instance, not the server id, tells our own notifications apart: a copied data_dir copies the server id.
  const writer = { server: options.serverId ?? randomUUID(), instance: randomUUID() };
  const report = options.onError ?? ((err: BootherdError) => process.stderr.write(`bootherd: ${err.message}\n`));
  const feed = new PgChangeFeed({
    url,
    instance: writer.instance,
    report: (message) =>
      report(new BootherdError('STORE_UNAVAILABLE', `store: PostgreSQL at ${postgresWhere(url)}: ${message}`)),
    describe: (err) => scrub(url, reasonOf(err)),
  });
  return new PostgresStore(db, feed, writer);
}

/** `bootherd migrate`: bring the database to the current schema; returns the migrations applied. */
export async function migratePostgres(url: string, options: PostgresOptions = {}): Promise<string[]> {
  const db = await connect(url, options);
  try {
    return await migrateLocked(db, url);
  } finally {
    await db.destroy();
  }
}
