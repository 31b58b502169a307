/**
 * The boot service on a SQLite file answers machine lookups from memory, and still sees at once what another
 * process (the CLI, played by a second store on the same file) commits without telling the server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import type { Store } from '../../../src/store/types.ts';
import { bootService, counted, machine, settled } from '../../lib/counted-store.ts';

const MAC = '52:54:00:00:07:01';
async function setup() {
  const file = join(mkdtempSync(join(tmpdir(), 'bh-index-')), 'bootherd.db');
  const server = await openSqliteStore(file);
  await server.putProfile({ name: 'inst', boot: { kind: 'kernel', kernel: 'inst/linux', initrds: [] } });
  await server.putMachine(machine('m1', { macs: [MAC] }));
  const { store: counting, finds } = counted(server);
  const { store, reads } = countedReads(counting);
  const service = bootService(store);
  const cli = await openSqliteStore(file);
  const close = async () => {
    await service.flush();
    await Promise.all([server.close(), cli.close()]);
  };
  return { cli, service, finds, reads, close };
}

test('sqlite: a one-shot the CLI arms is served by the very next script, lookups otherwise from memory', async () => {
  const { cli, service, finds, close } = await setup();
  try {
    const facts = { mac: MAC, platform: 'pcbios' };
    assert.notEqual((await service.script(facts)).decision.kind, 'profile');
    await settled();
    const before = finds();
    assert.notEqual((await service.script(facts)).decision.kind, 'profile');
    assert.equal(finds(), before, 'steady state: answered from memory');

    assert.ok(await cli.setNextAction('m1', { action: 'install', profile: 'inst' }));
    const armed = (await service.script(facts)).decision;
    assert.equal(armed.kind, 'profile');
    assert.equal(armed.kind === 'profile' && armed.profile.name, 'inst');
    assert.equal(finds(), before + 1, 'the changed machine was read from the store');
    assert.equal((await cli.getMachine('m1'))?.nextAction?.action, 'local', 'consumed');
    assert.notEqual((await service.script(facts)).decision.kind, 'profile', 'served once');
  } finally {
    await close();
  }
});

test('sqlite: a machine the CLI adds or removes counts for the very next DHCP decision', async () => {
  const { cli, service, close } = await setup();
  try {
    const pxe = { mac: '52:54:00:00:07:42', arch: 0 };
    assert.equal((await service.dhcp(pxe)).kind, 'ignore');
    await settled();
    assert.equal((await service.dhcp(pxe)).kind, 'ignore');
    await cli.putMachine(machine('new', { macs: [pxe.mac] }));
    assert.equal((await service.dhcp(pxe)).kind, 'ipxe-binary');
    await settled();
    assert.ok(await cli.deleteMachine('new'));
    assert.equal((await service.dhcp(pxe)).kind, 'ignore');
  } finally {
    await close();
  }
});

/** The store, counting the reads of its change log (othersChanges' reader). */
function countedReads(store: Store): { store: Store; reads: () => number } {
  let n = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.othersChanges = () => {
    const read = store.othersChanges?.();
    return () => {
      n++;
      return read?.() ?? [];
    };
  };
  return { store: wrapped, reads: () => n };
}

test('sqlite: DHCP packets read before the change log was last read share that read; a later packet sees the CLI', async () => {
  const { cli, service, reads, close } = await setup();
  try {
    const pxe = { mac: '52:54:00:00:07:43', arch: 0 };
    assert.equal((await service.dhcp(pxe)).kind, 'ignore');
    await settled();
    // Control: a lookup that does not say when its request was read reads the change log every time.
    let before = reads();
    await service.dhcp(pxe);
    await service.dhcp(pxe);
    assert.equal(reads(), before + 2);
    // A slice of packets, all read before its first lookup: that lookup reads the log, the others need not.
    const read = performance.now();
    before = reads();
    for (let i = 0; i < 5; i++) assert.equal((await service.dhcp(pxe, read)).kind, 'ignore');
    assert.equal(reads(), before + 1, 'one read for the five packets');
    // The operator adds the machine, then it boots: its packet is read after the commit, and the lookup sees it.
    await cli.putMachine(machine('late', { macs: [pxe.mac] }));
    assert.equal((await service.dhcp(pxe, performance.now())).kind, 'ipxe-binary');
    assert.equal(reads(), before + 2);
  } finally {
    await close();
  }
});

test('sqlite: script requests asked in one turn of the event loop share one read of the change log; a later one sees the CLI', async () => {
  const { cli, service, reads, close } = await setup();
  try {
    const facts = { mac: MAC, platform: 'pcbios' };
    await service.script(facts);
    await settled();
    // Control: requests asked in turns of their own read the log each.
    let before = reads();
    await service.script(facts);
    await service.script(facts);
    assert.equal(reads(), before + 2);
    // Five requests handled in one turn (one wake-up of the loop hands it several connections' requests): one read.
    before = reads();
    const five = await Promise.all(Array.from({ length: 5 }, () => service.script(facts)));
    assert.equal(reads(), before + 1, 'one read for the five requests');
    assert.ok(five.every((r) => r.decision.kind !== 'profile'));
    // The operator arms a one-shot, then the machine asks: its request comes after the commit and gets it.
    assert.ok(await cli.setNextAction('m1', { action: 'install', profile: 'inst' }));
    const armed = (await service.script(facts)).decision;
    assert.equal(armed.kind === 'profile' && armed.profile.name, 'inst');
    assert.equal(reads(), before + 2);
  } finally {
    await close();
  }
});

test('sqlite: a boot step merges its facts onto what the step before learned, not onto the index copy', async () => {
  const { cli, service, close } = await setup();
  try {
    // The index holds m1 as it was loaded: no last-seen facts.
    await service.script({ mac: MAC, platform: 'pcbios' });
    await settled();
    await service.flush();
    // DHCP learns the architecture and the vendor class …
    const dhcp = { mac: MAC, arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' };
    await service.dhcp(dhcp);
    service.dhcpExchange({ facts: dhcp, message: 'DISCOVER', port: 67, outcome: 'offered' });
    // … then the script request brings iPXE's platform: the machine's last-seen facts hold both.
    await service.script({ mac: MAC, platform: 'efi', buildarch: 'x86_64' });
    await service.flush();
    const seen = (await cli.getMachine('m1'))?.lastSeen;
    assert.equal(seen?.arch, 7);
    assert.equal(seen?.vendorClass, dhcp.vendorClass);
    assert.equal(seen?.platform, 'efi');
  } finally {
    await close();
  }
});
