/**
 * The chainload loop guard through the boot service: a weak iPXE is chained once, and once the machine has loaded
 * bootherd's binary over TFTP (and so runs it) it gets the script instead of the same binary again. Controls: the
 * guard off, another file fetched, another machine, and the memory's window and bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChainMemory } from '../../../src/boot/chain-guard.ts';
import { Metrics } from '../../../src/core/metrics.ts';
import { BootService } from '../../../src/core/service.ts';
import { Signer } from '../../../src/core/signing.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { ClientFacts } from '../../../src/model/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import type { Store } from '../../../src/store/types.ts';
import { policy } from '../../lib/core.ts';

/** Debian's 2019 iPXE: user class iPXE, HTTP but no HTTPS. */
const weak = (mac: string): ClientFacts => ({ mac, arch: 0, userClass: 'iPXE', ipxeFeatures: ['http', 'tftp', 'pxe'] });

describe('chainload loop guard', () => {
  let store: Store;
  const services: BootService[] = [];
  const open = (loopGuard: boolean) => {
    const events = new EventBus(store, (err) => {
      throw err;
    });
    const boot = { ...policy, requiredFeatures: ['http', 'https'], loopGuard };
    const s = new BootService({ store, boot, signer: new Signer(Buffer.alloc(32, 7)), events, metrics: new Metrics() });
    services.push(s);
    return s;
  };
  /** One boot round: DISCOVER decided, its ACK reported with the address, then (maybe) a TFTP fetch from it. */
  const round = async (s: BootService, facts: ClientFacts, ip: string, fetch?: string) => {
    const d = await s.dhcp(facts);
    s.dhcpExchange({ facts, message: 'REQUEST', port: 67, outcome: 'acked', reply: 'ACK', yiaddr: ip });
    if (fetch) s.tftpTransfer(ip, fetch, { outcome: 'done', bytes: 70_000, ms: 300, retries: 0 });
    return d;
  };
  before(async () => {
    store = await openSqliteStore(':memory:');
  });
  after(async () => {
    for (const s of services) await s.flush();
    await store.close();
  });

  test('the weak iPXE is chained once, then gets the script', async () => {
    const s = open(true);
    const first = await round(s, weak('52:54:00:00:10:01'), '192.0.2.101', 'undionly.kpxe');
    assert.equal(first.kind, 'ipxe-binary');
    const second = await round(s, weak('52:54:00:00:10:01'), '192.0.2.101');
    assert.equal(second.kind, 'script');
    assert.match(second.reason, /^loop guard: .* lacks https/);
    // Another machine has loaded nothing of ours: it is chained.
    assert.equal((await round(s, weak('52:54:00:00:10:02'), '192.0.2.102')).kind, 'ipxe-binary');
  });

  test('control: a fetch of another file is no evidence, and with the guard off the chain repeats', async () => {
    const s = open(true);
    await round(s, weak('52:54:00:00:20:01'), '192.0.2.111', 'pxelinux.0');
    assert.equal((await round(s, weak('52:54:00:00:20:01'), '192.0.2.111')).kind, 'ipxe-binary');
    const off = open(false);
    for (let i = 0; i < 3; i++)
      assert.equal((await round(off, weak('52:54:00:00:20:02'), '192.0.2.112', 'undionly.kpxe')).kind, 'ipxe-binary');
  });

  test('the memory forgets after its window and keeps at most its bound', () => {
    const m = new ChainMemory(1000, 2);
    m.loadedBinary('a', 0);
    assert.equal(m.loadedRecently('a', 1000), true);
    assert.equal(m.loadedRecently('a', 1001), false);
    m.loadedBinary('a', 2000);
    m.loadedBinary('b', 2000);
    m.loadedBinary('c', 2000);
    assert.equal(m.loadedRecently('a', 2000), false, 'the oldest went first');
    assert.equal(m.loadedRecently('c', 2000), true);
  });
});
