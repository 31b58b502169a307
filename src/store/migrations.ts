/**
 * The one migration list for every SQL engine. Append only: a released migration never changes. Types are kept to
 * what SQLite and PostgreSQL share (text, integer); JSON documents are text so both engines store them alike.
 */
import { type ColumnDataType, type Expression, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/**
 * `applied_next` of machines that existed before it was recorded: what their last apply named is unknown, and
 * assuming "nothing" would re-arm every consumed one-shot (a reinstall) on the first start after the upgrade. Apply
 * treats it as "the document's `next` was already applied". Not JSON, so it equals no real action.
 */
export const APPLIED_NEXT_UNKNOWN = '?';

function migrations(dialect: Dialect): Record<string, Migration> {
  // PostgreSQL compares and sorts text by the database's locale (en_US puts 'a-b' after 'ab' and ignores case at
  // first); SQLite and the memory engine compare code points. Byte order ("C") keeps listings, paging by id and
  // ISO-time comparisons the same on every engine. (No PostgreSQL database predates this: the SQLite text is as released.)
  const text: ColumnDataType | Expression<unknown> = dialect === 'postgres' ? sql`text collate "C"` : 'text';
  return {
    '0001_inventory': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('profiles')
          .addColumn('name', text, (c) => c.primaryKey())
          .addColumn('doc', text, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('groups')
          .addColumn('name', text, (c) => c.primaryKey())
          .addColumn('doc', text, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('machines')
          .addColumn('id', text, (c) => c.primaryKey())
          .addColumn('doc', text, (c) => c.notNull())
          .addColumn('uuid', text)
          .addColumn('serial', text)
          .addColumn('hostname', text)
          .addColumn('next_action', text)
          .addColumn('last_seen', text)
          .execute();
        await db.schema.createIndex('machines_uuid').on('machines').column('uuid').execute();
        await db.schema.createIndex('machines_serial').on('machines').column('serial').execute();
        await db.schema.createIndex('machines_hostname').on('machines').column('hostname').execute();
        // A MAC belongs to one machine: the primary key makes a second claim fail instead of shadowing the first.
        await db.schema
          .createTable('machine_macs')
          .addColumn('mac', text, (c) => c.primaryKey())
          .addColumn('machine_id', text, (c) => c.notNull().references('machines.id').onDelete('cascade'))
          .execute();
        await db.schema.createIndex('machine_macs_machine').on('machine_macs').column('machine_id').execute();
        await db.schema
          .createTable('boot_events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', text, (c) => c.notNull())
          .addColumn('machine_id', text)
          .addColumn('mac', text, (c) => c.notNull())
          .addColumn('stage', text, (c) => c.notNull())
          .addColumn('facts', text, (c) => c.notNull())
          .addColumn('decision', text, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('boot_events_machine').on('boot_events').columns(['machine_id', 'id']).execute();
        await db.schema.createIndex('boot_events_mac').on('boot_events').columns(['mac', 'id']).execute();
      },
    },
    '0002_dhcp_leases': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('dhcp_leases')
          .addColumn('ip', text, (c) => c.primaryKey())
          .addColumn('mac', text, (c) => c.notNull())
          .addColumn('client_id', text)
          .addColumn('hostname', text)
          .addColumn('state', text, (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('dhcp_leases_mac').on('dhcp_leases').column('mac').execute();
      },
    },
    '0003_applied_next': {
      async up(db: Kysely<unknown>) {
        // The next action the last applied document named, so a re-apply does not re-arm a consumed one-shot.
        await db.schema.alterTable('machines').addColumn('applied_next', text).execute();
        await sql`update machines set applied_next = ${APPLIED_NEXT_UNKNOWN}`.execute(db);
      },
    },
    '0004_tokens': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('api_tokens')
          .addColumn('id', text, (c) => c.primaryKey())
          .addColumn('name', text, (c) => c.notNull())
          .addColumn('scope', text, (c) => c.notNull())
          .addColumn('hash', text, (c) => c.notNull())
          .addColumn('created_at', text, (c) => c.notNull())
          .addColumn('last_used_at', text)
          .execute();
      },
    },
    '0005_boot_events_stage': {
      async up(db: Kysely<unknown>) {
        // Events filtered by stage alone, newest first, without walking the whole log for a rare stage.
        await db.schema.createIndex('boot_events_stage').on('boot_events').columns(['stage', 'id']).execute();
      },
    },
    '0006_servers': {
      async up(db: Kysely<unknown>) {
        // The servers sharing this store (bootherd servers): urls is a JSON array; times are ISO text.
        await db.schema
          .createTable('servers')
          .addColumn('id', text, (c) => c.primaryKey())
          .addColumn('name', text, (c) => c.notNull())
          .addColumn('version', text, (c) => c.notNull())
          .addColumn('started_at', text, (c) => c.notNull())
          .addColumn('heartbeat_at', text, (c) => c.notNull())
          .addColumn('stopped_at', text)
          .addColumn('urls', text, (c) => c.notNull())
          .execute();
      },
    },
    '0007_versions': {
      async up(db: Kysely<unknown>) {
        // Optimistic locking: every write of a machine bumps its version; a write naming an older one is refused.
        await db.schema
          .alterTable('machines')
          .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
          .execute();
      },
    },
    '0008_dhcp_fleet': {
      async up(db: Kysely<unknown>) {
        // Several DHCP servers on one database: which server's claim wrote a lease (sql-leases.ts), and which
        // servers take part in the load balance (1; null: DHCP off, proxy, or load_balance off).
        await db.schema.alterTable('dhcp_leases').addColumn('server', text).execute();
        await db.schema.alterTable('servers').addColumn('dhcp_share', 'integer').execute();
      },
    },
    '0009_inventory_changes': {
      async up(db: Kysely<unknown>) {
        // SQLite: the CLI writes the server's file from another process and tells nobody. Triggers log every committed
        // inventory change, whoever wrote it, so the server's in-memory caches can follow (sqlite.ts, othersChanges).
        // PostgreSQL announces writes through LISTEN/NOTIFY (pg-feed.ts): nothing to create there.
        if (dialect !== 'sqlite') return;
        await db.schema
          .createTable('inventory_changes')
          .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('id', 'text')
          .execute();
        // One row per changed record: after an update, its key before and (when the update changed it) after.
        const logged = async (table: string, kind: string, key: string, updateOf = '') => {
          const add = (row: string, where = '') =>
            `insert into inventory_changes (kind, id) select '${kind}', ${row}.${key}${where}; `;
          const triggers: [name: string, event: string, body: string][] = [
            ['insert', 'insert', add('new')],
            ['update', `update${updateOf}`, add('new') + add('old', ` where old.${key} is not new.${key}`)],
            ['delete', 'delete', add('old')],
          ];
          for (const [name, event, body] of triggers) {
            await sql
              .raw(`create trigger ${table}_changes_${name} after ${event} on ${table} begin ${body}end`)
              .execute(db);
          }
        };
        // Every column but last_seen, which the boot log rewrites on every boot: telemetry, not an inventory change.
        // A migration that adds a column to machines must recreate this trigger with it.
        await logged(
          'machines',
          'machine',
          'id',
          ' of id, doc, uuid, serial, hostname, next_action, applied_next, version',
        );
        // A machine's MACs are rows of their own (looked up by): written with the machine today, logged regardless.
        await logged('machine_macs', 'machine', 'machine_id');
        await logged('profiles', 'profile', 'name');
        await logged('groups', 'group', 'name');
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
