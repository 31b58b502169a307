/** Conformance: machine paging and apply's one-shot arming (the `next` last applied is not armed again). */
import assert from 'node:assert/strict';
import type { Inventory, NextAction } from '../../../src/model/types.ts';
import type { Store } from '../../../src/store/types.ts';

type WithStore = (name: string, fn: (s: Store) => Promise<void>) => void;

const doc = (next?: NextAction): Inventory => ({
  profiles: [
    { name: 'debian', boot: { kind: 'kernel', kernel: 'debian/linux', initrds: [] } },
    { name: 'rescue', boot: { kind: 'kernel', kernel: 'rescue/linux', initrds: [] } },
  ],
  groups: [],
  machines: [
    { id: 'web1', macs: ['52:54:00:00:00:01'], labels: {}, profile: 'debian', ...(next ? { nextAction: next } : {}) },
  ],
});

export function machineConformance(withStore: WithStore): void {
  withStore('machines page by id (binary order): each exactly once across pages; count', async (s) => {
    const ids = ['m05', 'm01', 'M10', 'm03', 'a', 'm02', 'z', 'm04'];
    for (const id of ids) await s.putMachine({ id, macs: [], labels: {} });
    const all = (await s.listMachines()).map((m) => m.id);
    assert.deepEqual(all, ['M10', 'a', 'm01', 'm02', 'm03', 'm04', 'm05', 'z']);
    assert.equal(await s.countMachines(), ids.length);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 10, 'paging ends');
      const page = await s.listMachines({ ...(after === undefined ? {} : { after }), limit: 3 });
      seen.push(...page.map((m) => m.id));
      if (page.length < 3) break;
      after = page.at(-1)?.id;
    }
    assert.deepEqual(seen, all);
    assert.deepEqual(
      (await s.listMachines({ limit: 2 })).map((m) => m.id),
      ['M10', 'a'],
    );
    assert.deepEqual(
      (await s.listMachines({ after: 'm03' })).map((m) => m.id),
      ['m04', 'm05', 'z'],
    );
    assert.deepEqual(await s.listMachines({ after: 'z' }), []);
    await s.deleteMachine('a');
    assert.equal(await s.countMachines(), ids.length - 1);
  });

  withStore('apply: a consumed one-shot is not armed again by re-applying the same document', async (s) => {
    const first = await s.apply(doc({ action: 'install' }), { prune: false });
    assert.ok(first.created.includes('machine/web1'));
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
    assert.equal(await s.swapNextAction('web1', { action: 'install' }, { action: 'local' }), true);
    // A restart applies the inventory file again: the install must not come back.
    const again = await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'local' });
    assert.ok(again.unchanged.includes('machine/web1'));
    assert.deepEqual(again.updated, []);
    // Other fields still update, without re-arming.
    const relabelled = doc({ action: 'install' });
    relabelled.machines[0]!.labels = { rack: 'b2' };
    assert.deepEqual((await s.apply(relabelled, { prune: false })).updated, ['machine/web1']);
    const web1 = await s.getMachine('web1');
    assert.deepEqual(web1?.labels, { rack: 'b2' });
    assert.deepEqual(web1?.nextAction, { action: 'local' });
  });

  withStore('apply: a changed `next` arms again, and so does going back to an earlier one', async (s) => {
    await s.apply(doc({ action: 'install' }), { prune: false });
    await s.swapNextAction('web1', { action: 'install' }, { action: 'local' });
    const other = await s.apply(doc({ action: 'install', profile: 'rescue' }), { prune: false });
    assert.deepEqual(other.updated, ['machine/web1']);
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install', profile: 'rescue' });
    await s.swapNextAction('web1', { action: 'install', profile: 'rescue' }, { action: 'local' });
    await s.apply(doc({ action: 'menu' }), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'menu' });
    // Back to `install`: it differs from the last applied `menu`, so it is armed again.
    const back = await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual(back.updated, ['machine/web1']);
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
  });

  withStore('apply: a document without `next` keeps the current action; naming it again re-arms it', async (s) => {
    await s.apply(doc({ action: 'install' }), { prune: false });
    await s.apply(doc(), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
    await s.setNextAction('web1', { action: 'profile', profile: 'rescue' });
    const unnamed = await s.apply(doc(), { prune: false });
    assert.ok(unnamed.unchanged.includes('machine/web1'));
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'profile', profile: 'rescue' });
    await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
  });

  withStore('apply: API writes do not reset what was last applied; a re-created machine starts afresh', async (s) => {
    await s.apply(doc({ action: 'install' }), { prune: false });
    await s.setNextAction('web1', { action: 'local' });
    const web1 = await s.getMachine('web1');
    assert.ok(web1);
    await s.putMachine({ ...web1, labels: { via: 'api' } });
    await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'local' });
    // Deleted and re-created, the machine has no last-applied `next`: the document's is armed.
    assert.equal(await s.deleteMachine('web1'), true);
    await s.putMachine({ id: 'web1', macs: ['52:54:00:00:00:01'], labels: {} });
    await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
    // Pruned and applied again: created, and armed.
    await s.apply({ profiles: doc().profiles, groups: [], machines: [] }, { prune: true });
    const recreated = await s.apply(doc({ action: 'install' }), { prune: false });
    assert.deepEqual(recreated.created, ['machine/web1']);
    assert.deepEqual((await s.getMachine('web1'))?.nextAction, { action: 'install' });
  });

  withStore('apply with prune: a MAC moves from a machine the document drops to one it names (a rename)', async (s) => {
    await s.apply(doc(), { prune: false });
    const renamed = doc();
    renamed.machines = [{ ...renamed.machines[0]!, id: 'web-01' }];
    const r = await s.apply(renamed, { prune: true });
    assert.deepEqual(r.deleted, ['machine/web1']);
    assert.deepEqual(r.created, ['machine/web-01']);
    assert.equal((await s.findMachine({ mac: '52:54:00:00:00:01' }))?.id, 'web-01');
  });
}
