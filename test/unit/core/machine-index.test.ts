/**
 * The in-memory machine index answers DHCP's lookups exactly as the store does (same order of identities, same
 * normalisation), without asking the store once it is loaded, and follows every announced write: a lookup right after
 * a write sees it (the index asks the store until it has re-read the machine).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MachineIndex } from '../../../src/core/machine-index.ts';
import { Metrics } from '../../../src/core/metrics.ts';
import { BootService } from '../../../src/core/service.ts';
import { Signer } from '../../../src/core/signing.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { Profile } from '../../../src/model/types.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import type { MachineLookup, Store } from '../../../src/store/types.ts';
import { policy } from '../../lib/core.ts';
import { bootService, counted, machine, settled } from '../../lib/counted-store.ts';

async function fleet(): Promise<Store> {
  const store = new MemoryStore();
  await store.putMachine(machine('a', { macs: ['52:54:00:00:00:01'], uuid: 'AAAAAAAA-0000-4000-8000-000000000001' }));
  await store.putMachine(machine('b', { macs: ['52:54:00:00:00:02', '52:54:00:00:00:03'], serial: 'SN-2' }));
  await store.putMachine(machine('c', { hostname: 'Node-C', serial: 'SN-3' }));
  // Two machines with one hostname: the store's answer (the lower id) must win.
  await store.putMachine(machine('d2', { hostname: 'twin' }));
  await store.putMachine(machine('d1', { hostname: 'twin' }));
  return store;
}

const LOOKUPS: MachineLookup[] = [
  { mac: '52:54:00:00:00:01' },
  { mac: '52-54-00-00-00-03' },
  { mac: '52:54:00:00:00:99', uuid: 'aaaaaaaa-0000-4000-8000-000000000001' },
  { mac: '52:54:00:00:00:02', serial: 'SN-3' },
  { serial: 'SN-3' },
  { hostname: 'node-c' },
  { hostname: 'TWIN' },
  { mac: '52:54:00:00:00:99' },
  { serial: 'sn-3' },
  {},
];

describe('machine index', () => {
  test('answers as the store does, from memory once loaded', async () => {
    const base = await fleet();
    const { store, finds } = counted(base);
    const index = new MachineIndex(store);
    for (const q of LOOKUPS) assert.deepEqual((await index.findMachine(q))?.id, (await base.findMachine(q))?.id);
    await settled();
    const before = finds();
    for (const q of LOOKUPS) assert.deepEqual((await index.findMachine(q))?.id, (await base.findMachine(q))?.id);
    // Only the ambiguous hostname goes to the store.
    assert.equal(finds() - before, 1);
  });

  test('follows announced writes at once', async () => {
    const base = await fleet();
    const { store, finds } = counted(base);
    const index = new MachineIndex(store);
    await index.findMachine({});
    await settled();

    await base.putMachine(machine('e', { macs: ['52:54:00:00:00:05'] }));
    index.changed({ kind: 'machine', id: 'e' });
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:05' }))?.id, 'e');

    await base.putMachine(machine('a', { macs: ['52:54:00:00:00:11'] }));
    index.changed({ kind: 'machine', id: 'a' });
    assert.equal(await index.findMachine({ mac: '52:54:00:00:00:01' }), undefined);
    await settled();
    const n = finds();
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:11' }))?.id, 'a');
    assert.equal(await index.findMachine({ mac: '52:54:00:00:00:01' }), undefined);
    assert.equal(finds(), n, 'answered from memory after the refresh');

    await base.setNextAction('b', { action: 'install' });
    index.changed({ kind: 'machine', id: 'b' });
    await settled();
    assert.deepEqual((await index.findMachine({ mac: '52:54:00:00:00:02' }))?.nextAction, { action: 'install' });

    await base.deleteMachine('c');
    index.changed({ kind: 'machine', id: 'c' });
    assert.equal(await index.findMachine({ serial: 'SN-3' }), undefined);

    await base.apply(
      { machines: [machine('z', { macs: ['52:54:00:00:00:26'] })], profiles: [], groups: [] },
      {
        prune: true,
      },
    );
    index.changed({ kind: 'inventory' });
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:26' }))?.id, 'z');
    assert.equal(await index.findMachine({ mac: '52:54:00:00:00:02' }), undefined);
    await settled();
    const m = finds();
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:26' }))?.id, 'z');
    assert.equal(finds(), m);
  });

  test('a write heard while loading is read again after the load', async () => {
    const base = await fleet();
    const index = new MachineIndex(base);
    await index.findMachine({});
    // The load is under way; this write and its announcement land before it finishes.
    await base.putMachine(machine('late', { macs: ['52:54:00:00:00:77'] }));
    index.changed({ kind: 'machine', id: 'late' });
    await settled();
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:77' }))?.id, 'late');
  });

  test('control: a write nobody announces is not seen (the index is for stores with a change feed)', async () => {
    const base = await fleet();
    const index = new MachineIndex(base);
    await index.findMachine({});
    await settled();
    await base.putMachine(machine('quiet', { macs: ['52:54:00:00:00:88'] }));
    assert.equal(await index.findMachine({ mac: '52:54:00:00:00:88' }), undefined);
    assert.equal(base.changeFeed, false);
  });

  test("the boot service uses it only where the store announces every writer's changes", async () => {
    const pxe = { mac: '52:54:00:00:00:42', arch: 0 };
    // No feed and no change log (the in-memory store): every decision reads the store.
    const plain = await fleet();
    const direct = bootService(plain);
    assert.equal((await direct.dhcp(pxe)).kind, 'ignore');
    await plain.putMachine(machine('new', { macs: [pxe.mac] }));
    assert.equal((await direct.dhcp(pxe)).kind, 'ipxe-binary');

    // With a feed: from memory, so only announced writes count (control: the same unannounced write is not seen).
    const fed = await fleet();
    const withFeed = Object.create(fed, { changeFeed: { value: true } }) as Store;
    const indexed = bootService(withFeed);
    assert.equal((await indexed.dhcp(pxe)).kind, 'ignore');
    await settled();
    await fed.putMachine(machine('new', { macs: [pxe.mac] }));
    assert.equal((await indexed.dhcp(pxe)).kind, 'ignore');
    indexed.invalidate({ kind: 'machine', id: 'new' });
    assert.equal((await indexed.dhcp(pxe)).kind, 'ipxe-binary');
  });

  test('while the feed is down every lookup asks the store, until its reconnect has been read', async () => {
    const base = await fleet();
    const { store, finds } = counted(base);
    const index = new MachineIndex(store);
    await index.findMachine({});
    await settled();
    index.changed({ kind: 'inventory', op: 'lost' });
    // Written elsewhere while nobody hears: still found, from the store.
    await base.putMachine(machine('unheard', { macs: ['52:54:00:00:00:66'] }));
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:66' }))?.id, 'unheard');
    index.changed({ kind: 'machine', id: 'x' });
    await settled();
    const n = finds();
    await index.findMachine({ mac: '52:54:00:00:00:66' });
    assert.equal(finds(), n + 1, 'no answer from memory while deaf');
    index.changed({ kind: 'inventory', op: 'apply' });
    await settled();
    const m = finds();
    assert.equal((await index.findMachine({ mac: '52:54:00:00:00:66' }))?.id, 'unheard');
    assert.equal(finds(), m, 'from memory again');
  });

  test('scripts: a one-shot the index still shows but another server consumed is not served twice', async () => {
    const fed = await fleet();
    await fed.putProfile({ name: 'inst', boot: { kind: 'kernel', kernel: 'k', initrds: [] } } as Profile);
    await fed.putMachine(
      machine('m1', { macs: ['52:54:00:00:00:51'], nextAction: { action: 'install', profile: 'inst' } }),
    );
    const withFeed = Object.create(fed, { changeFeed: { value: true } }) as Store;
    const service = new BootService({
      store: withFeed,
      boot: policy,
      signer: new Signer(Buffer.alloc(32, 7)),
      events: new EventBus(withFeed, (err) => {
        throw err;
      }),
      metrics: new Metrics(),
    });
    const facts = { mac: '52:54:00:00:00:51', platform: 'pcbios' };
    await service.dhcp(facts);
    await settled();
    // Consumed through another server; its notification has not arrived.
    assert.ok(await fed.swapNextAction('m1', { action: 'install', profile: 'inst' }, { action: 'local' }));
    const r = await service.script(facts);
    assert.notEqual(r.decision.kind, 'profile');
    assert.equal((await fed.getMachine('m1'))?.nextAction?.action, 'local');
  });
});
