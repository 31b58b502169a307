/**
 * The DHCP server's claims, over loopback with real packets: its pool believes addresses are free that another
 * server's clients hold in the store. The store refuses the claims, the pool learns the holders, an OFFER is made of
 * another address (picked again within the packet), a REQUEST for a taken address gets no ACK (`lease-conflict`), and
 * a client of another server's share is not answered (`not-our-share`). Relayed, so replies go to the relay's port
 * 67: needs root. Relay 127.0.0.43 and ports of its own keep it clear of the other loopback DHCP tests.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUCKETS, bucketOwners, clientBucket, LoadBalance } from '../../src/dhcp/balance.ts';
import { encodePacket } from '../../src/dhcp/encode.ts';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { type DhcpPacket, decodePacket, macToChaddr } from '../../src/dhcp/packet.ts';
import { LeasePool } from '../../src/dhcp/pool.ts';
import { type DhcpExchange, type DhcpServer, startDhcpServer } from '../../src/dhcp/server.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const SERVER = '127.0.0.1';
const RELAY = '127.0.0.43';
// Not 16967/16977 (dhcp-exchange.test.ts binds those on 0.0.0.0 when the two files run side by side).
const PORT = 16987;
const ME = 'srv-a';
const OTHER = 'srv-b';
const HELD = '52:54:00:bb:00:01';

let xid = 0x7c1a0000;
function packet(mac: string, options: DhcpPacket['options'], fields: Partial<DhcpPacket> = {}) {
  const id = ++xid;
  const e = encodePacket({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid: id,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: RELAY,
    chaddr: macToChaddr(mac)!,
    sname: '',
    file: '',
    options,
    ...fields,
  });
  assert.ok(e.ok);
  return { xid: id, buf: e.buffer };
}

async function until<T>(what: string, get: () => T | undefined, ms = 3000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) {
    const v = get();
    if (v !== undefined) return v;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

describe('DHCP claims against a store another server writes too', () => {
  const store = new MemoryStore();
  const pool = new LeasePool({ subnets: [{ subnet: '127.0.0.0/24', range: ['127.0.0.100', '127.0.0.109'] }] });
  const exchanges: DhcpExchange[] = [];
  const drops: [string, string][] = [];
  const replies: DhcpPacket[] = [];
  const balance = new LoadBalance(ME, 5);
  let server: DhcpServer;
  let relay: Socket;
  const send = (buf: Buffer) => relay.send(buf, PORT, SERVER);

  before(async () => {
    // The other server's clients hold the first two addresses; this pool has never heard of them.
    const t = Date.now() + 3_600_000;
    await store.claimLeases(
      [
        { ip: '127.0.0.100', mac: HELD, state: 'bound', expiresAt: t },
        { ip: '127.0.0.101', mac: '52:54:00:bb:00:02', state: 'offered', expiresAt: t },
      ],
      { server: OTHER, now: Date.now() },
    );
    server = await startDhcpServer({
      mode: 'full',
      interfaces: [],
      serverIp: SERVER,
      port: PORT,
      proxyPort: PORT + 1,
      pool,
      commitLeases: async () => assert.fail('claims only'),
      claimLeases: (changes) => store.claimLeases(changes, { server: ME, now: Date.now() }),
      storeOffers: () => true,
      share: (p) => balance.answers(p),
      decide: async () => ({ kind: 'ipxe-binary', file: 'undionly.kpxe', transport: 'tftp', reason: 'test' }),
      onExchange: (e) => exchanges.push(e),
      onDrop: (reason, detail) => drops.push([reason, detail]),
      warn: () => {},
    });
    relay = createSocket('udp4');
    relay.on('message', (m) => {
      const d = decodePacket(m);
      if (d.ok) replies.push(d.packet);
    });
    await new Promise<void>((r) => relay.bind({ address: RELAY, port: 67 }, () => r()));
  });
  after(async () => {
    relay?.close();
    await server?.close();
  });

  it('DISCOVER: the refused addresses are learned and a free one is offered, in one exchange', async () => {
    const d = packet('52:54:00:aa:00:01', { messageType: MessageType.Discover });
    send(d.buf);
    const offer = await until('OFFER', () => replies.find((p) => p.xid === d.xid));
    assert.equal(offer.yiaddr, '127.0.0.102');
    assert.equal(pool.lease('127.0.0.100')?.mac, HELD, 'the pool learned the holder');
    assert.equal(pool.lease('127.0.0.101')?.server, OTHER);
    // The offer is claimed in the store, for this server.
    const stored = (await store.loadLeases()).find((l) => l.ip === '127.0.0.102');
    assert.deepEqual([stored?.state, stored?.server], ['offered', ME]);
    assert.equal(exchanges.filter((e) => e.xid === d.xid).length, 1);
  });

  it('REQUEST for an address another server took since: no ACK, dropped as lease-conflict', async () => {
    // The pool still thinks 127.0.0.105 is this client's (a stale binding); the other server gave it away.
    const mac = '52:54:00:aa:00:02';
    pool.restore([{ ip: '127.0.0.105', mac, state: 'bound', expiresAt: Date.now() + 60_000 }]);
    const t = Date.now() + 3_600_000;
    await store.claimLeases([{ ip: '127.0.0.105', mac: HELD, state: 'bound', expiresAt: t }], {
      server: OTHER,
      now: Date.now() + 120_000,
    });
    const q = packet(mac, { messageType: MessageType.Request, requestedIpAddress: '127.0.0.105' });
    send(q.buf);
    const e = await until('exchange', () => exchanges.find((x) => x.xid === q.xid));
    assert.deepEqual([e.outcome, e.reason], ['ignored', 'lease-conflict']);
    assert.match(e.detail ?? '', /127\.0\.0\.105 is held by 52:54:00:bb:00:01 \(server srv-b\)/);
    await sleep(100);
    assert.equal(
      replies.find((p) => p.xid === q.xid),
      undefined,
      'no ACK for an address the store gave another client',
    );
    assert.equal(pool.lease('127.0.0.105')?.mac, HELD);
    assert.equal((await store.loadLeases()).find((l) => l.ip === '127.0.0.105')?.mac, HELD, 'the store is unchanged');
  });

  it("a DISCOVER of another live server's share is dropped as not-our-share, with no exchange", async () => {
    balance.setServers([ME, OTHER]);
    const owners = bucketOwners([ME, OTHER]);
    assert.equal(owners.length, BUCKETS);
    let n = 0;
    const mac = () => `52:54:00:cc:00:${(n++).toString(16).padStart(2, '0')}`;
    let theirs = mac();
    while (owners[clientBucket({ chaddr: macToChaddr(theirs)!, hlen: 6, options: {} } as DhcpPacket)] !== OTHER)
      theirs = mac();
    const d = packet(theirs, { messageType: MessageType.Discover });
    send(d.buf);
    await until('drop', () => drops.find(([reason, detail]) => reason === 'not-our-share' && detail.includes(theirs)));
    // Its retransmission after 5 s of trying is answered: its own server is evidently not.
    const late = packet(theirs, { messageType: MessageType.Discover }, { secs: 5 });
    send(late.buf);
    await until('OFFER after secs 5', () => replies.find((p) => p.xid === late.xid));
    assert.equal(
      exchanges.find((e) => e.xid === d.xid),
      undefined,
    );
  });
});
