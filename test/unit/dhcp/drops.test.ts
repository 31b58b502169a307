/**
 * Dropped packets: the rate-limited log lines, option 53 read without a decode (the intake's classifier; its queues
 * are in intake.test.ts), and the relay mapping in the config file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/config.ts';
import { DropLog } from '../../../src/dhcp/drop-log.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { peekMessageType } from '../../../src/dhcp/packet.ts';
import { v4Datagram } from '../../lib/dhcp-datagram.ts';

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

describe('peekMessageType', () => {
  test('option 53 without a decode', () => {
    assert.equal(peekMessageType(v4Datagram({ messageType: MessageType.Request }).msg), MessageType.Request);
    assert.equal(peekMessageType(v4Datagram({ hostName: 'x', messageType: MessageType.Discover }).msg), 1);
    assert.equal(peekMessageType(v4Datagram({}).msg), undefined);
    assert.equal(peekMessageType(Buffer.alloc(100)), undefined);
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
