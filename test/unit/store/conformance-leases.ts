/**
 * Conformance: the DHCP lease claim (Store.claimLeases) several servers rely on to never hand one address to two
 * clients. The database decides: a claim writes only an absent, ended or same-client row, and returns the holder of
 * every address it did not get. The control shows what a blind commit (commitLeases) lets two servers do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store, StoredLease } from '../../../src/store/types.ts';
import type { OpenPair } from './conformance-fleet.ts';

type WithStore = (name: string, fn: (s: Store) => Promise<void>) => void;

const NOW = 1_800_000_000_000;
const MAC_A = '52:54:00:00:00:0a';
const MAC_B = '52:54:00:00:00:0b';
const lease = (ip: string, mac: string, extra: Partial<StoredLease> = {}): StoredLease => ({
  ip,
  mac,
  state: 'bound',
  expiresAt: NOW + 60_000,
  ...extra,
});
const at = (server: string, now = NOW) => ({ server, now });

/** Addresses raced by two servers at once, each for its own client. */
const RACE = 24;

export function leaseConformance(withStore: WithStore, openPair?: OpenPair): void {
  withStore('lease claim: a free address is claimed and records the server', async (s) => {
    assert.deepEqual(await s.claimLeases([lease('192.0.2.10', MAC_A)], at('srv-a')), []);
    assert.deepEqual(await s.loadLeases(), [{ ...lease('192.0.2.10', MAC_A), server: 'srv-a' }]);
    assert.deepEqual(await s.claimLeases([], at('srv-a')), []);
  });

  withStore('lease claim: the same client re-claims through another server (a renewal after a takeover)', async (s) => {
    await s.claimLeases([lease('192.0.2.10', MAC_A)], at('srv-a'));
    const renewed = lease('192.0.2.10', MAC_A, { expiresAt: NOW + 120_000 });
    assert.deepEqual(await s.claimLeases([renewed], at('srv-b', NOW + 1000)), []);
    assert.deepEqual(await s.loadLeases(), [{ ...renewed, server: 'srv-b' }]);
    // The client releases it through a third.
    const released = lease('192.0.2.10', MAC_A, { state: 'released', expiresAt: NOW + 2000 });
    assert.deepEqual(await s.claimLeases([released], at('srv-c', NOW + 2000)), []);
  });

  withStore('lease claim: another client is refused, the holder returned, the row unchanged', async (s) => {
    await s.claimLeases([lease('192.0.2.10', MAC_A, { hostname: 'pc-a' })], at('srv-a'));
    const refused = await s.claimLeases(
      [lease('192.0.2.11', MAC_B), lease('192.0.2.10', MAC_B, { state: 'offered' })],
      at('srv-b', NOW + 1000),
    );
    assert.deepEqual(refused, [{ ...lease('192.0.2.10', MAC_A, { hostname: 'pc-a' }), server: 'srv-a' }]);
    assert.deepEqual(
      (await s.loadLeases()).map((l) => [l.ip, l.mac, l.server]),
      [
        ['192.0.2.10', MAC_A, 'srv-a'],
        ['192.0.2.11', MAC_B, 'srv-b'],
      ],
    );
  });

  withStore('lease claim: option 61 decides when both sides have one, else the MAC', async (s) => {
    await s.claimLeases([lease('192.0.2.10', MAC_A, { clientId: '01aa' })], at('srv-a'));
    // The same client id on another NIC (a different chaddr) is the same client.
    assert.deepEqual(await s.claimLeases([lease('192.0.2.10', MAC_B, { clientId: '01aa' })], at('srv-b')), []);
    // The same MAC with another client id is another client.
    const refused = await s.claimLeases([lease('192.0.2.10', MAC_B, { clientId: '01bb' })], at('srv-a'));
    assert.equal(refused[0]?.clientId, '01aa');
    // No client id in the claim: the MAC decides.
    assert.deepEqual(await s.claimLeases([lease('192.0.2.10', MAC_B)], at('srv-a')), []);
  });

  withStore('lease claim: ended rows (past their end, released, expired) are anyone’s', async (s) => {
    await s.claimLeases(
      [
        lease('192.0.2.10', MAC_A, { expiresAt: NOW - 1 }),
        lease('192.0.2.11', MAC_A, { state: 'released' }),
        lease('192.0.2.12', MAC_A, { state: 'offered', expiresAt: NOW }),
        lease('192.0.2.13', MAC_A, { state: 'declined', expiresAt: NOW - 5 }),
      ],
      at('srv-a', NOW - 10),
    );
    const b = ['10', '11', '12', '13'].map((n) => lease(`192.0.2.${n}`, MAC_B));
    assert.deepEqual(await s.claimLeases(b, at('srv-b')), []);
    assert.ok((await s.loadLeases()).every((l) => l.mac === MAC_B && l.server === 'srv-b'));
  });

  withStore('lease claim: no early expiry, no offer over a binding, a decline stays in quarantine', async (s) => {
    const bound = lease('192.0.2.10', MAC_A);
    const declined = lease('192.0.2.11', MAC_A, { state: 'declined' });
    await s.claimLeases([bound, declined], at('srv-a'));
    // Another server's stale view: it thinks these ended. The row says otherwise, so nothing changes.
    const refused = await s.claimLeases(
      [
        lease('192.0.2.10', MAC_A, { state: 'expired', expiresAt: NOW - 1 }),
        lease('192.0.2.10', MAC_A, { state: 'offered', expiresAt: NOW + 1000 }),
        lease('192.0.2.11', MAC_A),
      ],
      at('srv-b', NOW + 1000),
    );
    assert.deepEqual(
      refused.map((l) => [l.ip, l.state]),
      [
        ['192.0.2.10', 'bound'],
        ['192.0.2.10', 'bound'],
        ['192.0.2.11', 'declined'],
      ],
    );
    // Once the binding really ended, the expiry is written.
    const ended = lease('192.0.2.10', MAC_A, { state: 'expired' });
    assert.deepEqual(await s.claimLeases([ended], at('srv-b', NOW + 60_000)), []);
  });

  withStore('lease claim: two claims of one address at once, for two clients: exactly one wins', async (s) => {
    const results = await Promise.all([
      s.claimLeases([lease('192.0.2.10', MAC_A)], at('srv-a')),
      s.claimLeases([lease('192.0.2.10', MAC_B)], at('srv-b')),
    ]);
    assert.deepEqual(results.map((r) => r.length).sort(), [0, 1]);
    const [row] = await s.loadLeases();
    assert.equal(results[row?.mac === MAC_A ? 0 : 1]?.length, 0, 'the stored client is the one whose claim won');
  });

  withStore('server registry: who shares the DHCP clients round-trips', async (s) => {
    const record = {
      id: 'srv-a',
      name: 'pxe-a',
      version: '0.1.0',
      startedAt: '2026-01-01T00:00:00.000Z',
      heartbeatAt: '2026-01-01T00:00:01.000Z',
      urls: [],
    };
    await s.putServer({ ...record, dhcpShare: true });
    await s.putServer({ ...record, id: 'srv-b', name: 'pxe-b' });
    assert.deepEqual(await s.listServers(), [
      { ...record, dhcpShare: true },
      { ...record, id: 'srv-b', name: 'pxe-b' },
    ]);
  });

  if (!openPair) return;
  test('lease claim: two stores on one database race for the same addresses, one winner each (blind: two)', async () => {
    const [a, b] = await openPair();
    try {
      const ips = Array.from({ length: RACE }, (_, i) => `192.0.2.${100 + i}`);
      // Each batch holds every address, in opposite orders: the claims must serialise, not deadlock.
      const claims = await Promise.all([
        a.claimLeases(
          ips.map((ip) => lease(ip, MAC_A)),
          at('srv-a'),
        ),
        b.claimLeases(
          [...ips].reverse().map((ip) => lease(ip, MAC_B)),
          at('srv-b'),
        ),
      ]);
      const stored = new Map((await a.loadLeases()).map((l) => [l.ip, l]));
      for (const ip of ips) {
        const winners = [
          claims[0].some((r) => r.ip === ip) ? [] : ['srv-a'],
          claims[1].some((r) => r.ip === ip) ? [] : ['srv-b'],
        ].flat();
        assert.equal(winners.length, 1, `${ip}: claimed by ${winners.join(', ') || 'nobody'}`);
        assert.equal(stored.get(ip)?.server, winners[0]);
        assert.equal(stored.get(ip)?.mac, winners[0] === 'srv-a' ? MAC_A : MAC_B);
      }
      // Control: blind commits of the same race both resolve, so both servers would ACK every address.
      const blind = ips.map((ip) => ip.replace('192.0.2.', '198.51.100.'));
      const committed = await Promise.allSettled([
        a.commitLeases(blind.map((ip) => lease(ip, MAC_A))),
        b.commitLeases(blind.map((ip) => lease(ip, MAC_B))),
      ]);
      assert.deepEqual(
        committed.map((r) => r.status),
        ['fulfilled', 'fulfilled'],
        'a blind commit tells both servers they hold every address',
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
}
