import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  intToIp,
  ipToInt,
  type Lease,
  LeasePool,
  MemoryLeaseStore,
  type PoolConfig,
  type Subnet,
} from '../../../src/dhcp/pool.ts';

const T0 = Date.UTC(2026, 0, 1);
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

function config(over: Partial<PoolConfig> = {}): PoolConfig {
  return {
    subnets: [
      {
        subnet: '192.0.2.0/24',
        range: ['192.0.2.100', '192.0.2.199'],
        options: { routers: ['192.0.2.1'], dnsServers: ['192.0.2.1'] },
        leaseSeconds: 600,
        exclude: ['192.0.2.150'],
      },
      { subnet: '198.51.100.0/24', range: ['198.51.100.10', '198.51.100.12'], leaseSeconds: 3600 },
    ],
    reservations: [{ mac: '52:54:00:00:00:FF', ip: '192.0.2.50', hostname: 'reserved-host' }],
    ...over,
  };
}

function lan(pool: LeasePool): Subnet {
  const s = pool.subnetFor('192.0.2.1');
  assert.ok(s);
  return s;
}

function offerIp(pool: LeasePool, subnet: Subnet, mac: string, now: number, requestedIp?: string): string {
  const r = pool.offer(subnet, requestedIp === undefined ? { mac } : { mac, requestedIp }, now);
  assert.ok(r, `no offer for ${mac}`);
  return r.lease.ip;
}

function bound(pool: LeasePool, subnet: Subnet, mac: string, now: number): Lease {
  const ip = offerIp(pool, subnet, mac, now);
  const r = pool.request(subnet, { mac }, ip, 'selecting', now);
  assert.equal(r.kind, 'ack');
  return r.lease;
}

describe('address math', () => {
  test('32-bit unsigned round trip, high addresses stay positive', () => {
    assert.equal(ipToInt('255.255.255.255'), 0xffffffff);
    assert.equal(ipToInt('192.0.2.1'), 0xc0000201);
    assert.equal(intToIp(0xc0000201), '192.0.2.1');
    assert.equal(intToIp(0xffffffff), '255.255.255.255');
    assert.equal(ipToInt('300.1.1.1'), undefined);
  });
});

describe('LeasePool config', () => {
  test('subnetFor picks by giaddr or interface address', () => {
    const pool = new LeasePool(config());
    assert.equal(pool.subnetFor('192.0.2.1')?.cidr, '192.0.2.0/24');
    assert.equal(pool.subnetFor('198.51.100.1')?.cidr, '198.51.100.0/24');
    assert.equal(pool.subnetFor('203.0.113.1'), undefined);
    const s = lan(pool);
    assert.equal(s.params.subnetMask, '255.255.255.0');
    assert.equal(s.params.leaseSeconds, 600);
    assert.deepEqual(s.params.routers, ['192.0.2.1']);
  });

  test('rejects bad ranges, overlapping subnets and stray reservations', () => {
    const sub = (subnet: string, range: [string, string]) => ({ subnets: [{ subnet, range }] });
    assert.throws(() => new LeasePool(sub('192.0.2.0/24', ['192.0.2.200', '192.0.2.100'])), /backwards/);
    assert.throws(() => new LeasePool(sub('192.0.2.0/24', ['192.0.2.100', '192.0.3.1'])), /not inside/);
    assert.throws(() => new LeasePool(sub('192.0.2.1/24', ['192.0.2.100', '192.0.2.101'])), /host bits/);
    assert.throws(
      () =>
        new LeasePool({
          subnets: [
            { subnet: '10.0.0.0/8', range: ['10.0.0.10', '10.0.0.20'] },
            { subnet: '10.1.0.0/16', range: ['10.1.0.10', '10.1.0.20'] },
          ],
        }),
      /overlaps/,
    );
    assert.throws(() => new LeasePool(config({ reservations: [{ mac: A, ip: '203.0.113.5' }] })), /no configured/);
  });
});

describe('LeasePool.offer', () => {
  test('lowest free address first; two clients never get the same offer', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    assert.equal(offerIp(pool, s, A, T0), '192.0.2.100');
    assert.equal(offerIp(pool, s, B, T0 + 1), '192.0.2.101');
    // The same client asking again gets its held offer back.
    assert.equal(offerIp(pool, s, A, T0 + 2), '192.0.2.100');
  });

  test('an offer is held ~30 s, then the address is free for another client', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    assert.equal(offerIp(pool, s, A, T0), '192.0.2.100');
    assert.equal(offerIp(pool, s, B, T0 + 29_999), '192.0.2.101');
    assert.equal(offerIp(pool, s, C, T0 + 30_000), '192.0.2.100');
  });

  test('the requested address (option 50) when free, else the lowest', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    assert.equal(offerIp(pool, s, A, T0, '192.0.2.123'), '192.0.2.123');
    assert.equal(offerIp(pool, s, B, T0, '192.0.2.123'), '192.0.2.100');
    // Outside the range, excluded, or on another subnet: not honoured.
    assert.equal(offerIp(pool, s, C, T0, '192.0.2.20'), '192.0.2.101');
    const p2 = new LeasePool(config());
    assert.equal(offerIp(p2, lan(p2), C, T0, '192.0.2.150'), '192.0.2.100');
    assert.equal(offerIp(p2, lan(p2), B, T0, '198.51.100.10'), '192.0.2.101');
  });

  test('reservations: the reserved address with its hostname, never given to anyone else', () => {
    const pool = new LeasePool(config({ reservations: [{ mac: A, ip: '192.0.2.100', hostname: 'node-a' }] }));
    const s = lan(pool);
    const b = pool.offer(s, { mac: B, requestedIp: '192.0.2.100' }, T0);
    assert.equal(b?.lease.ip, '192.0.2.101');
    const a = pool.offer(s, { mac: A.toUpperCase() }, T0);
    assert.equal(a?.lease.ip, '192.0.2.100');
    assert.equal(a?.lease.hostname, 'node-a');
    assert.equal(a?.lease.mac, A);
    // A reservation outside the dynamic range is still handed out.
    const p2 = new LeasePool(config());
    const r = p2.offer(lan(p2), { mac: '52-54-00-00-00-ff' }, T0);
    assert.equal(r?.lease.ip, '192.0.2.50');
    assert.equal(r?.lease.hostname, 'reserved-host');
    // A reservation on another subnet does not apply here.
    const p3 = new LeasePool(config({ reservations: [{ mac: A, ip: '198.51.100.11' }] }));
    assert.equal(offerIp(p3, lan(p3), A, T0), '192.0.2.100');
    assert.equal(offerIp(p3, p3.subnetFor('198.51.100.1')!, A, T0), '198.51.100.11');
  });

  test('pool exhaustion: bound leases leave no offer; offers alone never exhaust the pool', () => {
    const pool = new LeasePool(config());
    const small = pool.subnetFor('198.51.100.99')!;
    for (const mac of [A, B, C]) bound(pool, small, mac, T0);
    assert.equal(pool.offer(small, { mac: '52:54:00:00:00:0d' }, T0), undefined, 'every address is bound');

    const flood = new LeasePool(config());
    const s = flood.subnetFor('198.51.100.99')!;
    // A flood of DISCOVERs from made-up MACs fills every address with offers...
    for (let i = 0; i < 50; i++) flood.offer(s, { mac: `02:ff:00:00:00:${i.toString(16).padStart(2, '0')}` }, T0 + i);
    // ...yet a real client still gets an offer (the oldest hold is taken back) and can bind it.
    const ip = offerIp(flood, s, A, T0 + 100);
    assert.equal(flood.request(s, { mac: A }, ip, 'selecting', T0 + 101).kind, 'ack');
  });

  test('a client keeps its bound address across a new DISCOVER, lease not shortened', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    const lease = bound(pool, s, A, T0);
    const r = pool.offer(s, { mac: A }, T0 + 1000);
    assert.equal(r?.lease.ip, lease.ip);
    assert.equal(r?.lease.state, 'bound');
    assert.equal(r?.lease.expiresAt, lease.expiresAt);
    assert.deepEqual(r?.changes, []);
  });

  test('client identifier (61) tells clients apart; a record without 61 matches by MAC', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    // Firmware PXE (no 61) then iPXE (61 = 01 + MAC) on the same NIC: one address.
    const fw = offerIp(pool, s, A, T0);
    const ipxe = pool.offer(s, { mac: A, clientId: Buffer.from('01525400' + '00000a', 'hex') }, T0 + 1);
    assert.equal(ipxe?.lease.ip, fw);
    // Two different client ids on one MAC (two OSes): two addresses.
    const p2 = new LeasePool(config());
    const x = p2.offer(lan(p2), { mac: A, clientId: 'aa01' }, T0);
    const y = p2.offer(lan(p2), { mac: A, clientId: 'aa02' }, T0);
    assert.notEqual(x?.lease.ip, y?.lease.ip);
  });
});

describe('LeasePool.request (RFC 2131 §4.3.2)', () => {
  test('SELECTING: ACK binds the offered address for the subnet lease time', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    const ip = offerIp(pool, s, A, T0);
    const r = pool.request(s, { mac: A }, ip, 'selecting', T0 + 3000);
    assert.equal(r.kind, 'ack');
    assert.equal(r.lease.state, 'bound');
    assert.equal(r.lease.expiresAt, T0 + 3000 + 600_000);
    assert.deepEqual(r.changes, [r.lease]);
  });

  test('SELECTING: an address not offered to this client is NAKed; another client’s offer is taken', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    const a = offerIp(pool, s, A, T0);
    const r1 = pool.request(s, { mac: B }, a, 'selecting', T0);
    assert.equal(r1.kind, 'nak');
    assert.equal(r1.reason, 'taken');
    const r2 = pool.request(s, { mac: B }, '192.0.2.180', 'selecting', T0);
    assert.equal(r2.kind, 'nak');
    assert.equal(r2.reason, 'not-offered');
  });

  test('wrong subnet is NAKed', () => {
    const pool = new LeasePool(config());
    const r = pool.request(lan(pool), { mac: A }, '198.51.100.10', 'init-reboot', T0);
    assert.equal(r.kind, 'nak');
    assert.equal(r.reason, 'wrong-subnet');
    const r2 = pool.request(lan(pool), { mac: A }, '10.9.9.9', 'selecting', T0);
    assert.equal(r2.kind === 'nak' && r2.reason, 'wrong-subnet');
  });

  test('INIT-REBOOT: silent without a record, ACK for its own address, NAK for another', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    assert.equal(pool.request(s, { mac: A }, '192.0.2.120', 'init-reboot', T0).kind, 'silent');
    const lease = bound(pool, s, A, T0);
    const again = pool.request(s, { mac: A }, lease.ip, 'init-reboot', T0 + 60_000);
    assert.equal(again.kind, 'ack');
    assert.equal(again.lease.expiresAt, T0 + 60_000 + 600_000);
    const wrong = pool.request(s, { mac: A }, '192.0.2.120', 'init-reboot', T0 + 60_000);
    assert.equal(wrong.kind === 'nak' && wrong.reason, 'wrong-address');
    // A reserved client asking for anything but its reservation.
    const p2 = new LeasePool(config({ reservations: [{ mac: B, ip: '192.0.2.60' }] }));
    const r = p2.request(lan(p2), { mac: B }, '192.0.2.130', 'init-reboot', T0);
    assert.equal(r.kind === 'nak' && r.reason, 'wrong-address');
    assert.equal(p2.request(lan(p2), { mac: B }, '192.0.2.60', 'init-reboot', T0).kind, 'ack');
  });

  test('binding a new address releases the client’s older one on that subnet', () => {
    const pool = new LeasePool(config({ reservations: [] }));
    const s = lan(pool);
    const old = bound(pool, s, A, T0);
    const r = pool.request(s, { mac: A }, '192.0.2.140', 'selecting', T0 + 1);
    assert.equal(r.kind === 'nak' && r.reason, 'not-offered');
    // Renewing at another free address (e.g. after the client moved): the old one is let go in the same commit.
    const moved = pool.renew({ mac: A }, '192.0.2.140', T0 + 2);
    assert.equal(moved.kind, 'ack');
    assert.deepEqual(
      moved.changes.map((l) => [l.ip, l.state]),
      [
        [old.ip, 'released'],
        ['192.0.2.140', 'bound'],
      ],
    );
  });
});

describe('LeasePool.renew', () => {
  test('extends its own lease; NAKs another client’s; re-binds a free address with no record', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    const a = bound(pool, s, A, T0);
    const r = pool.renew({ mac: A }, a.ip, T0 + 300_000);
    assert.equal(r.kind, 'ack');
    assert.equal(r.lease.expiresAt, T0 + 300_000 + 600_000);
    const stolen = pool.renew({ mac: B }, a.ip, T0 + 300_000);
    assert.equal(stolen.kind === 'nak' && stolen.reason, 'taken');
    const fresh = pool.renew({ mac: B }, '192.0.2.170', T0);
    assert.equal(fresh.kind, 'ack');
    const off = pool.renew({ mac: C }, '203.0.113.9', T0);
    assert.equal(off.kind === 'nak' && off.reason, 'wrong-subnet');
    const outside = pool.renew({ mac: C }, '192.0.2.20', T0);
    assert.equal(outside.kind === 'nak' && outside.reason, 'not-assignable');
  });
});

describe('LeasePool release, decline, expire', () => {
  test('release then re-offer: the same client gets the same address back', () => {
    const pool = new LeasePool(config());
    const s = lan(pool);
    const a = bound(pool, s, A, T0);
    const ch = pool.release({ mac: A }, a.ip, T0 + 10);
    assert.deepEqual(
      ch.map((l) => l.state),
      ['released'],
    );
    // Released addresses are free for others…
    assert.equal(offerIp(pool, s, B, T0 + 20), a.ip);
    // …but the releasing client's previous address is preferred when it is still free.
    const p2 = new LeasePool(config());
    const a2 = bound(p2, lan(p2), A, T0);
    p2.release({ mac: A }, a2.ip, T0 + 10);
    offerIp(p2, lan(p2), B, T0 + 11, '192.0.2.190');
    assert.equal(offerIp(p2, lan(p2), A, T0 + 20), a2.ip);
    // Another client cannot release it.
    assert.deepEqual(pool.release({ mac: C }, a.ip, T0), []);
  });

  test('decline quarantines the address for the configured time', () => {
    const pool = new LeasePool(config({ declineQuarantineMs: 60_000 }));
    const s = lan(pool);
    const ip = offerIp(pool, s, A, T0);
    assert.deepEqual(pool.decline({ mac: C }, ip, T0), [], 'only the holder may decline');
    const ch = pool.decline({ mac: A }, ip, T0 + 1000);
    assert.equal(ch[0]?.state, 'declined');
    assert.equal(ch[0]?.expiresAt, T0 + 61_000);
    // The decliner gets another address; so does everyone else.
    assert.notEqual(offerIp(pool, s, A, T0 + 2000), ip);
    assert.notEqual(offerIp(pool, s, B, T0 + 2000), ip);
    const r = pool.request(s, { mac: C }, ip, 'selecting', T0 + 2000);
    assert.equal(r.kind === 'nak' && r.reason, 'declined');
    // After the quarantine it is usable again.
    assert.equal(offerIp(pool, s, C, T0 + 61_000), ip);
  });

  test('default decline quarantine is 10 minutes', () => {
    const pool = new LeasePool(config());
    assert.equal(pool.declineQuarantineMs, 600_000);
    assert.equal(pool.offerHoldMs, 30_000);
  });

  test('expire marks ended offers, leases and quarantines', () => {
    const pool = new LeasePool(config({ declineQuarantineMs: 60_000 }));
    const s = lan(pool);
    const a = bound(pool, s, A, T0); // 600 s
    const b = offerIp(pool, s, B, T0); // 30 s hold
    const c = offerIp(pool, s, C, T0);
    pool.decline({ mac: C }, c, T0); // 60 s
    assert.deepEqual(
      pool.expire(T0 + 30_000).map((l) => l.ip),
      [b],
    );
    assert.deepEqual(
      pool.expire(T0 + 60_000).map((l) => l.ip),
      [c],
    );
    assert.deepEqual(pool.expire(T0 + 599_999), []);
    const last = pool.expire(T0 + 600_000);
    assert.deepEqual(
      last.map((l) => [l.ip, l.state]),
      [[a.ip, 'expired']],
    );
    assert.deepEqual(pool.expire(T0 + 700_000), []);
  });
});

describe('persistence', () => {
  test('changes committed to a store restore the same state', async () => {
    const store = new MemoryLeaseStore();
    const pool = await LeasePool.open(config(), store);
    const s = lan(pool);
    const off = pool.offer(s, { mac: A }, T0);
    assert.ok(off);
    await store.commit(off.changes);
    const ack = pool.request(s, { mac: A }, off.lease.ip, 'selecting', T0);
    assert.equal(ack.kind, 'ack');
    await store.commit(ack.changes);
    assert.equal(store.commits, 2);

    const restarted = await LeasePool.open(config(), store);
    assert.deepEqual(restarted.lease(off.lease.ip), ack.lease);
    // B cannot get A's address after the restart.
    assert.notEqual(offerIp(restarted, lan(restarted), B, T0 + 1), off.lease.ip);
    assert.equal(restarted.renew({ mac: A }, off.lease.ip, T0 + 2).kind, 'ack');
  });

  test('restore drops leases outside every subnet; all() returns copies', () => {
    const pool = new LeasePool(config());
    pool.restore([
      { ip: '203.0.113.5', mac: A, state: 'bound', expiresAt: T0 + 1 },
      { ip: '192.0.2.105', mac: A, state: 'bound', expiresAt: T0 + 1 },
    ]);
    const all = pool.all();
    assert.deepEqual(
      all.map((l) => l.ip),
      ['192.0.2.105'],
    );
    all[0]!.state = 'released';
    assert.equal(pool.lease('192.0.2.105')?.state, 'bound');
  });
});
