/**
 * The conformance suite every Store engine must pass. An engine's test file calls storeConformance() with a factory
 * that returns a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Inventory, Machine } from '../../../src/model/types.ts';
import type { Store } from '../../../src/store/types.ts';
import { machineConformance } from './conformance-apply.ts';
import { eventConformance } from './conformance-events.ts';
import { fleetConformance, type OpenPair } from './conformance-fleet.ts';
import { leaseConformance } from './conformance-leases.ts';
import { tokenConformance } from './conformance-tokens.ts';

const inventory = (): Inventory => ({
  profiles: [
    {
      name: 'debian',
      boot: { kind: 'kernel', kernel: 'debian/linux', initrds: ['debian/initrd.gz'], cmdline: 'auto=true' },
    },
    { name: 'disk', boot: { kind: 'local' } },
  ],
  groups: [{ name: 'uefi', selectors: { platform: 'efi' }, profile: 'debian', menu: { timeout: 5 } }],
  machines: [
    {
      id: 'web1',
      macs: ['52:54:00:00:00:01', '52-54-00-00-00-02'],
      hostname: 'Web1',
      labels: { rack: 'a1' },
      profile: 'debian',
    },
    {
      id: 'db1',
      macs: ['52:54:00:00:00:03'],
      uuid: '4C4C4544-0000-1111-2222-333344445555',
      serial: 'SN-1',
      labels: {},
    },
  ],
});

/** `openPair`: two stores on one fresh database, for an engine several servers can share. */
export function storeConformance(engine: string, open: () => Promise<Store>, openPair?: OpenPair): void {
  describe(`Store conformance: ${engine}`, () => {
    const withStore = (name: string, fn: (s: Store) => Promise<void>) =>
      test(name, async () => {
        const s = await open();
        try {
          await fn(s);
        } finally {
          await s.close();
        }
      });

    withStore('profiles and groups round-trip, list sorted by name, delete reports existence', async (s) => {
      const inv = inventory();
      for (const p of [...inv.profiles].reverse()) await s.putProfile(p);
      await s.putGroup(inv.groups[0]!);
      assert.deepEqual(await s.getProfile('debian'), inv.profiles[0]);
      assert.deepEqual(
        (await s.listProfiles()).map((p) => p.name),
        ['debian', 'disk'],
      );
      assert.deepEqual(await s.getGroup('uefi'), inv.groups[0]);
      assert.equal(await s.getProfile('nope'), undefined);
      assert.equal(await s.deleteProfile('disk'), true);
      assert.equal(await s.deleteProfile('disk'), false);
      assert.equal(await s.deleteGroup('uefi'), true);
      assert.deepEqual(await s.listGroups(), []);
    });

    withStore('machines: MACs normalized, found by MAC, then UUID, serial, hostname (case-insensitive)', async (s) => {
      for (const m of inventory().machines) await s.putMachine(m);
      const web1 = await s.getMachine('web1');
      assert.deepEqual(web1?.macs, ['52:54:00:00:00:01', '52:54:00:00:00:02']);
      assert.equal((await s.findMachine({ mac: '52-54-00-00-00-02' }))?.id, 'web1');
      assert.equal((await s.findMachine({ uuid: '4c4c4544-0000-1111-2222-333344445555' }))?.id, 'db1');
      assert.equal((await s.findMachine({ serial: 'SN-1' }))?.id, 'db1');
      assert.equal((await s.findMachine({ hostname: 'web1' }))?.id, 'web1');
      // MAC wins over a hostname that names another machine.
      assert.equal((await s.findMachine({ mac: '52:54:00:00:00:03', hostname: 'web1' }))?.id, 'db1');
      assert.equal(await s.findMachine({ mac: '52:54:00:99:99:99' }), undefined);
      assert.equal(await s.findMachine({}), undefined);
    });

    withStore('a MAC cannot belong to two machines; the failed write changes nothing', async (s) => {
      await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:01'], labels: {} });
      await assert.rejects(
        s.putMachine({ id: 'b', macs: ['52:54:00:00:00:01'], labels: {} }),
        /already used by machine "a"/,
      );
      assert.equal(await s.getMachine('b'), undefined);
      await assert.rejects(s.putMachine({ id: 'c', macs: ['not-a-mac'], labels: {} }), /not a MAC address/);
    });

    withStore('re-putting a machine replaces its MACs', async (s) => {
      await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:01'], labels: {} });
      await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:09'], labels: {} });
      assert.equal(await s.findMachine({ mac: '52:54:00:00:00:01' }), undefined);
      await s.putMachine({ id: 'b', macs: ['52:54:00:00:00:01'], labels: {} });
      assert.equal((await s.findMachine({ mac: '52:54:00:00:00:01' }))?.id, 'b');
      assert.equal(await s.deleteMachine('a'), true);
      assert.equal(await s.findMachine({ mac: '52:54:00:00:00:09' }), undefined);
      assert.equal(await s.deleteMachine('a'), false);
    });

    withStore('next action: set, clear, compare-and-swap consumes exactly once under a race', async (s) => {
      await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:01'], labels: {} });
      assert.equal(await s.setNextAction('nope', { action: 'local' }), false);
      assert.equal(await s.setNextAction('a', { action: 'install', profile: 'debian' }), true);
      assert.deepEqual((await s.getMachine('a'))?.nextAction, { action: 'install', profile: 'debian' });
      const expected = { profile: 'debian', action: 'install' } as const; // key order must not matter
      const results = await Promise.all(
        Array.from({ length: 8 }, () => s.swapNextAction('a', expected, { action: 'local' })),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual((await s.getMachine('a'))?.nextAction, { action: 'local' });
      assert.equal(await s.swapNextAction('a', expected, null), false);
      assert.equal(await s.setNextAction('a', null), true);
      assert.equal((await s.getMachine('a'))?.nextAction, undefined);
    });

    withStore('boot log: last facts kept per machine; events list newest first, filtered and limited', async (s) => {
      await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:01'], labels: {} });
      await s.writeBootLog([], [['a', { at: '2026-01-01T00:00:00.000Z', platform: 'efi', ip: '192.0.2.10' }]]);
      assert.deepEqual((await s.getMachine('a'))?.lastSeen, {
        at: '2026-01-01T00:00:00.000Z',
        platform: 'efi',
        ip: '192.0.2.10',
      });
      await s.writeBootLog(
        Array.from({ length: 5 }, (_, i) => ({
          at: `2026-01-01T00:00:0${i}.000Z`,
          machineId: i % 2 ? 'a' : undefined,
          mac: '52:54:00:00:00:01',
          stage: 'http' as const,
          facts: { mac: '52:54:00:00:00:01' },
          decision: { kind: 'profile', n: i },
        })),
        [['ghost', { at: '2026-01-01T00:00:00.000Z' }]],
      );
      const all = await s.listEvents({});
      const ids = all.map((e) => e.id ?? 0);
      assert.deepEqual(
        [...ids].sort((x, y) => y - x),
        ids,
        'ids increase, newest first',
      );
      assert.equal(await s.getMachine('ghost'), undefined, 'last-seen for an unknown machine creates nothing');
      assert.equal((await s.listEvents({ limit: 1000 })).length, 5);
      const forA = await s.listEvents({ machineId: 'a' });
      assert.deepEqual(
        forA.map((e) => e.decision.n),
        [3, 1],
      );
      assert.equal(forA[0]?.machineId, 'a');
      assert.deepEqual(
        (await s.listEvents({ mac: '52:54:00:00:00:01', limit: 2 })).map((e) => e.decision.n),
        [4, 3],
      );
      assert.equal((await s.listEvents({}))[0]?.machineId, undefined);
    });

    withStore('apply is idempotent, reports created/updated/unchanged, and keeps operator state', async (s) => {
      const first = await s.apply(inventory(), { prune: false });
      assert.deepEqual(first.created.sort(), [
        'group/uefi',
        'machine/db1',
        'machine/web1',
        'profile/debian',
        'profile/disk',
      ]);
      await s.setNextAction('web1', { action: 'install' });
      await s.writeBootLog([], [['web1', { at: '2026-01-01T00:00:00.000Z' }]]);
      const again = await s.apply(inventory(), { prune: false });
      assert.equal(again.created.length + again.updated.length + again.deleted.length, 0);
      assert.equal(again.unchanged.length, 5);
      const web1 = await s.getMachine('web1');
      assert.deepEqual(
        web1?.nextAction,
        { action: 'install' },
        'a re-apply keeps the next action the file does not name',
      );
      assert.equal(web1?.lastSeen?.at, '2026-01-01T00:00:00.000Z');
      const changed = inventory();
      (changed.machines[0] as Machine).labels = { rack: 'b2' };
      changed.machines[1]!.nextAction = { action: 'menu' };
      const third = await s.apply(changed, { prune: false });
      assert.deepEqual(third.updated.sort(), ['machine/db1', 'machine/web1']);
      assert.deepEqual((await s.getMachine('db1'))?.nextAction, { action: 'menu' });
    });

    withStore('apply --prune deletes what the document no longer names', async (s) => {
      await s.apply(inventory(), { prune: false });
      const smaller = inventory();
      smaller.profiles = smaller.profiles.filter((p) => p.name === 'debian');
      smaller.machines = smaller.machines.filter((m) => m.id === 'web1');
      const kept = await s.apply(smaller, { prune: false });
      assert.deepEqual(kept.deleted, []);
      const r = await s.apply(smaller, { prune: true });
      assert.deepEqual(r.deleted.sort(), ['machine/db1', 'profile/disk']);
      assert.equal(await s.findMachine({ mac: '52:54:00:00:00:03' }), undefined);
    });

    withStore('apply is all or nothing: a conflict in the document leaves the store as it was', async (s) => {
      await s.apply(inventory(), { prune: false });
      const bad = inventory();
      bad.profiles.push({ name: 'new', boot: { kind: 'local' } });
      bad.machines.push({ id: 'zz', macs: ['52:54:00:00:00:01'], labels: {} });
      await assert.rejects(s.apply(bad, { prune: false }), /already used/);
      assert.equal(await s.getProfile('new'), undefined);
      assert.equal(await s.getMachine('zz'), undefined);
    });

    withStore('DHCP leases: upsert by address in one commit, load them back', async (s) => {
      assert.deepEqual(await s.loadLeases(), []);
      const t = 1_800_000_000_000;
      await s.commitLeases([
        { ip: '192.0.2.101', mac: '52:54:00:00:00:01', clientId: '0152540000000001', state: 'bound', expiresAt: t },
        { ip: '192.0.2.100', mac: '52:54:00:00:00:02', hostname: 'pc2', state: 'declined', expiresAt: t + 1 },
      ]);
      await s.commitLeases([{ ip: '192.0.2.101', mac: '52:54:00:00:00:01', state: 'released', expiresAt: t + 2 }]);
      assert.deepEqual(await s.loadLeases(), [
        { ip: '192.0.2.100', mac: '52:54:00:00:00:02', hostname: 'pc2', state: 'declined', expiresAt: t + 1 },
        { ip: '192.0.2.101', mac: '52:54:00:00:00:01', state: 'released', expiresAt: t + 2 },
      ]);
    });

    withStore('export returns the document apply takes, without last-seen facts', async (s) => {
      await s.apply(inventory(), { prune: false });
      await s.writeBootLog([], [['db1', { at: '2026-01-01T00:00:00.000Z' }]]);
      const out = await s.export();
      assert.equal(out.machines.find((m) => m.id === 'db1')?.lastSeen, undefined);
      const other = await open();
      try {
        await other.apply(out, { prune: false });
        assert.deepEqual(await other.export(), out);
      } finally {
        await other.close();
      }
    });

    machineConformance(withStore);
    eventConformance(withStore);
    tokenConformance(withStore);
    fleetConformance(withStore, openPair);
    leaseConformance(withStore, openPair);
  });
}
