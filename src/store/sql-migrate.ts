/**
 * Bringing a SQL database to this binary's schema, for both engines: refuse a database a newer bootherd has
 * migrated (its tables may mean something this version does not know), then apply what is missing.
 */
import { DEFAULT_MIGRATION_TABLE, type Kysely, Migrator, sql } from 'kysely';
import { BootherdError } from '../errors.ts';
import { type Dialect, migrationProvider } from './migrations.ts';
import type { Database } from './sql-schema.ts';

/** Names of the migrations already applied, in order; none for a database kysely has not migrated yet. */
async function appliedMigrations(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  // to_regclass follows the search_path, as the migrator does; introspection would list every schema's tables.
  const exists =
    dialect === 'postgres'
      ? sql<{ n: number }>`select count(to_regclass(${DEFAULT_MIGRATION_TABLE})) as n`
      : sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${DEFAULT_MIGRATION_TABLE}`;
  const { rows } = await exists.execute(db);
  if (!Number(rows[0]?.n)) return [];
  const names = await sql<{
    name: string;
  }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)} order by name`.execute(db);
  return names.rows.map((r) => r.name);
}

/**
 * Apply the missing migrations; returns the names applied (none when the schema is current). `where` names the
 * database for the operator, never with a password.
 */
export async function migrateSql(db: Kysely<Database>, dialect: Dialect, where: string): Promise<string[]> {
  const provider = migrationProvider(dialect);
  const known = Object.keys(await provider.getMigrations()).sort();
  const unknown = (await appliedMigrations(db, dialect)).filter((name) => !known.includes(name));
  if (unknown.length) {
    throw new BootherdError(
      'STORE_SCHEMA_NEWER',
      `store ${where}: the database schema is newer than this bootherd: migration ${unknown.map((n) => `"${n}"`).join(', ')} ` +
        `is not one it knows (it knows up to "${known.at(-1)}"). A newer bootherd migrated this database: upgrade ` +
        'bootherd to that version (or newer); running an older one against it could corrupt the inventory.',
    );
  }
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
    throw new BootherdError('STORE', `store ${where}: migration ${failed} failed: ${(error as Error).message}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
