/**
 * Admission of new DHCPv4 exchanges in the kernel (dhcp/admission.ts) on real sockets: the filter holds DISCOVERs
 * back and lets everything else through, and a server under a DISCOVER flood turns it on and off by itself. On
 * loopback, needs root (SO_BINDTODEVICE).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DhcpDecision } from '../../src/boot/decide.ts';
import { discoverFilter } from '../../src/dhcp/admission.ts';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { peekMessageType } from '../../src/dhcp/packet.ts';
import { LeasePool } from '../../src/dhcp/pool.ts';
import { startDhcpServer } from '../../src/dhcp/server.ts';
import { openDhcpSockets } from '../../src/net/udp4.ts';
import { v4Datagram } from '../lib/dhcp-datagram.ts';

/** A relay address nobody listens on: replies to it go nowhere. */
const RELAY = '127.0.0.43';

function message(type: (typeof MessageType)[keyof typeof MessageType], n: number): Buffer {
  const mac = `52:54:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  const options = { messageType: type, vendorClassIdentifier: 'PXEClient:Arch:00000:UNDI:002001' };
  return v4Datagram(options, { giaddr: RELAY, xid: n, mac }).msg;
}

async function sendAll(to: number, datagrams: Buffer[]): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  for (const d of datagrams) await new Promise<void>((r) => s.send(d, to, '127.0.0.1', () => r()));
  s.close();
}

describe('DISCOVER admission in the kernel', () => {
  it('a socket with the filter at 0 % receives no DISCOVER and every other datagram; detached, all again', async () => {
    const port = 16991;
    const [dhcp] = await openDhcpSockets(['lo'], port, (m) => assert.fail(m));
    assert.ok(dhcp?.filter, 'a device-bound socket takes filters');
    const got: Buffer[] = [];
    dhcp.socket.on('message', (m) => got.push(m));
    try {
      assert.equal(dhcp.filter(discoverFilter(0)), true);
      const malformed = [Buffer.from('not dhcp'), message(MessageType.Discover, 1).subarray(0, 100)];
      await sendAll(port, [
        ...Array.from({ length: 20 }, (_, i) => message(MessageType.Discover, i)),
        ...Array.from({ length: 20 }, (_, i) => message(MessageType.Request, i)),
        ...malformed,
      ]);
      for (let i = 0; i < 100 && got.length < 22; i++) await sleep(10);
      await sleep(50);
      const types = got.map((m) => peekMessageType(m));
      assert.equal(types.filter((t) => t === MessageType.Discover).length, 0);
      assert.equal(types.filter((t) => t === MessageType.Request).length, 20);
      assert.equal(got.length, 22, 'the malformed ones reach the server, which counts them');
      // Control: without the filter the same DISCOVERs arrive.
      got.length = 0;
      assert.equal(dhcp.filter([]), true);
      await sendAll(
        port,
        Array.from({ length: 20 }, (_, i) => message(MessageType.Discover, i)),
      );
      for (let i = 0; i < 100 && got.length < 20; i++) await sleep(10);
      assert.equal(got.filter((m) => peekMessageType(m) === MessageType.Discover).length, 20);
    } finally {
      dhcp.socket.close();
    }
  });

  it('a server flooded with DISCOVERs it cannot keep up with holds them back, keeps answering REQUESTs, and lets go after', async () => {
    const port = 16993;
    const admissions: number[] = [];
    const requests: string[] = [];
    const boot: DhcpDecision = {
      kind: 'ipxe-binary',
      file: 'undionly.kpxe',
      transport: 'tftp',
      reason: 'firmware PXE',
    };
    const server = await startDhcpServer({
      mode: 'full',
      interfaces: ['lo'],
      serverIp: '127.0.0.1',
      port,
      proxyPort: port + 1,
      pool: new LeasePool({ subnets: [{ subnet: '127.0.0.0/8', range: ['127.1.0.1', '127.1.255.250'] }] }),
      commitLeases: async () => {},
      // A slow decision: a few hundred DISCOVERs a second at most.
      decide: async () => {
        await sleep(10);
        return boot;
      },
      onExchange: (e) => {
        if (e.message === 'REQUEST') requests.push(e.outcome);
      },
      onAdmission: (f) => {
        admissions.push(f);
      },
      warn: () => {},
    });
    try {
      // 3,000 DISCOVERs a second for 2 s, with a REQUEST every 100.
      for (let tick = 0; tick < 40; tick++) {
        const batch = Array.from({ length: 150 }, (_, i) =>
          message(i % 100 === 0 ? MessageType.Request : MessageType.Discover, tick * 150 + i),
        );
        await sendAll(port, batch);
        await sleep(50);
      }
      assert.ok(
        admissions.some((f) => f < 1),
        `the filter came on: ${admissions.join(', ')}`,
      );
      assert.ok(requests.length >= 60, `REQUESTs answered during the flood: ${requests.length} of 80`);
      // Control: once the flood is over, every DISCOVER is let through again.
      for (let i = 0; i < 100 && admissions.at(-1) !== 1; i++) await sleep(100);
      assert.equal(admissions.at(-1), 1, `admission steps: ${admissions.join(', ')}`);
    } finally {
      await server.close();
    }
  });
});
