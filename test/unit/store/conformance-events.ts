/** Conformance: the boot log read back — filtered and paged events, each machine's latest, discovered MACs. */
import assert from 'node:assert/strict';
import type { BootEvent } from '../../../src/model/types.ts';
import type { Store } from '../../../src/store/types.ts';

type WithStore = (name: string, fn: (s: Store) => Promise<void>) => void;

const at = (sec: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, sec)).toISOString();
const event = (n: number, mac: string, stage: BootEvent['stage'], machineId?: string): BootEvent => ({
  at: at(n),
  ...(machineId === undefined ? {} : { machineId }),
  mac,
  stage,
  facts: { mac, ip: `192.0.2.${n}` },
  decision: { n },
});

export function eventConformance(withStore: WithStore): void {
  withStore('events: filtered by stage, combined filters, paged with `before` exactly once', async (s) => {
    const stages: BootEvent['stage'][] = ['dhcp', 'tftp', 'http', 'callback'];
    await s.writeBootLog(
      Array.from({ length: 23 }, (_, n) =>
        event(n, `52:54:00:00:00:0${n % 3}`, stages[n % 4]!, n % 2 ? 'a' : undefined),
      ),
      [],
    );
    const all = await s.listEvents({ limit: 1000 });
    assert.equal(all.length, 23);
    const paged: BootEvent[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await s.listEvents({ ...(before === undefined ? {} : { before }), limit: 5 });
      paged.push(...page);
      if (page.length < 5) break;
      before = page.at(-1)?.id;
    }
    assert.deepEqual(paged, all, 'pages join up to the whole log, newest first, none twice');
    const n = (es: BootEvent[]) => es.map((e) => e.decision.n);
    assert.deepEqual(n(await s.listEvents({ stage: 'callback' })), [19, 15, 11, 7, 3]);
    assert.deepEqual(n(await s.listEvents({ stage: 'tftp', machineId: 'a' })), [21, 17, 13, 9, 5, 1]);
    assert.deepEqual(n(await s.listEvents({ stage: 'dhcp', mac: '52:54:00:00:00:00' })), [12, 0]);
    const eleventh = all.find((e) => e.decision.n === 11)?.id;
    assert.deepEqual(n(await s.listEvents({ stage: 'callback', before: eleventh })), [7, 3]);
    assert.deepEqual(n(await s.listEvents({ machineId: 'a', before: eleventh, limit: 2 })), [9, 7]);
    assert.deepEqual(n(await s.listEvents({ mac: '52:54:00:00:00:01', before: eleventh })), [10, 7, 4, 1]);
    assert.deepEqual(await s.listEvents({ before: all.at(-1)?.id }), []);
  });

  withStore(
    'pruneBootLog: the oldest go, beyond the newest `keep` or older than `before`, across batches',
    async (s) => {
      await s.writeBootLog(
        Array.from({ length: 30 }, (_, n) => event(n, '52:54:00:00:00:01', 'http', 'a')),
        [],
      );
      const n = async () => (await s.listEvents({ limit: 1000 })).map((e) => e.decision.n as number);
      const longAgo = at(-1);
      // Nothing beyond 30 and nothing that old: nothing to do.
      assert.equal(await s.pruneBootLog({ keep: 30, before: longAgo, batch: 100 }), 0);
      // Keep the newest 20, 4 a batch: every batch, until none is past the limit.
      assert.equal(await s.pruneBootLog({ keep: 20, before: longAgo, batch: 4 }), 10);
      assert.deepEqual(
        await n(),
        Array.from({ length: 20 }, (_, i) => 29 - i),
      );
      // By age: everything before second 25 goes, whatever `keep` allows.
      assert.equal(await s.pruneBootLog({ keep: 1000, before: at(25), batch: 3 }), 15);
      assert.deepEqual(await n(), [29, 28, 27, 26, 25]);
      // The newest of a machine is still its latest event.
      assert.equal((await s.latestEvents(['a'])).get('a')?.decision.n, 29);
    },
  );

  withStore('latestEvents: the newest event of each machine asked for, absent when it has none', async (s) => {
    await s.writeBootLog(
      [
        event(1, '52:54:00:00:00:01', 'dhcp', 'a'),
        event(2, '52:54:00:00:00:02', 'dhcp', 'b'),
        event(3, '52:54:00:00:00:01', 'http', 'a'),
        event(4, '52:54:00:00:00:09', 'http'),
        event(5, '52:54:00:00:00:02', 'tftp', 'b'),
        event(6, '52:54:00:00:00:03', 'http', 'c'),
      ],
      [],
    );
    const latest = await s.latestEvents(['b', 'a', 'none', 'a']);
    assert.deepEqual([...latest.keys()].sort(), ['a', 'b']);
    assert.equal(latest.get('a')?.decision.n, 3);
    assert.equal(latest.get('a')?.stage, 'http');
    assert.equal(latest.get('b')?.decision.n, 5);
    assert.deepEqual(latest.get('b')?.facts, { mac: '52:54:00:00:00:02', ip: '192.0.2.5' });
    assert.equal((await s.latestEvents([])).size, 0);
    // Brief: the same events without their facts.
    const brief = await s.latestEvents(['a', 'b'], { brief: true });
    assert.equal(brief.get('b')?.decision.n, 5);
    assert.deepEqual(brief.get('b')?.facts, {});
    assert.equal(brief.get('a')?.mac, '52:54:00:00:00:01');
  });

  withStore('listDiscovered: unclaimed MACs, newest first, facts of their latest event', async (s) => {
    await s.putMachine({ id: 'known', macs: ['52:54:00:00:00:0a'], labels: {} });
    await s.writeBootLog(
      [
        event(1, '52:54:00:00:00:01', 'dhcp'),
        event(2, '52:54:00:00:00:02', 'dhcp'),
        event(3, '52:54:00:00:00:01', 'http'),
        event(4, '', 'http'),
        // Booted unknown, then added to the inventory: claimed now.
        event(5, '52:54:00:00:00:0a', 'dhcp'),
        event(6, '52:54:00:00:00:0a', 'http', 'known'),
        // Only ever seen as a known machine's.
        event(7, '52:54:00:00:00:0b', 'http', 'gone'),
      ],
      [],
    );
    assert.deepEqual(await s.listDiscovered(10), [
      {
        mac: '52:54:00:00:00:01',
        firstSeen: at(1),
        lastSeen: at(3),
        facts: { mac: '52:54:00:00:00:01', ip: '192.0.2.3' },
      },
      {
        mac: '52:54:00:00:00:02',
        firstSeen: at(2),
        lastSeen: at(2),
        facts: { mac: '52:54:00:00:00:02', ip: '192.0.2.2' },
      },
    ]);
    assert.deepEqual(
      (await s.listDiscovered(1)).map((d) => d.mac),
      ['52:54:00:00:00:01'],
    );
    await s.putMachine({ id: 'new', macs: ['52-54-00-00-00-01'], labels: {} });
    assert.deepEqual(
      (await s.listDiscovered(10)).map((d) => d.mac),
      ['52:54:00:00:00:02'],
    );
    await s.deleteMachine('new');
    assert.equal((await s.listDiscovered(10)).length, 2, 'released again when the machine is gone');
  });

  withStore('listMachinesJson: the listMachines page with each brief latest event, as JSON', async (s) => {
    await s.putMachine({ id: 'a', macs: ['52:54:00:00:00:01'], labels: { role: 'web' }, hostname: 'a' });
    await s.putMachine({ id: 'b', macs: [], labels: {}, serial: 'SN1', nextAction: { action: 'install' } });
    await s.putMachine({ id: 'c', macs: ['52:54:00:00:00:03'], labels: {}, menu: { timeout: 3 } });
    await s.writeBootLog(
      [
        event(1, '52:54:00:00:00:01', 'dhcp', 'a'),
        event(2, '52:54:00:00:00:01', 'http', 'a'),
        event(3, '', 'tftp', 'b'),
      ],
      [['a', { at: at(2), mac: '52:54:00:00:00:01', platform: 'efi', arch: 7 }]],
    );
    for (const page of [{ limit: 10 }, { after: 'a', limit: 1 }]) {
      const machines = await s.listMachines(page);
      const latest = await s.latestEvents(
        machines.map((m) => m.id),
        { brief: true },
      );
      const expected = machines.map((m) => (latest.has(m.id) ? { ...m, lastEvent: latest.get(m.id) } : m));
      const rows = await s.listMachinesJson(page);
      assert.deepEqual(
        rows.map((r) => r.id),
        machines.map((m) => m.id),
      );
      assert.deepEqual(
        rows.map((r) => JSON.parse(r.json)),
        expected,
      );
    }
  });
}
