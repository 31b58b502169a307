/**
 * The embedded default engine: SQLite through better-sqlite3. WAL with synchronous=FULL makes a commit durable
 * (fsynced) before the call returns, so every Store write is on disk when its promise resolves.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { BootherdError } from '../errors.ts';
import { migrationProvider } from './migrations.ts';
import { type Database, SqlStore } from './sql-store.ts';

export async function openSqliteStore(file: string): Promise<SqlStore> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(file);
  } catch (err) {
    throw new BootherdError('STORE', `cannot open SQLite database ${file}: ${(err as Error).message}`);
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error, results } = await new Migrator({ db, provider: migrationProvider('sqlite') }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new BootherdError('STORE', `SQLite migration ${failed} failed on ${file}: ${(error as Error).message}`);
  }
  return new SqlStore(db);
}
