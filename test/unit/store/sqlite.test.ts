import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { type Compilable, Kysely, Migrator, SqliteDialect } from 'kysely';
import type { BootherdError } from '../../../src/errors.ts';
import { migrateStore } from '../../../src/store/index.ts';
import { migrationProvider } from '../../../src/store/migrations.ts';
import { eventsQuery, latestEventsQuery } from '../../../src/store/sql-events.ts';
import type { Database } from '../../../src/store/sql-schema.ts';
import { ImmediateSqliteDialect, openSqliteStore } from '../../../src/store/sqlite.ts';
import { ackedBeforeKill } from '../../lib/acked-writes.ts';
import { cli } from '../../lib/cli.ts';
import { storeConformance } from './conformance.ts';
import { token } from './conformance-tokens.ts';

const tempFile = (prefix: string) => join(mkdtempSync(join(tmpdir(), prefix)), 'bootherd.db');

storeConformance('sqlite (file)', async () =>
  openSqliteStore(join(mkdtempSync(join(tmpdir(), 'bh-store-')), 'bootherd.db')),
);
storeConformance('sqlite (:memory:)', async () => openSqliteStore(':memory:'));

test('sqlite: an acknowledged write survives SIGKILL of the writer', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'bh-durable-')), 'bootherd.db');
  // The child acknowledges each write on stdout only after the store's promise resolved; we kill it mid-stream.
  const acked = await ackedBeforeKill(`
    const { openSqliteStore } = await import('${new URL('../../../src/store/sqlite.ts', import.meta.url).pathname}');
    const s = await openSqliteStore(${JSON.stringify(file)});
    for (let i = 0; ; i++) {
      await s.putMachine({ id: 'm' + i, macs: [], labels: {} });
      ack('m' + i);
    }`);
  const s = await openSqliteStore(file);
  try {
    for (const id of acked) assert.ok(await s.getMachine(id), `acknowledged machine ${id} is in the database`);
  } finally {
    await s.close();
  }
});

test('sqlite: a lease commit during an open apply transaction is durable on its own, not part of the apply', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'bh-lease-tx-')), 'bootherd.db');
  const s = await openSqliteStore(file);
  try {
    // An apply that fails after a MAC conflict rolls back; a lease committed meanwhile must survive that rollback.
    const inv = {
      profiles: [],
      groups: [],
      machines: [
        { id: 'a', macs: ['52:54:00:00:00:01'], labels: {} },
        { id: 'b', macs: ['52:54:00:00:00:01'], labels: {} },
      ],
    };
    const lease = { ip: '192.0.2.100', mac: '52:54:00:00:00:09', state: 'bound' as const, expiresAt: 1 };
    const applying = s.apply(inv, { prune: false }).then(
      () => undefined,
      (err: Error) => err,
    );
    // Let the apply transaction begin: its statements are chained by promises, so a few microtasks in it is open.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await s.commitLeases([lease]);
    assert.match(String(await applying), /already used/);
    // Without the guard the upsert nests as a savepoint in the apply and is rolled back with it: no lease.
    assert.deepEqual(await s.loadLeases(), [lease]);
  } finally {
    await s.close();
  }
});

test('sqlite: a token write survives closing and reopening the store, and so does a recorded use', async () => {
  const file = tempFile('bh-token-');
  const s = await openSqliteStore(file);
  await s.putToken(token('t1', '2026-01-01T00:00:00.000Z'));
  await s.touchToken('t1', '2026-01-02T00:00:00.000Z');
  await s.close();
  const again = await openSqliteStore(file);
  try {
    assert.deepEqual(
      await again.getToken('t1'),
      token('t1', '2026-01-01T00:00:00.000Z', { lastUsedAt: '2026-01-02T00:00:00.000Z' }),
    );
  } finally {
    await again.close();
  }
});

test('sqlite: machines from before applied_next was recorded do not get a consumed one-shot re-armed', async () => {
  const file = tempFile('bh-upgrade-');
  const raw = new SQLite(file);
  const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  await new Migrator({ db: old, provider: migrationProvider('sqlite') }).migrateTo('0002_dhcp_leases');
  // web1 was installed under the old version: its file says `next: install`, the one-shot was consumed.
  raw
    .prepare('INSERT INTO machines (id, doc, next_action) VALUES (?, ?, ?)')
    .run('web1', JSON.stringify({ id: 'web1', macs: [], labels: {} }), JSON.stringify({ action: 'local' }));
  await old.destroy();
  const s = await openSqliteStore(file);
  try {
    const doc = (action: 'install' | 'menu') => ({
      profiles: [],
      groups: [],
      machines: [{ id: 'web1', macs: [], labels: {}, nextAction: { action } }],
    });
    await s.apply(doc('install'), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'local' });
    await s.apply(doc('menu'), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'menu' }, 'a changed `next` still arms');
  } finally {
    await s.close();
  }
});

test('sqlite: boot-log reads stay on an index, without sorting, for every filter', async () => {
  const file = tempFile('bh-plan-');
  await (await openSqliteStore(file)).close();
  const raw = new SQLite(file);
  // No statistics (no ANALYZE), as on a fresh install: the planner must still pick the narrow index.
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  const plan = (q: Compilable) => {
    const c = q.compile();
    const rows = raw.prepare(`EXPLAIN QUERY PLAN ${c.sql}`).all(...c.parameters) as { detail: string }[];
    return rows.map((r) => r.detail).join(' | ');
  };
  try {
    const cases: [Parameters<typeof eventsQuery>[1], RegExp][] = [
      [{ before: 10 }, /USING INTEGER PRIMARY KEY \(rowid<\?\)/],
      [{ machineId: 'a' }, /USING INDEX boot_events_machine \(machine_id=\?\)/],
      [{ mac: 'm', before: 10 }, /USING INDEX boot_events_mac \(mac=\? AND id<\?\)/],
      [{ stage: 'callback' }, /USING INDEX boot_events_stage \(stage=\?\)/],
      [{ stage: 'dhcp', before: 10 }, /USING INDEX boot_events_stage \(stage=\? AND id<\?\)/],
      [{ machineId: 'a', stage: 'http' }, /USING INDEX boot_events_machine \(machine_id=\?\)/],
      [{ mac: 'm', stage: 'http', before: 10 }, /USING INDEX boot_events_mac \(mac=\? AND id<\?\)/],
    ];
    for (const [filter, expected] of cases) {
      const p = plan(eventsQuery(db, filter));
      assert.match(p, expected, JSON.stringify(filter));
      assert.doesNotMatch(p, /TEMP B-TREE/, JSON.stringify(filter));
    }
    const latest = plan(latestEventsQuery(db, ['a', 'b', 'c']));
    assert.match(latest, /SEARCH b USING COVERING INDEX boot_events_machine \(machine_id=\?\)/);
    assert.doesNotMatch(latest, /SCAN (boot_events|b)\b/);
  } finally {
    await db.destroy();
  }
});

test('sqlite: a database migrated by a newer bootherd is refused, naming the migration', async () => {
  const file = tempFile('bh-newer-');
  await (await openSqliteStore(file)).close();
  const raw = new SQLite(file);
  raw
    .prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)')
    .run('0099_from_the_future', '2030-01-01T00:00:00.000Z');
  raw.close();
  for (const attempt of [() => openSqliteStore(file), () => migrateStore(`sqlite:${file}`)]) {
    await assert.rejects(attempt(), (err) => {
      assert.equal((err as BootherdError).code, 'STORE_SCHEMA_NEWER');
      assert.match((err as Error).message, /"0099_from_the_future"/);
      assert.match((err as Error).message, /upgrade bootherd/);
      return true;
    });
  }
});

test('sqlite: `bootherd migrate` brings a database to the current schema once and says what it applied', async () => {
  const file = tempFile('bh-migrate-');
  const raw = new SQLite(file);
  const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  await new Migrator({ db: old, provider: migrationProvider('sqlite') }).migrateTo('0003_applied_next');
  await old.destroy();
  const first = await cli(['migrate', '--store', `sqlite:${file}`]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stdout,
    'applied 0004_tokens\napplied 0005_boot_events_stage\napplied 0006_servers\napplied 0007_versions\n' +
      `applied 0008_dhcp_fleet\napplied 0009_inventory_changes\nsqlite:${file}: 6 migrations applied\n`,
  );
  const again = await cli(['migrate', '--store', `sqlite:${file}`]);
  assert.equal(again.stdout, `sqlite:${file}: schema already current\n`);
});

test('sqlite: a store transaction that reads before it writes survives another connection committing in between', async () => {
  const file = tempFile('bh-immediate-');
  await (await openSqliteStore(file)).close(); // the schema
  // No busy wait on this one: a write it cannot make at once fails at once (it runs on this thread).
  const other = new SQLite(file, { timeout: 0 });
  other.pragma('journal_mode = WAL');
  const insertProfile = (name: string) =>
    other.prepare('INSERT INTO profiles (name, doc) VALUES (?, ?)').run(name, JSON.stringify({ name, local: true }));
  for (const dialect of ['deferred', 'immediate'] as const) {
    const db = new Kysely<Database>({
      dialect:
        dialect === 'immediate'
          ? new ImmediateSqliteDialect({ database: new SQLite(file) })
          : new SqliteDialect({ database: new SQLite(file) }),
    });
    // Read, let the other connection commit, then write: what an apply does while the boot log commits.
    const run = db.transaction().execute(async (trx) => {
      await trx.selectFrom('profiles').selectAll().execute();
      await new Promise((r) => setTimeout(r, 50));
      await trx
        .insertInto('groups')
        .values({ name: `g-${dialect}`, doc: '{}' })
        .execute();
    });
    await new Promise((r) => setTimeout(r, 10));
    let otherCommitted = true;
    try {
      insertProfile(`p-${dialect}`);
    } catch (err) {
      // The immediate transaction holds the write lock from its start: the other writer waits (here: gives up).
      assert.equal((err as { code?: string }).code, 'SQLITE_BUSY');
      otherCommitted = false;
    }
    if (dialect === 'deferred') {
      // The control: the other connection got in, and the deferred transaction's write fails, busy_timeout or not.
      assert.equal(otherCommitted, true);
      await assert.rejects(run, /database is locked/);
    } else {
      assert.equal(otherCommitted, false);
      await run;
    }
    await db.destroy();
  }
  other.close();
});
