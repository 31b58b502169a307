import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LeasePool, type PoolConfig, type Subnet } from '../../../src/dhcp/pool.ts';

const T0 = Date.UTC(2026, 0, 1);
const mac = (n: number) => `52:54:00:00:01:${n.toString(16).padStart(2, '0')}`;

function config(over: Partial<PoolConfig> = {}): PoolConfig {
  return {
    subnets: [
      // 100..109 is 10 addresses, less the excluded 105: 9; plus the reservation outside the range: 10.
      { subnet: '192.0.2.0/24', range: ['192.0.2.100', '192.0.2.109'], exclude: ['192.0.2.105'] },
      // The range covers the network and broadcast addresses, which are never handed out: 4 - 2.
      { subnet: '198.51.100.0/30', range: ['198.51.100.0', '198.51.100.3'] },
    ],
    reservations: [{ mac: mac(0xff), ip: '192.0.2.50' }],
    offerHoldMs: 30_000,
    declineQuarantineMs: 60_000,
    ...over,
  };
}

function lan(pool: LeasePool): Subnet {
  const s = pool.subnetFor('192.0.2.1');
  assert.ok(s);
  return s;
}

function offer(pool: LeasePool, n: number, now: number): string {
  const r = pool.offer(lan(pool), { mac: mac(n) }, now);
  assert.ok(r);
  return r.lease.ip;
}

describe('LeasePool.usage', () => {
  test('an empty pool: size counts the range less exclusions and unassignable addresses, plus reservations', () => {
    const pool = new LeasePool(config());
    assert.deepEqual(pool.usage(T0), [
      { subnet: '192.0.2.0/24', size: 10, free: 10, offered: 0, bound: 0, declined: 0 },
      { subnet: '198.51.100.0/30', size: 2, free: 2, offered: 0, bound: 0, declined: 0 },
    ]);
  });

  test('offered, bound and declined leases are counted per subnet and taken from free', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    offer(pool, 1, T0);
    const ip2 = offer(pool, 2, T0);
    assert.equal(pool.request(s, { mac: mac(2) }, ip2, 'selecting', T0).kind, 'ack');
    const ip3 = offer(pool, 3, T0);
    assert.equal(pool.decline({ mac: mac(3) }, ip3, T0).length, 1);
    // The reserved machine binds its address outside the range.
    const r = pool.offer(s, { mac: mac(0xff) }, T0);
    assert.equal(r?.lease.ip, '192.0.2.50');
    assert.equal(pool.request(s, { mac: mac(0xff) }, '192.0.2.50', 'selecting', T0).kind, 'ack');
    const other = pool.subnetFor('198.51.100.1');
    assert.ok(other);
    assert.ok(pool.offer(other, { mac: mac(9) }, T0));

    const [a, b] = pool.usage(T0 + 1);
    assert.deepEqual(a, { subnet: '192.0.2.0/24', size: 10, free: 6, offered: 1, bound: 2, declined: 1 });
    assert.deepEqual(b, { subnet: '198.51.100.0/30', size: 2, free: 1, offered: 1, bound: 0, declined: 0 });
  });

  test('ended offers, released leases and lapsed quarantines are free again, expire() or not', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    offer(pool, 1, T0);
    const ip2 = offer(pool, 2, T0);
    pool.request(s, { mac: mac(2) }, ip2, 'selecting', T0);
    pool.release({ mac: mac(2) }, ip2, T0 + 10);
    const ip3 = offer(pool, 3, T0);
    pool.decline({ mac: mac(3) }, ip3, T0);
    assert.deepEqual(pool.usage(T0 + 20)[0], {
      subnet: '192.0.2.0/24',
      size: 10,
      free: 8,
      offered: 1,
      bound: 0,
      declined: 1,
    });
    // Past the 30 s hold and the 60 s quarantine.
    assert.equal(pool.usage(T0 + 61_000)[0]?.free, 10);
  });

  test('a restored lease on an address no longer in the range does not count', () => {
    const pool = new LeasePool(config());
    pool.restore([{ ip: '192.0.2.200', mac: mac(7), state: 'bound', expiresAt: T0 + 3_600_000 }]);
    assert.equal(pool.usage(T0)[0]?.bound, 0);
    assert.equal(pool.usage(T0)[0]?.free, 10);
  });

  test('defaults to the current time', () => {
    const pool = new LeasePool(config());
    pool.offer(lan(pool), { mac: mac(1) }, Date.now());
    assert.equal(pool.usage()[0]?.offered, 1);
  });
});
