/**
 * The DHCPv6 address pool, and its durability: a binding committed to a real SQLite store is restored by a new pool
 * (a restarted server) and the same DUID gets the same address back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Subnet6Config } from '../../../src/config/dhcp6.ts';
import { Lease6Pool } from '../../../src/dhcp6/pool.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';

const SUBNET: Subnet6Config = {
  prefix: '2001:db8::/64',
  range: ['2001:db8::100', '2001:db8::103'],
  preferredSeconds: 3600,
  validSeconds: 7200,
};
const A = { duid: '0001000131ea6232525400e2e601', mac: '52:54:00:e2:e6:01' };
const B = { duid: '0004aabbccdd', mac: '52:54:00:e2:e6:02' };
const T = 1_800_000_000_000;

describe('Lease6Pool', () => {
  test('SOLICIT holds an address, REQUEST binds the same one for the valid lifetime', () => {
    const pool = new Lease6Pool([SUBNET]);
    const offered = pool.assign(SUBNET, A, false, T);
    assert.equal(offered?.lease.ip, '2001:db8::100');
    assert.equal(offered?.lease.state, 'offered');
    const bound = pool.assign(SUBNET, A, true, T + 1000);
    assert.deepEqual(bound?.lease, {
      ip: '2001:db8::100',
      mac: A.mac,
      clientId: A.duid,
      state: 'bound',
      expiresAt: T + 1000 + 7200_000,
    });
    assert.equal(pool.assign(SUBNET, B, false, T)?.lease.ip, '2001:db8::101', 'held addresses are not given twice');
  });

  test('a SOLICIT from a bound client changes nothing (no commit)', () => {
    const pool = new Lease6Pool([SUBNET]);
    pool.assign(SUBNET, A, true, T);
    assert.deepEqual(pool.assign(SUBNET, A, false, T + 5)?.changes, []);
  });

  test('the same DUID with another MAC (iPXE DUID-UUIDs of VMs without a UUID) is another client', () => {
    const pool = new Lease6Pool([SUBNET]);
    const shared = '000400000000000000000000000000000000';
    const one = pool.assign(SUBNET, { duid: shared, mac: A.mac }, true, T);
    const two = pool.assign(SUBNET, { duid: shared, mac: B.mac }, true, T);
    assert.notEqual(one?.lease.ip, two?.lease.ip);
  });

  test('exhaustion, then an expired offer is free again', () => {
    const pool = new Lease6Pool([SUBNET]);
    for (let i = 0; i < 4; i++)
      assert.ok(pool.assign(SUBNET, { duid: `00030001${i}`, mac: `02:00:00:00:00:0${i}` }, false, T));
    assert.equal(pool.assign(SUBNET, B, false, T), undefined);
    assert.ok(pool.assign(SUBNET, B, false, T + 61_000), 'offers are held 60 s');
  });

  test('RENEW extends only the holder; RELEASE frees; DECLINE quarantines', () => {
    const pool = new Lease6Pool([SUBNET]);
    const ip = pool.assign(SUBNET, A, true, T)!.lease.ip;
    assert.equal(pool.renew(SUBNET, B, ip, T + 10), undefined);
    assert.equal(pool.renew(SUBNET, A, ip, T + 10)?.expiresAt, T + 10 + 7200_000);
    assert.equal(pool.renew(SUBNET, A, '2001:db8::1:1', T + 10), undefined);
    assert.equal(pool.giveUp(B, ip, 'released', T + 20), undefined);
    assert.equal(pool.giveUp(A, ip, 'released', T + 20)?.state, 'released');
    assert.equal(pool.assign(SUBNET, B, true, T + 30)?.lease.ip, '2001:db8::101', 'the cursor moves on');
    const d = pool.giveUp(B, '2001:db8::101', 'declined', T + 40);
    assert.equal(d?.state, 'declined');
    assert.notEqual(
      pool.assign(SUBNET, { duid: '0003', mac: '02:00:00:00:00:09' }, true, T + 50)?.lease.ip,
      '2001:db8::101',
    );
  });

  test('CONFIRM: on-link is the prefix, not the range', () => {
    const pool = new Lease6Pool([SUBNET]);
    assert.equal(pool.onLink(SUBNET, '2001:db8::ffff'), true);
    assert.equal(pool.onLink(SUBNET, '2001:db9::1'), false);
    assert.equal(pool.onLink(SUBNET, 'nonsense'), false);
  });

  test('a range outside its prefix is refused', () => {
    assert.throws(
      () => new Lease6Pool([{ ...SUBNET, range: ['2001:db8::1', '2001:db9::1'] }]),
      /not an ascending range/,
    );
  });
});

describe('durable DHCPv6 leases (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-dhcp6-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a restarted server gives the same DUID the same address; IPv4 leases are left to the IPv4 pool', async () => {
    const file = join(dir, 'bootherd.db');
    let store = await openSqliteStore(file);
    const pool = new Lease6Pool([SUBNET]);
    pool.assign(SUBNET, B, true, T); // ::100 to B, so A's address is not simply the first
    const bound = pool.assign(SUBNET, A, true, T)!;
    await store.commitLeases([...pool.all(), { ip: '192.0.2.100', mac: A.mac, state: 'bound', expiresAt: T + 1 }]);
    await store.close();

    store = await openSqliteStore(file);
    try {
      const restarted = new Lease6Pool([SUBNET]);
      restarted.restore(await store.loadLeases());
      assert.equal(restarted.all().length, 2);
      // After the lease ran out too: a returning client gets its previous address back.
      const again = restarted.assign(SUBNET, A, false, T + 8000_000);
      assert.equal(again?.lease.ip, bound.lease.ip);
      assert.equal(again?.lease.ip, '2001:db8::101');
    } finally {
      await store.close();
    }
  });
});
