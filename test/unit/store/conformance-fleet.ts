/**
 * Conformance: what several servers sharing one store rely on: machine versions (optimistic locking), the server
 * registry, and the change feed (a write through one store reaches the others, committed, and never echoes back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BootherdError } from '../../../src/errors.ts';
import type { Machine } from '../../../src/model/types.ts';
import type { ServerRecord, Store, StoreChange } from '../../../src/store/types.ts';

type WithStore = (name: string, fn: (s: Store) => Promise<void>) => void;

/** Two stores on one database, as two servers have them; absent for a single-server engine. */
export type OpenPair = () => Promise<[Store, Store]>;

const web1 = (): Machine => ({ id: 'web1', macs: ['52:54:00:00:00:01'], labels: {}, profile: 'disk' });
const conflict = (err: unknown) => (err as BootherdError).code === 'VERSION_CONFLICT';

const server = (id: string, name: string, extra: Partial<ServerRecord> = {}): ServerRecord => ({
  id,
  name,
  version: '0.1.0',
  startedAt: '2026-01-01T00:00:00.000Z',
  heartbeatAt: '2026-01-01T00:00:02.000Z',
  urls: [`http://${name}:8080`],
  ...extra,
});

/** Collects a store's feed; `next` waits (bounded) for the next change matching. */
function listen(s: Store) {
  const seen: StoreChange[] = [];
  const waiters: (() => void)[] = [];
  const stop = s.watchChanges((c) => {
    seen.push(c);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (match: (c: StoreChange) => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const i = seen.findIndex(match);
      if (i >= 0) return seen.splice(0, i + 1).at(-1)!;
      const left = deadline - Date.now();
      assert.ok(left > 0, `no ${what} on the feed within 10 s; saw ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };
  return { seen, next, stop };
}

export function fleetConformance(withStore: WithStore, openPair?: OpenPair): void {
  withStore('versions: every write of a machine bumps it; a write naming an older one is refused', async (s) => {
    await s.putProfile({ name: 'disk', boot: { kind: 'local' } });
    await s.putMachine(web1());
    assert.equal((await s.getMachine('web1'))?.version, 1);
    await s.putMachine({ ...web1(), labels: { rack: 'a' } });
    assert.equal((await s.getMachine('web1'))?.version, 2);
    assert.ok(await s.setNextAction('web1', { action: 'install' }));
    assert.equal((await s.findMachine({ mac: '52:54:00:00:00:01' }))?.version, 3);
    // The consume moves it too: a client holding version 3 must not re-arm the install it read.
    assert.ok(await s.swapNextAction('web1', { action: 'install' }, { action: 'local' }));
    assert.equal((await s.listMachines())[0]?.version, 4);
    await assert.rejects(s.putMachine({ ...web1(), nextAction: { action: 'install' } }, { ifVersion: 3 }), conflict);
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'local' });
    await s.putMachine({ ...web1(), labels: { rack: 'b' } }, { ifVersion: 4 });
    assert.deepEqual((await s.getMachine('web1'))?.labels, { rack: 'b' });
    assert.equal((await s.getMachine('web1'))?.version, 5);
    await assert.rejects(s.putMachine({ ...web1(), id: 'gone', macs: [] }, { ifVersion: 1 }), conflict);
    assert.equal(await s.getMachine('gone'), undefined);
    // Boot telemetry is not a write of the machine.
    await s.writeBootLog([], [['web1', { at: '2026-01-01T00:00:00.000Z' }]]);
    assert.equal((await s.getMachine('web1'))?.version, 5);
    const [row] = await s.listMachinesJson({ limit: 10 });
    assert.equal((JSON.parse(row!.json) as Machine).version, 5);
    // The document apply takes has no versions; an unchanged apply writes nothing.
    const doc = await s.export();
    assert.equal(doc.machines[0]?.version, undefined);
    await s.apply(doc, { prune: false });
    assert.equal((await s.getMachine('web1'))?.version, 5);
  });

  withStore('versions: of two writes naming the same version, exactly one lands', async (s) => {
    await s.putProfile({ name: 'disk', boot: { kind: 'local' } });
    await s.putMachine(web1());
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((rack) => s.putMachine({ ...web1(), labels: { rack } }, { ifVersion: 1 })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(conflict(r.reason), String(r.reason));
    assert.equal((await s.getMachine('web1'))?.version, 2);
  });

  withStore('servers: registered, heartbeats update the record, listed by name then id', async (s) => {
    assert.deepEqual(await s.listServers(), []);
    await s.putServer(server('b1', 'pxe-b'));
    await s.putServer(server('a2', 'pxe-a'));
    await s.putServer(server('a1', 'pxe-a', { urls: ['http://192.0.2.1:8080', 'https://192.0.2.1:8443/'] }));
    await s.putServer(server('b1', 'pxe-b', { heartbeatAt: '2026-01-01T00:00:04.000Z' }));
    const list = await s.listServers();
    assert.deepEqual(
      list.map((x) => x.id),
      ['a1', 'a2', 'b1'],
    );
    assert.deepEqual(list[0]?.urls, ['http://192.0.2.1:8080', 'https://192.0.2.1:8443/']);
    assert.deepEqual(list[2], server('b1', 'pxe-b', { heartbeatAt: '2026-01-01T00:00:04.000Z' }));
    const stopped = server('b1', 'pxe-b', {
      heartbeatAt: '2026-01-01T00:00:05.000Z',
      stoppedAt: '2026-01-01T00:00:05.000Z',
    });
    await s.putServer(stopped);
    assert.deepEqual((await s.listServers())[2], stopped);
  });

  withStore("changes: a store's own writes never come back on its feed", async (s) => {
    const feed = listen(s);
    try {
      await s.putProfile({ name: 'disk', boot: { kind: 'local' } });
      await s.putMachine(web1());
      assert.ok(await s.setNextAction('web1', { action: 'install' }));
      await s.deleteProfile('nope');
      // A shared engine announces itself live with an `inventory` change; nothing else may come.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        feed.seen.filter((c) => c.kind !== 'inventory'),
        [],
      );
    } finally {
      feed.stop();
    }
  });

  if (!openPair) return;

  test('changes: every write through one store reaches the other, with its kind, id and op', async () => {
    const [a, b] = await openPair();
    const feed = listen(b);
    try {
      await feed.next((c) => c.kind === 'inventory', 'first `inventory` change (listening)');
      await a.putProfile({ name: 'disk', boot: { kind: 'local' } });
      await feed.next((c) => c.kind === 'profile' && c.id === 'disk' && c.op === 'put', 'profile put');
      await a.putGroup({ name: 'g', selectors: {}, profile: 'disk' });
      await feed.next((c) => c.kind === 'group' && c.id === 'g' && c.op === 'put', 'group put');
      await a.putMachine(web1());
      const put = await feed.next((c) => c.kind === 'machine' && c.op === 'put', 'machine put');
      assert.equal(put.id, 'web1');
      assert.ok(put.server, 'names the server that wrote');
      // The change is committed when it arrives: the other store reads it.
      assert.ok(await b.getMachine('web1'));
      assert.ok(await a.setNextAction('web1', { action: 'install' }));
      await feed.next((c) => c.kind === 'machine' && c.id === 'web1', 'next action');
      assert.deepEqual((await b.getMachine('web1'))?.nextAction, { action: 'install' });
      // The one-shot consume is a write like any other; a lost race publishes nothing.
      assert.ok(await a.swapNextAction('web1', { action: 'install' }, { action: 'local' }));
      assert.equal(await a.swapNextAction('web1', { action: 'install' }, { action: 'local' }), false);
      await feed.next((c) => c.kind === 'machine' && c.id === 'web1', 'one-shot consumed');
      await a.apply(
        {
          profiles: [{ name: 'disk', boot: { kind: 'local' } }],
          groups: [],
          machines: [{ ...web1(), labels: { x: 'y' } }],
        },
        { prune: false },
      );
      await feed.next((c) => c.kind === 'inventory' && c.op === 'apply', 'apply');
      assert.ok(await a.deleteMachine('web1'));
      await feed.next((c) => c.kind === 'machine' && c.id === 'web1' && c.op === 'delete', 'machine delete');
      assert.ok(await a.deleteGroup('g'));
      await feed.next((c) => c.kind === 'group' && c.op === 'delete', 'group delete');
      // A write that fails (stale version) publishes nothing; a failed transaction never notifies.
      await a.putMachine(web1());
      await feed.next((c) => c.kind === 'machine' && c.op === 'put', 'machine put again');
      await assert.rejects(a.putMachine(web1(), { ifVersion: 99 }), conflict);
      assert.ok(await a.deleteProfile('nope').then((r) => !r));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(feed.seen, []);
    } finally {
      feed.stop();
      await a.close();
      await b.close();
    }
  });
}
