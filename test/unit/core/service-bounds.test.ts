/**
 * The boot service's per-client DHCP state under a flood of packets from random MACs (what a fuzz of decodable
 * datagrams looks like): bounded to what is in flight, and an ignored packet's claimed address attributes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Metrics } from '../../../src/core/metrics.ts';
import { BootService } from '../../../src/core/service.ts';
import { Signer } from '../../../src/core/signing.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { BootEvent, ClientFacts } from '../../../src/model/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import type { Store } from '../../../src/store/types.ts';
import { policy } from '../../lib/core.ts';

const FLOOD = 10_000;
/** MAX_IN_FLIGHT in service.ts. */
const BOUND = 4096;

/** The service's private maps, read for their sizes. */
const maps = (s: BootService) => s as unknown as { dhcpClients: Map<string, unknown> };

const randomMac = (): string => [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

describe('boot service DHCP state', () => {
  let store: Store;
  let events: EventBus;
  let service: BootService;
  before(async () => {
    store = await openSqliteStore(':memory:');
    events = new EventBus(store, (err) => {
      throw err;
    });
    const signer = new Signer(Buffer.alloc(32, 7));
    service = new BootService({ store, boot: policy, signer, events, metrics: new Metrics() });
  });
  after(async () => {
    await service.flush();
    await store.close();
  });

  test('a flood of random MACs leaves no per-packet entries behind', async () => {
    for (let i = 0; i < FLOOD; i++) {
      const facts: ClientFacts = { mac: randomMac(), arch: 0 };
      await service.dhcp(facts);
      service.dhcpExchange({ facts, message: 'DISCOVER', port: 67, outcome: 'offered', reply: 'OFFER' });
      if (i % 1000 === 0) await service.flush();
    }
    // A decision is kept only until its exchange is reported.
    assert.equal(maps(service).dhcpClients.size, 0);
    // Decisions whose exchange never comes (a handler that failed) are bounded too.
    for (let i = 0; i < FLOOD; i++) await service.dhcp({ mac: randomMac(), arch: 0 });
    assert.equal(maps(service).dhcpClients.size, BOUND);
  });

  test('the exchange event still names the decision made for its packet', async () => {
    const seen: BootEvent[] = [];
    const stop = events.subscribe((e) => seen.push(e));
    const facts: ClientFacts = { mac: '52:54:00:12:34:56', arch: 7 };
    const decision = await service.dhcp(facts);
    service.dhcpExchange({ facts, message: 'DISCOVER', port: 67, outcome: 'offered', reply: 'OFFER' });
    stop();
    assert.equal(seen.at(-1)?.decision.kind, decision.kind);
    assert.notEqual(decision.kind, undefined);
  });

  test("an ignored packet's ciaddr does not attribute later TFTP fetches; an acknowledged address does", async () => {
    const seen: BootEvent[] = [];
    const stop = events.subscribe((e) => seen.push(e));
    const ignored: ClientFacts = { mac: '52:54:00:aa:bb:01', ip: '198.51.100.7' };
    service.dhcpExchange({ facts: ignored, message: 'REQUEST', port: 67, outcome: 'ignored', reason: 'no-record' });
    service.tftpTransfer('198.51.100.7', 'undionly.kpxe', { outcome: 'done' });
    assert.equal(seen.at(-1)?.mac, '');

    const acked: ClientFacts = { mac: '52:54:00:aa:bb:02' };
    service.dhcpExchange({ facts: acked, message: 'REQUEST', port: 67, outcome: 'acked', yiaddr: '198.51.100.8' });
    service.tftpTransfer('198.51.100.8', 'undionly.kpxe', { outcome: 'done' });
    assert.equal(seen.at(-1)?.mac, '52:54:00:aa:bb:02');
    stop();
  });
});
