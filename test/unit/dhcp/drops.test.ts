/**
 * Dropped packets: the rate-limited log lines, the intake's order under load (REQUESTs before DISCOVERs, shedding
 * the newest when full), option 53 read without a decode, and the relay mapping in the config file.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { loadConfig } from '../../../src/config/config.ts';
import { DropLog } from '../../../src/dhcp/drop-log.ts';
import { Intake } from '../../../src/dhcp/intake.ts';
import { type DhcpOptions, MessageType } from '../../../src/dhcp/option-types.ts';
import { encodePacket, macToChaddr, peekMessageType } from '../../../src/dhcp/packet.ts';
import { classifyDhcp4, type Datagram } from '../../../src/dhcp/server.ts';

const ZERO = '0.0.0.0';

function datagram(options: DhcpOptions, at = 0): Datagram {
  const e = encodePacket({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 1,
    secs: 0,
    flags: 0,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: ZERO,
    chaddr: macToChaddr('52:54:00:00:00:01')!,
    sname: '',
    file: '',
    options,
  });
  assert.ok(e.ok);
  return {
    msg: e.buffer,
    socket: {} as Socket,
    iface: undefined,
    from: { address: ZERO, port: 68 },
    onProxyPort: false,
    at,
  };
}

describe('DropLog', () => {
  test('one line per reason per window; the drops in between are counted into the next line', () => {
    const log = new DropLog(10_000);
    assert.deepEqual(log.note('no-subnet', 'DISCOVER via relay 203.0.113.9', 0), {
      level: 'info',
      message: 'DHCP: packet dropped (no-subnet): DISCOVER via relay 203.0.113.9',
    });
    assert.equal(log.note('no-subnet', 'again', 1), undefined);
    assert.equal(log.note('no-subnet', 'again', 9_999), undefined);
    // Another reason has its own window; a serious one is a warning.
    assert.equal(log.note('pool-exhausted', '198.51.100.0/24', 5)?.level, 'warn');
    assert.deepEqual(log.note('no-subnet', 'later', 10_000), {
      level: 'info',
      message: 'DHCP: packet dropped (no-subnet): later (and 2 more since the last line)',
    });
  });

  test('flush reports what a window suppressed, once it is over, and forgets quiet reasons', () => {
    const log = new DropLog(10_000);
    log.note('shed-discover', 'from 198.51.100.1', 0);
    for (let i = 1; i <= 500; i++) log.note('shed-discover', `n${i}`, i);
    assert.deepEqual(log.flush(9_999), []);
    assert.deepEqual(log.flush(10_000), [
      { level: 'info', message: 'DHCP: 500 more packets dropped (shed-discover) since the last line, last: n500' },
    ]);
    // Nothing new in the next window: nothing to say, and the next drop is logged at once.
    assert.deepEqual(log.flush(20_000), []);
    assert.equal(log.note('shed-discover', 'x', 20_001)?.message, 'DHCP: packet dropped (shed-discover): x');
  });
});

describe('Intake', () => {
  test('option 53 without a decode', () => {
    assert.equal(peekMessageType(datagram({ messageType: MessageType.Request }).msg), MessageType.Request);
    assert.equal(peekMessageType(datagram({ hostName: 'x', messageType: MessageType.Discover }).msg), 1);
    assert.equal(peekMessageType(datagram({}).msg), undefined);
    assert.equal(peekMessageType(Buffer.alloc(100)), undefined);
  });

  test('REQUESTs before DISCOVERs; a full queue sheds the newest; a stale DISCOVER is shed', async () => {
    const handled: string[] = [];
    const shed: string[] = [];
    const intake = new Intake<Datagram>({
      classify: classifyDhcp4,
      urgentMax: 2,
      discoverMax: 3,
      discoverMaxWaitMs: 60_000,
      batch: 100,
      budgetMs: 1_000,
      handle: async (d) => {
        handled.push(d.from.address);
      },
      shed: (reason, d) => shed.push(`${reason} ${d.from.address}`),
    });
    const now = performance.now();
    const named = (name: string, type: number, at = now): Datagram => ({
      ...datagram({ messageType: type }, at),
      from: { address: name, port: 68 },
    });
    for (const n of ['d1', 'd2', 'd3', 'd4']) intake.push(named(n, MessageType.Discover));
    for (const n of ['r1', 'r2', 'r3']) intake.push(named(n, MessageType.Request));
    await tick();
    await tick();
    assert.deepEqual(handled, ['r1', 'r2', 'd1', 'd2', 'd3']);
    assert.deepEqual(shed, ['shed-discover d4', 'shed-request r3']);

    const old = new Intake<Datagram>({
      classify: classifyDhcp4,
      urgentMax: 10,
      discoverMax: 10,
      discoverMaxWaitMs: 100,
      batch: 100,
      budgetMs: 1_000,
      handle: async (d) => {
        handled.push(d.from.address);
      },
      shed: (reason, d) => shed.push(`${reason} ${d.from.address}`),
    });
    old.push(named('stale', MessageType.Discover, now - 1_000));
    old.push(named('fresh', MessageType.Discover));
    await tick();
    await tick();
    assert.deepEqual(handled.slice(-1), ['fresh']);
    assert.deepEqual(shed.slice(-1), ['shed-discover stale']);
  });
});

describe('config: dhcp.subnets[].relay_addresses', () => {
  const file = (text: string): string => {
    const f = join(mkdtempSync(join(tmpdir(), 'bh-relay-')), 'bootherd.yaml');
    writeFileSync(f, text);
    return f;
  };
  const subnets = (a: string, b: string) =>
    'dhcp:\n  mode: full\n  subnets:\n' +
    `    - { subnet: 198.51.100.0/24, range: [198.51.100.10, 198.51.100.20], relay_addresses: [${a}] }\n` +
    `    - { subnet: 192.0.2.0/24, range: [192.0.2.10, 192.0.2.20], relay_addresses: [${b}] }\n`;

  test('read into the pool config', () => {
    const c = loadConfig(file(subnets('203.0.113.1', '203.0.113.2')), {});
    assert.deepEqual(c.dhcp.subnets[0]?.relayAddresses, ['203.0.113.1']);
    assert.deepEqual(c.dhcp.subnets[1]?.relayAddresses, ['203.0.113.2']);
  });

  test('a relay listed twice or not an address: file, line, column and field', () => {
    const text = subnets('203.0.113.1', '203.0.113.1');
    const twice = file(text);
    const column = (text.split('\n')[4] as string).indexOf('203.0.113.1') + 1;
    assert.throws(
      () => loadConfig(twice, {}),
      (err: Error) => {
        assert.equal(
          err.message,
          `${twice}:5:${column}: dhcp.subnets[1].relay_addresses[0]: 203.0.113.1 is already a relay address of dhcp.subnets[0].relay_addresses`,
        );
        return true;
      },
    );
    assert.throws(
      () => loadConfig(file(subnets('gateway', '203.0.113.2')), {}),
      /:4:\d+: dhcp\.subnets\[0\]\.relay_addresses\[0\]: "gateway" is not an IPv4 address/,
    );
  });
});
