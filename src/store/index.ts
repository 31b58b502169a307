/** Store URL → engine: `sqlite:<path>` (default), `postgres://` or `postgresql://` (libpq URL), `memory:` (tests). */
import { BootherdError } from '../errors.ts';
import { MemoryStore } from './memory.ts';
import { migratePostgres, openPostgresStore, type PostgresOptions, postgresWhere } from './postgres.ts';
import { migrateSqlite, openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export type StoreOptions = PostgresOptions;

const isPostgres = (url: string) => /^postgres(ql)?:\/\//.test(url);

function notAStore(url: string): BootherdError {
  // Never echo a URL that may carry a password.
  const shown = isPostgres(url) || url.includes('@') ? 'the store URL' : `"${url}"`;
  return new BootherdError(
    'CONFIG_INVALID',
    `store: ${shown} is not a store URL; use sqlite:<path>, postgres://user:password@host:port/database or memory:`,
  );
}

export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  if (url === 'memory:') return new MemoryStore();
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length));
  if (isPostgres(url)) return openPostgresStore(url, options);
  throw notAStore(url);
}

/** The store for an operator's eyes: the URL, but for PostgreSQL only host:port/database (no password). */
export function storeWhere(url: string): string {
  return isPostgres(url) ? `postgres ${postgresWhere(url)}` : url;
}

/** Bring a SQL store's database to this binary's schema; returns the migrations applied, oldest first. */
export async function migrateStore(url: string, options: StoreOptions = {}): Promise<string[]> {
  if (url.startsWith('sqlite:')) return migrateSqlite(url.slice('sqlite:'.length));
  if (isPostgres(url)) return migratePostgres(url, options);
  if (url === 'memory:') throw new BootherdError('CONFIG_INVALID', 'store: memory: has no schema to migrate');
  throw notAStore(url);
}
