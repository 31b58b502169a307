/**
 * SQLite's log of committed inventory changes (migration 0009's triggers, SqliteStore.othersChanges): what another
 * process (the CLI on the server's file, played here by a second store) commits is reported to the server's store,
 * boot telemetry is not, and the table stays bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import type { Machine } from '../../../src/model/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import type { Store, StoreChange } from '../../../src/store/types.ts';

const machine = (id: string, macs: string[] = []): Machine => ({ id, macs, labels: {} });
const tempFile = () => join(mkdtempSync(join(tmpdir(), 'bh-changes-')), 'bootherd.db');

/** The records named, once each, in order of first mention. */
function named(changes: StoreChange[]): string[] {
  return [...new Set(changes.map((c) => `${c.kind}/${c.id ?? ''}:${c.op}`))];
}

/** A new reader of the store's unannounced changes. */
function reader(s: Store): () => StoreChange[] {
  assert.ok(s.othersChanges, 'the SQLite store reports changes');
  return s.othersChanges();
}

describe('sqlite: changes committed by another connection', () => {
  const open: Store[] = [];
  const pair = async () => {
    const file = tempFile();
    const server = await openSqliteStore(file);
    const cli = await openSqliteStore(file);
    open.push(server, cli);
    return { file, server, cli };
  };
  after(async () => {
    for (const s of open) await s.close();
  });

  test('inventory writes are reported once each; boot telemetry is not', async () => {
    const { server, cli } = await pair();
    await cli.putMachine(machine('before'));
    const read = reader(server);
    assert.deepEqual(read(), [], 'a reader starts from now');

    await cli.putMachine(machine('m1', ['52:54:00:00:01:01', '52:54:00:00:01:02']));
    assert.deepEqual(named(read()), ['machine/m1:put']);
    assert.deepEqual(read(), [], 'nothing new since');

    assert.ok(await cli.setNextAction('m1', { action: 'install' }));
    assert.deepEqual(named(read()), ['machine/m1:put']);

    // The boot log's writer thread sets last_seen on every boot: not an inventory change.
    const at = new Date().toISOString();
    await cli.writeBootLog(
      [{ at, machineId: 'm1', mac: '52:54:00:00:01:01', stage: 'http', facts: {}, decision: {} }],
      [['m1', { at, mac: '52:54:00:00:01:01' }]],
    );
    assert.equal((await server.getMachine('m1'))?.lastSeen?.at, at, 'the telemetry was committed');
    assert.deepEqual(read(), []);

    await cli.putProfile({ name: 'inst', boot: { kind: 'local' } });
    await cli.putGroup({ name: 'all', selectors: {}, profile: 'inst' });
    assert.ok(await cli.deleteMachine('before'));
    assert.deepEqual(named(read()), ['profile/inst:put', 'group/all:put', 'machine/before:put']);

    // The server's own writes come back too (documented: a cache re-reads the record).
    await server.putMachine(machine('own'));
    assert.deepEqual(named(read()), ['machine/own:put']);
    assert.deepEqual(read(), []);
  });

  test('a burst, or rows pruned before they were read, is one whole-inventory change', async () => {
    const { file, server, cli } = await pair();
    const read = reader(server);
    await cli.apply(
      { profiles: [], groups: [], machines: Array.from({ length: 1200 }, (_, n) => machine(`b${n}`)) },
      {
        prune: false,
      },
    );
    assert.deepEqual(read(), [{ kind: 'inventory', op: 'apply' }]);
    assert.deepEqual(read(), []);

    await cli.putMachine(machine('gone1'));
    await cli.putMachine(machine('gone2'));
    const raw = new SQLite(file);
    try {
      raw.prepare("DELETE FROM inventory_changes WHERE id = 'gone1'").run();
    } finally {
      raw.close();
    }
    assert.deepEqual(read(), [{ kind: 'inventory', op: 'apply' }]);
  });

  test('the table stays bounded: pruned by readers, and at every open', async () => {
    const { file, server } = await pair();
    const read = reader(server);
    const raw = new SQLite(file);
    const count = () => raw.prepare('SELECT count(*) FROM inventory_changes').pluck().get() as number;
    const burst = raw.prepare(
      'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) ' +
        "INSERT INTO inventory_changes (kind, id) SELECT 'machine', 'x' || i FROM n",
    );
    try {
      burst.run();
      assert.equal(count(), 12_000);
      assert.deepEqual(read(), [{ kind: 'inventory', op: 'apply' }]);
      assert.equal(count(), 10_000, 'pruned to the newest 10,000');
      burst.run();
      assert.equal(count(), 22_000);
      open.push(await openSqliteStore(file));
      assert.equal(count(), 10_000, 'pruned when a store opens');
    } finally {
      raw.close();
    }
  });

  test('every reader has its own position', async () => {
    const { server, cli } = await pair();
    const first = reader(server);
    await cli.putMachine(machine('one'));
    const second = reader(server);
    await cli.putMachine(machine('two'));
    assert.deepEqual(named(first()), ['machine/one:put', 'machine/two:put']);
    assert.deepEqual(named(second()), ['machine/two:put']);
    assert.deepEqual(first(), []);
  });

  test('in memory (no other connection), the store still reports its own committed writes', async () => {
    const s = await openSqliteStore(':memory:');
    open.push(s);
    const read = reader(s);
    await s.putMachine(machine('m'));
    assert.deepEqual(named(read()), ['machine/m:put']);
    await s.writeBootLog([], [['m', { at: new Date().toISOString() }]]);
    assert.deepEqual(read(), []);
  });
});
