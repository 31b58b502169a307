/**
 * The live DHCP and TFTP servers under malformed input: random bytes and mutated real packets (from the captures)
 * sent to their sockets. Neither may crash, leak transfers or grow without bound, malformed packets are counted,
 * and afterwards both still answer a well-formed request correctly. Loopback only. FUZZ_PACKETS sets the count
 * (CI default 20 000 per server; the long run is FUZZ_PACKETS=1000000).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { decodePacket } from '../../src/dhcp/packet.ts';
import { LeasePool } from '../../src/dhcp/pool.ts';
import { startDhcpServer } from '../../src/dhcp/server.ts';
import { encodeAck, encodeRequest } from '../../src/tftp/packet.ts';
import { startTftpServer } from '../../src/tftp/server.ts';
import { CAPTURES, clientPackets } from '../unit/dhcp/fixtures.ts';

const COUNT = Number(process.env.FUZZ_PACKETS ?? 20_000);
let seed = 0x2545f491;
const rnd = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

function mutate(base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (rnd(4)) {
    case 0:
      for (let i = 0, n = 1 + rnd(8); i < n; i++) b[rnd(b.length)] = rnd(256);
      return b;
    case 1:
      return b.subarray(0, rnd(b.length + 1));
    case 2:
      return Buffer.concat([b, randomBytes(rnd(64))]);
    default:
      return randomBytes(rnd(600));
  }
}

/** Send in bursts, yielding between them, so the receiver's buffer is not simply overrun. */
async function blast(port: number, packets: () => Buffer): Promise<void> {
  const s = createSocket('udp4');
  for (let i = 0; i < COUNT; i += 200) {
    for (let j = 0; j < 200 && i + j < COUNT; j++) s.send(packets(), port, '127.0.0.1');
    await sleep(10);
  }
  await sleep(200);
  s.close();
}

describe('fuzzing the live servers', () => {
  it('DHCP: no crash, malformed counted, memory bounded, a real DISCOVER still gets its OFFER', {
    timeout: 120_000,
  }, async () => {
    const counts: Record<string, number> = {};
    const port = 16767;
    const real = CAPTURES.flatMap((c) => clientPackets(c));
    const server = await startDhcpServer({
      mode: 'full',
      interfaces: [],
      serverIp: '127.0.0.1',
      port,
      proxyPort: 16768,
      pool: new LeasePool({ subnets: [{ subnet: '127.0.0.0/24', range: ['127.0.0.100', '127.0.0.200'] }] }),
      commitLeases: async () => {},
      decide: async () => ({ kind: 'ignore', reason: 'fuzz' }),
      onPacket: (kind) => {
        counts[kind] = (counts[kind] ?? 0) + 1;
      },
      warn: () => {},
    });
    // Replies to a relayed request go to giaddr:67: listen there as the relay.
    const relay = createSocket('udp4');
    await new Promise<void>((r) => relay.bind({ address: '127.0.0.1', port: 67 }, () => r()));
    const replies: Buffer[] = [];
    relay.on('message', (m) => replies.push(m));
    try {
      const rssBefore = process.memoryUsage().rss;
      await blast(port, () => mutate(real[rnd(real.length)] as Buffer));
      const seen = (counts.malformed ?? 0) + (counts.received ?? 0);
      // The kernel drops what the socket buffer cannot hold under load; a tenth getting through still fuzzes a lot.
      assert.ok(seen > COUNT / 10, `datagrams reached the server: ${JSON.stringify(counts)}`);
      assert.ok((counts.malformed ?? 0) > seen / 10, JSON.stringify(counts));
      assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'memory stays bounded');
      // A well-formed, relayed DISCOVER after the storm.
      const discover = Buffer.from(real[0] as Buffer);
      discover.writeUInt32BE(0xfeedbeef, 4); // xid
      Buffer.from([127, 0, 0, 1]).copy(discover, 24); // giaddr
      replies.length = 0;
      const s = createSocket('udp4');
      s.send(discover, port, '127.0.0.1');
      for (let i = 0; i < 50 && !replies.some((r) => r.readUInt32BE(4) === 0xfeedbeef); i++) await sleep(20);
      s.close();
      const offer = replies.map((r) => decodePacket(r)).find((d) => d.ok && d.packet.xid === 0xfeedbeef);
      assert.ok(offer?.ok, 'an OFFER for the real DISCOVER');
      assert.equal(offer.packet.options.messageType, MessageType.Offer);
      assert.match(offer.packet.yiaddr, /^127\.0\.0\.(1\d\d|200)$/);
    } finally {
      relay.close();
      await server.close();
    }
  });

  it('TFTP: no crash, no leaked transfer, malformed counted, a real fetch still works', {
    timeout: 120_000,
  }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'bh-fuzz-tftp-'));
    const data = randomBytes(5000);
    writeFileSync(join(root, 'f.bin'), data);
    const server = await startTftpServer({ host: '127.0.0.1', port: 0, roots: [root], timeoutMs: 200, retries: 2 });
    try {
      const real = [
        encodeRequest({
          op: 1,
          filename: 'f.bin',
          mode: 'octet',
          options: new Map([
            ['blksize', '1468'],
            ['tsize', '0'],
          ]),
        }),
        encodeRequest({ op: 1, filename: '../etc/passwd', mode: 'octet' }),
        encodeRequest({ op: 2, filename: 'up.bin', mode: 'octet' }),
        encodeAck(1),
        Buffer.from('\x00\x05\x00\x08aborted\x00', 'latin1'),
      ];
      await blast(server.port, () => mutate(real[rnd(real.length)] as Buffer));
      const stats = server.stats();
      assert.ok(stats.malformed > COUNT / 10, JSON.stringify(stats));
      // Transfers the fuzz started time out on their own (200 ms × 2 retries): none may linger.
      for (let i = 0; i < 100 && server.stats().active > 0; i++) await sleep(50);
      assert.equal(server.stats().active, 0, JSON.stringify(server.stats()));
      // A real, lock-step fetch.
      const c = createSocket('udp4');
      const got: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('fetch after fuzz timed out')), 5000);
        c.on('message', (m, r) => {
          if (m.readUInt16BE(0) !== 3) return reject(new Error(`unexpected opcode ${m.readUInt16BE(0)}`));
          const block = m.readUInt16BE(2);
          if (got.length === block - 1) got.push(m.subarray(4));
          c.send(encodeAck(block), r.port, r.address);
          if (m.length - 4 < 512) {
            clearTimeout(timer);
            resolve();
          }
        });
        c.send(encodeRequest({ op: 1, filename: 'f.bin', mode: 'octet' }), server.port, '127.0.0.1');
      });
      c.close();
      assert.ok(Buffer.concat(got).equals(data));
    } finally {
      await server.close();
    }
  });
});
