/**
 * The SQLite engine's writer threads. The boot log's: batches land in the order they were handed over, closing waits
 * for every one of them, and a writer that cannot open its database fails its writes (the store then writes on its
 * own connection). The leases': commits land in the store's own table, the later change of an address wins, and a
 * commit that cannot be written rejects, so its ACK is withheld.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BootEvent } from '../../src/model/types.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { WriterThread } from '../../src/store/sqlite-writer.ts';

const T0 = Date.UTC(2026, 11, 3);

const event = (i: number): BootEvent => ({
  id: 0,
  at: new Date(Date.UTC(2026, 11, 3, 0, 0, 0, i)).toISOString(),
  mac: '52:54:00:00:00:01',
  stage: 'http',
  facts: { mac: '52:54:00:00:00:01', ip: '192.0.2.10' },
  decision: { kind: 'local', n: i },
});

describe('SQLite writer threads', () => {
  it('writes batches in order and has written all of them when close returns', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bh-logw-')), 'b.db');
    await (await openSqliteStore(file)).close(); // the schema
    const writer = new WriterThread(file, 'log');
    const writes = [];
    for (let b = 0; b < 20; b++)
      writes.push(writer.write({ events: Array.from({ length: 50 }, (_, i) => event(b * 50 + i)), seen: [] }));
    await Promise.all(writes);
    await writer.close();
    assert.equal(writer.alive, false);
    const store = await openSqliteStore(file);
    const got = await store.listEvents({ limit: 2000 });
    await store.close();
    assert.equal(got.length, 1000);
    // listEvents is newest first: ids and the order of writing agree.
    assert.deepEqual(
      got.map((e) => e.decision.n),
      Array.from({ length: 1000 }, (_, i) => 999 - i),
    );
  });

  it('the store closes with its last batch written', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bh-logw-')), 'b.db');
    const store = await openSqliteStore(file);
    const pending = store.writeBootLog([event(1), event(2)], []);
    await store.close();
    await pending;
    const again = await openSqliteStore(file);
    assert.equal((await again.listEvents({ limit: 10 })).length, 2);
    await again.close();
  });

  it('a writer whose database cannot be opened rejects its writes and reports itself dead', async () => {
    const writer = new WriterThread(join(mkdtempSync(join(tmpdir(), 'bh-logw-')), 'no', 'such', 'dir', 'b.db'), 'log');
    await assert.rejects(writer.write({ events: [event(1)], seen: [] }));
    assert.equal(writer.alive, false);
  });

  it('lease commits are durable in the store table, the later change of an address wins', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bh-leases-')), 'bootherd.db');
    const store = await openSqliteStore(file);
    const writer = new WriterThread(file, 'leases');
    try {
      await writer.write([
        { ip: '192.0.2.10', mac: '52:54:00:00:00:01', state: 'bound', expiresAt: T0 + 1 },
        { ip: '192.0.2.11', mac: '52:54:00:00:00:02', clientId: '01ab', hostname: 'n2', state: 'bound', expiresAt: T0 },
      ]);
      await Promise.all([
        writer.write([{ ip: '192.0.2.10', mac: '52:54:00:00:00:01', state: 'released', expiresAt: T0 + 2 }]),
        writer.write([]),
      ]);
      assert.deepEqual(await store.loadLeases(), [
        { ip: '192.0.2.10', mac: '52:54:00:00:00:01', state: 'released', expiresAt: T0 + 2 },
        { ip: '192.0.2.11', mac: '52:54:00:00:00:02', clientId: '01ab', hostname: 'n2', state: 'bound', expiresAt: T0 },
      ]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('a lease commit to a database without the lease table rejects', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bh-leases-')), 'empty.db');
    const writer = new WriterThread(file, 'leases');
    try {
      await assert.rejects(
        writer.write([{ ip: '192.0.2.10', mac: '52:54:00:00:00:01', state: 'bound', expiresAt: T0 }]),
        /no such table: dhcp_leases/,
      );
    } finally {
      await writer.close();
    }
  });

  it("the store's commitLeases goes through the lease writer and is on disk when it resolves", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bh-leases-')), 'bootherd.db');
    const store = await openSqliteStore(file);
    await store.commitLeases([{ ip: '192.0.2.20', mac: '52:54:00:00:00:03', state: 'bound', expiresAt: T0 }]);
    // A second, independent connection sees the row before the store is closed.
    const other = await openSqliteStore(file);
    assert.deepEqual(await other.loadLeases(), [
      { ip: '192.0.2.20', mac: '52:54:00:00:00:03', state: 'bound', expiresAt: T0 },
    ]);
    await other.close();
    await store.close();
  });
});
