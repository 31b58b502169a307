import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUCKETS, bucketOwners, clientBucket, hashBucket, LoadBalance } from '../../../src/dhcp/balance.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { type DhcpPacket, macToChaddr } from '../../../src/dhcp/packet.ts';

const SERVERS = ['3f0c2a4e-0000-4000-8000-00000000000a', '9a41b7d2-0000-4000-8000-00000000000b', 'c17e-pxe-c'];
const macOf = (n: number) =>
  `52:54:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

function packet(mac: string, over: Partial<DhcpPacket> = {}, options: DhcpPacket['options'] = {}): DhcpPacket {
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 1,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(mac)!,
    sname: '',
    file: '',
    mac,
    options: { messageType: MessageType.Discover, ...options },
    ...over,
  };
}

describe('RFC 3074 hash bucket', () => {
  test('golden values of loadb_p_hash', () => {
    // By hand from the RFC's table: hash = len; hash = tbl[hash ^ key[i]] from the last octet down.
    assert.equal(hashBucket(Uint8Array.from([])), 0);
    assert.equal(hashBucket(Uint8Array.from([0x01])), 251, 'tbl[1 ^ 1] = tbl[0]');
    assert.equal(hashBucket(Uint8Array.from([0x00])), 175, 'tbl[1 ^ 0] = tbl[1]');
    // From an independent implementation (Python over Kea's copy of the table, src/hooks/dhcp/high_availability).
    assert.equal(hashBucket(Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])), 156);
    assert.equal(hashBucket(Uint8Array.from([0, 1, 2, 3, 4, 5])), 161);
  });

  test('the key: option 61 when sent, else the hlen octets of chaddr', () => {
    const p = packet('52:54:00:12:34:56');
    assert.equal(clientBucket(p), 156);
    const withId = packet('52:54:00:12:34:56', {}, { clientIdentifier: Buffer.from([0x01]) });
    assert.equal(clientBucket(withId), 251);
  });

  test('buckets of 3 servers are roughly even, and so are clients', () => {
    const owners = bucketOwners(SERVERS);
    assert.equal(owners.length, BUCKETS);
    const perServer = SERVERS.map((id) => owners.filter((o) => o === id).length);
    console.log(`buckets per server: ${perServer.join(', ')}`);
    for (const n of perServer) assert.ok(n > 50 && n < 120, `${n} of 256 buckets`);
    const clients = SERVERS.map(() => 0);
    for (let i = 0; i < 3000; i++) clients[SERVERS.indexOf(owners[clientBucket(packet(macOf(i)))]!)]!++;
    console.log(`clients per server (3000 MACs): ${clients.join(', ')}`);
    for (const n of clients) assert.ok(n > 600 && n < 1400, `${n} of 3000 clients`);
  });

  test('when a server dies only its buckets move, and come back when it returns', () => {
    const all = bucketOwners(SERVERS);
    const dead = SERVERS[1]!;
    const left = bucketOwners(SERVERS.filter((s) => s !== dead));
    let moved = 0;
    for (let b = 0; b < BUCKETS; b++) {
      if (all[b] === dead) moved++;
      else assert.equal(left[b], all[b], `bucket ${b} moved though its owner lives`);
      assert.notEqual(left[b], dead);
    }
    assert.ok(moved > 0);
    // Order of the list does not matter; every server computes the same table.
    assert.deepEqual(bucketOwners([...SERVERS].reverse()), all);
  });
});

describe('LoadBalance', () => {
  const [me, other] = SERVERS as [string, string];
  const b = new LoadBalance(me, 5);
  const theirs = Array.from({ length: 200 }, (_, i) => macOf(i)).find(
    (mac) => bucketOwners([me, other])[clientBucket(packet(mac))] === other,
  )!;

  test('alone, every client is ours', () => {
    assert.equal(b.answers(packet(theirs)), true);
    assert.equal(b.setServers([]).mine, 256);
  });

  test('with another live server: its DISCOVERs and INIT-REBOOT REQUESTs are not ours', () => {
    const change = b.setServers([me, other]);
    assert.deepEqual([change.changed, change.joined, change.gone], [true, [other], []]);
    assert.ok(change.mine > 60 && change.mine < 200, `${change.mine} buckets`);
    assert.equal(b.answers(packet(theirs)), false);
    const initReboot = packet(theirs, {}, { messageType: MessageType.Request, requestedIpAddress: '192.0.2.9' });
    assert.equal(b.answers(initReboot), false);
    // SELECTING names its server; RENEWING is unicast to the one that granted it; RELEASE goes to its server.
    const selecting = {
      messageType: MessageType.Request,
      requestedIpAddress: '192.0.2.9',
      serverIdentifier: '192.0.2.2',
    };
    assert.equal(b.answers(packet(theirs, {}, selecting)), true);
    assert.equal(b.answers(packet(theirs, { ciaddr: '192.0.2.9' }, { messageType: MessageType.Request })), true);
    assert.equal(b.answers(packet(theirs, { ciaddr: '192.0.2.9' }, { messageType: MessageType.Release })), true);
    assert.equal(b.setServers([other]).changed, false);
  });

  test('a client that has waited (secs at the threshold) is answered by anyone', () => {
    assert.equal(b.answers(packet(theirs, { secs: 4 })), false);
    assert.equal(b.answers(packet(theirs, { secs: 5 })), true);
  });

  test('the other server gone: its clients are ours', () => {
    const change = b.setServers([]);
    assert.deepEqual([change.gone, change.mine], [[other], 256]);
    assert.equal(b.answers(packet(theirs)), true);
  });
});
