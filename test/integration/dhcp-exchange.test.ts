/**
 * The DHCP server's exchange reports, driven with real packets over loopback. Requests are relayed (giaddr set), so
 * replies go to giaddr:67 (RFC 2131 §4.1), where the test listens as the relay: needs root for port 67. A relay
 * address of its own (127.0.0.42) keeps it clear of other tests on 127.0.0.1:67.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DhcpDecision } from '../../src/boot/decide.ts';
import { Metrics } from '../../src/core/metrics.ts';
import { encodePacket } from '../../src/dhcp/encode.ts';
import { type DhcpOptions, MessageType } from '../../src/dhcp/option-types.ts';
import { type DhcpPacket, decodePacket, macToChaddr } from '../../src/dhcp/packet.ts';
import { type Lease, LeasePool } from '../../src/dhcp/pool.ts';
import { type DhcpExchange, type DhcpServer, startDhcpServer } from '../../src/dhcp/server.ts';

const SERVER = '127.0.0.1';
const RELAY = '127.0.0.42';
const ZERO = '0.0.0.0';
const PXE = 'PXEClient:Arch:00000:UNDI:002001';
const BOOT: DhcpDecision = { kind: 'ipxe-binary', file: 'undionly.kpxe', transport: 'tftp', reason: 'firmware PXE' };

let xid = 0x5eed0000;
function packet(mac: string, options: DhcpOptions, fields: Partial<DhcpPacket> = {}): { xid: number; buf: Buffer } {
  const id = ++xid;
  const p: DhcpPacket = {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid: id,
    secs: 0,
    flags: 0,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: RELAY,
    chaddr: macToChaddr(mac)!,
    sname: '',
    file: '',
    options: { vendorClassIdentifier: PXE, ...options },
    ...fields,
  };
  const e = encodePacket(p);
  assert.ok(e.ok);
  return { xid: id, buf: e.buffer };
}

/** Collects what arrives and lets a test wait for the first item matching a predicate. */
class Inbox<T> {
  readonly items: T[] = [];
  push(item: T): void {
    this.items.push(item);
  }
  async wait(match: (item: T) => boolean, ms = 2000): Promise<T> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) {
      const hit = this.items.find(match);
      if (hit) return hit;
    }
    throw new Error(`nothing matched within ${ms} ms; have ${JSON.stringify(this.items)}`);
  }
}

interface Rig {
  server: DhcpServer;
  exchanges: Inbox<DhcpExchange>;
  replies: Inbox<DhcpPacket>;
  client: Socket;
  relay: Socket;
  metrics: Metrics;
  commit: { hold?: Promise<void>; fail?: boolean; committed: Lease[][] };
  send(buf: Buffer, port?: number): void;
  close(): Promise<void>;
}

async function rig(mode: 'full' | 'proxy', port: number, proxyPort: number): Promise<Rig> {
  const exchanges = new Inbox<DhcpExchange>();
  const replies = new Inbox<DhcpPacket>();
  const metrics = new Metrics();
  const commit: Rig['commit'] = { committed: [] };
  const pool =
    mode === 'full'
      ? new LeasePool({ subnets: [{ subnet: '127.0.0.0/24', range: ['127.0.0.100', '127.0.0.109'] }] })
      : undefined;
  if (pool) metrics.watchPool(() => pool.usage());
  const server = await startDhcpServer({
    mode,
    interfaces: [],
    serverIp: SERVER,
    port,
    proxyPort,
    ...(pool ? { pool } : {}),
    commitLeases: async (changes) => {
      await commit.hold;
      if (commit.fail) throw new Error('disk full');
      commit.committed.push(changes);
    },
    decide: async () => BOOT,
    onPacket: (kind, reason) => metrics.dhcpPacket(kind, reason),
    onExchange: (e) => {
      metrics.dhcpExchange(e);
      exchanges.push(e);
    },
    warn: () => {},
  });
  const listen = async (address: string, p: number) => {
    const s = createSocket('udp4');
    s.on('message', (m) => {
      const d = decodePacket(m);
      if (d.ok) replies.push(d.packet);
    });
    await new Promise<void>((r) => s.bind({ address, port: p }, () => r()));
    return s;
  };
  const relay = await listen(RELAY, 67);
  // Replies on the proxy port go back to the sender's address and port: this socket.
  const client = await listen(SERVER, 0);
  return {
    server,
    exchanges,
    replies,
    client,
    relay,
    metrics,
    commit,
    send: (buf, p = port) => client.send(buf, p, SERVER),
    close: async () => {
      relay.close();
      client.close();
      await server.close();
    },
  };
}

describe('DHCP exchanges, full mode', () => {
  let r: Rig;
  before(async () => {
    r = await rig('full', 16967, 16968);
  });
  after(() => r?.close());

  const A = '52:54:00:aa:00:01';
  let offered = '';

  it('DISCOVER → OFFER, with the offered address and the boot file', async () => {
    const d = packet(A, { messageType: MessageType.Discover });
    r.send(d.buf);
    const e = await r.exchanges.wait((x) => x.xid === d.xid);
    const reply = await r.replies.wait((p) => p.xid === d.xid);
    assert.equal(reply.options.messageType, MessageType.Offer);
    assert.match(e.yiaddr ?? '', /^127\.0\.0\.10\d$/);
    offered = e.yiaddr!;
    // Arrival to the reply handed to the kernel.
    assert.ok(e.seconds > 0 && e.seconds < 5, String(e.seconds));
    assert.deepEqual(
      { ...e, facts: undefined, seconds: undefined },
      {
        facts: undefined,
        seconds: undefined,
        message: 'DISCOVER',
        port: 16967,
        xid: d.xid,
        reply: 'OFFER',
        yiaddr: reply.yiaddr,
        outcome: 'offered',
        bootfile: 'undionly.kpxe',
      },
    );
    assert.equal(e.facts.mac, A);
    assert.equal(e.facts.arch, 0);
    // Relayed: the source is the relay, not the client, and an offer is not the client's address yet.
    assert.equal(e.facts.ip, undefined);
  });

  it('REQUEST → ACK is reported only after the lease is durable and the ACK was sent', async () => {
    let release!: () => void;
    r.commit.hold = new Promise((res) => {
      release = res;
    });
    const q = packet(A, { messageType: MessageType.Request, serverIdentifier: SERVER, requestedIpAddress: offered });
    r.send(q.buf);
    await sleep(100);
    assert.equal(
      r.exchanges.items.find((x) => x.xid === q.xid),
      undefined,
      'no exchange before the commit',
    );
    assert.equal(
      r.replies.items.find((p) => p.xid === q.xid),
      undefined,
      'no ACK before the commit',
    );
    release();
    r.commit.hold = undefined;
    const e = await r.exchanges.wait((x) => x.xid === q.xid);
    const ack = await r.replies.wait((p) => p.xid === q.xid);
    assert.equal(ack.options.messageType, MessageType.Ack);
    assert.deepEqual(
      r.commit.committed.at(-1)?.map((l) => [l.ip, l.state]),
      [[offered, 'bound']],
    );
    assert.equal(e.message, 'REQUEST');
    assert.equal(e.reply, 'ACK');
    assert.equal(e.outcome, 'acked');
    assert.equal(e.yiaddr, offered);
    assert.equal(e.bootfile, 'undionly.kpxe');
    assert.equal(e.reason, undefined);
    // From now on the client is known by this address (its TFTP and HTTP requests come from it).
    assert.equal(e.facts.ip, offered);
  });

  it('REQUEST for an address not offered to this client → NAK with a stable reason', async () => {
    const q = packet('52:54:00:aa:00:02', {
      messageType: MessageType.Request,
      serverIdentifier: SERVER,
      requestedIpAddress: '127.0.0.108',
    });
    r.send(q.buf);
    const e = await r.exchanges.wait((x) => x.xid === q.xid);
    const nak = await r.replies.wait((p) => p.xid === q.xid);
    assert.equal(nak.options.messageType, MessageType.Nak);
    assert.equal(e.outcome, 'nak');
    assert.equal(e.reply, 'NAK');
    assert.equal(e.reason, 'not-offered');
    assert.equal(e.yiaddr, undefined);
    assert.equal(e.bootfile, undefined);
    assert.match(e.detail ?? '', /not offered/);
  });

  it('a REQUEST for another server, an INIT-REBOOT with no record and a stray RELEASE are ignored, with reasons', async () => {
    const other = packet(A, {
      messageType: MessageType.Request,
      serverIdentifier: '127.0.0.9',
      requestedIpAddress: offered,
    });
    const reboot = packet('52:54:00:aa:00:03', { messageType: MessageType.Request, requestedIpAddress: '127.0.0.105' });
    const stray = packet('52:54:00:aa:00:04', { messageType: MessageType.Release }, { ciaddr: '127.0.0.101' });
    for (const p of [other, reboot, stray]) r.send(p.buf);
    const got = await Promise.all([other, reboot, stray].map((p) => r.exchanges.wait((x) => x.xid === p.xid)));
    assert.deepEqual(
      got.map((e) => [e.message, e.outcome, e.reason, e.reply]),
      [
        ['REQUEST', 'ignored', 'other-server', undefined],
        ['REQUEST', 'ignored', 'no-record', undefined],
        ['RELEASE', 'ignored', 'no-lease', undefined],
      ],
    );
  });

  it('an ACK whose lease cannot be committed is withheld and reported as ignored: commit-failed', async () => {
    const B = '52:54:00:aa:00:05';
    const d = packet(B, { messageType: MessageType.Discover });
    r.send(d.buf);
    const o = await r.exchanges.wait((x) => x.xid === d.xid);
    r.commit.fail = true;
    const q = packet(B, { messageType: MessageType.Request, serverIdentifier: SERVER, requestedIpAddress: o.yiaddr });
    r.send(q.buf);
    const e = await r.exchanges.wait((x) => x.xid === q.xid);
    r.commit.fail = false;
    assert.deepEqual([e.outcome, e.reason, e.reply], ['ignored', 'commit-failed', undefined]);
    await sleep(50);
    assert.equal(
      r.replies.items.find((p) => p.xid === q.xid),
      undefined,
    );
  });

  it('RELEASE of a bound lease → released, no reply', async () => {
    const q = packet(A, { messageType: MessageType.Release }, { ciaddr: offered });
    r.send(q.buf);
    const e = await r.exchanges.wait((x) => x.xid === q.xid);
    assert.deepEqual([e.message, e.outcome, e.reply, e.facts.ip], ['RELEASE', 'released', undefined, offered]);
  });

  it('the registry shows messages by type and outcome, malformed packets and the pool', async () => {
    r.send(Buffer.from('not a DHCP packet'));
    for (let i = 0; i < 100 && !(await r.metrics.registry.metrics()).includes('message="malformed"'); i++) {
      await sleep(10);
    }
    const text = await r.metrics.registry.metrics();
    assert.match(text, /# TYPE bootherd_dhcp_messages_total counter/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="discover",outcome="offered"\} 2/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="request",outcome="acked"\} 1/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="request",outcome="nak"\} 1/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="request",outcome="ignored"\} 3/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="release",outcome="released"\} 1/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="malformed",outcome="dropped"\} 1/);
    // Answered messages only (an ignored one has no reply to time).
    assert.match(text, /bootherd_dhcp_reply_seconds_count\{message="discover"\} 2/);
    assert.match(text, /bootherd_dhcp_reply_seconds_count\{message="request"\} 2/);
    assert.match(text, /bootherd_dhcp_packets_total\{kind="malformed",reason="[A-Z_]+"\} 1/);
    // A released lease, and the one whose ACK was withheld: bound in memory, so the client's retry is acked.
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="127\.0\.0\.0\/24",state="size"\} 10/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="127\.0\.0\.0\/24",state="offered"\} 0/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="127\.0\.0\.0\/24",state="bound"\} 1/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="127\.0\.0\.0\/24",state="free"\} 9/);
  });
});

describe('DHCP exchanges, proxy mode', () => {
  let r: Rig;
  before(async () => {
    r = await rig('proxy', 16977, 16978);
  });
  after(() => r?.close());

  it('DISCOVER on 67 → proxy OFFER without an address; REQUEST on 4011 → ACK; non-PXE ignored', async () => {
    const M = '52:54:00:bb:00:01';
    const d = packet(M, { messageType: MessageType.Discover });
    r.send(d.buf);
    const offer = await r.exchanges.wait((x) => x.xid === d.xid);
    assert.deepEqual(
      [offer.message, offer.port, offer.reply, offer.outcome, offer.yiaddr, offer.bootfile],
      ['DISCOVER', 16977, 'OFFER', 'offered', undefined, 'undionly.kpxe'],
    );
    const q = packet(M, { messageType: MessageType.Request }, { giaddr: ZERO, ciaddr: '127.0.0.77' });
    r.send(q.buf, 16978);
    const ack = await r.exchanges.wait((x) => x.xid === q.xid);
    await r.replies.wait((p) => p.xid === q.xid);
    assert.deepEqual(
      [ack.message, ack.port, ack.reply, ack.outcome, ack.facts.ip, ack.bootfile],
      ['REQUEST', 16978, 'ACK', 'acked', '127.0.0.77', 'undionly.kpxe'],
    );
    const plain = packet('52:54:00:bb:00:02', { messageType: MessageType.Discover, vendorClassIdentifier: 'MSFT 5.0' });
    r.send(plain.buf);
    const ign = await r.exchanges.wait((x) => x.xid === plain.xid);
    assert.deepEqual([ign.outcome, ign.reason], ['ignored', 'not-boot-client']);
  });
});
