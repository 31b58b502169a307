/**
 * A relay outside the clients' subnet (a transit network, 203.0.113.0/24) mapped to it with
 * `dhcp.subnets[].relay_addresses`: its clients get leases from 198.51.100.0/24. A second relay address nobody
 * mapped is refused, and every one of its DISCOVERs is counted in bootherd_dhcp_dropped_total{reason="no-subnet"}
 * and reported by one rate-limited log line at info.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';

const run = promisify(execFile);
const RELAY_CLIENT = new URL('./lib/relay-client.ts', import.meta.url).pathname;
const CONFIG = `
data_dir: data
http: { listen: 192.0.2.1, port: 8080 }
log: { level: info }
dhcp:
  mode: full
  interfaces: [br0]
  subnets:
    - { subnet: 198.51.100.0/24, range: [198.51.100.10, 198.51.100.250], relay_addresses: [203.0.113.1] }
`;

describe('DHCP: a relay outside the subnet, mapped by relay_addresses; an unmapped one counted and logged', () => {
  let net: TestNet;
  let relay: string[];
  let server: RunningBootherd;

  before(async () => {
    net = createTestNet();
    relay = net.addRelay(
      'relay',
      '02:00:00:00:00:98',
      ['192.0.2.2/24', '203.0.113.1/24', '203.0.113.2/24'],
      '203.0.113.0/24',
    );
    server = await startBootherd({
      exec: net.exec,
      config: CONFIG,
      inventory: 'profiles: []\n',
      readyPattern: /DHCP\s+full/,
    });
  });
  after(async () => {
    await server?.stop();
    net?.destroy();
  });

  const metrics = async (): Promise<string> => {
    const [cmd, ...args] = [...net.exec, 'curl', '-sf', 'http://192.0.2.1:8080/metrics'];
    return (await run(cmd as string, args, { timeout: 10_000 })).stdout;
  };

  it('DORA through the mapped relay: leases from the subnet that lists it', { timeout: 60_000 }, async () => {
    const [cmd, ...args] = [
      ...relay,
      process.execPath,
      '--import',
      'tsx',
      RELAY_CLIENT,
      '203.0.113.1',
      '192.0.2.1',
      '5',
      '02:30:00',
    ];
    const { stdout } = await run(cmd as string, args, { timeout: 50_000 });
    const acks = stdout.split('\n').filter((l) => l.startsWith('ACK '));
    assert.equal(acks.length, 5, stdout);
    for (const line of acks) assert.match(line, / 198\.51\.100\.\d+$/);
  });

  it('DISCOVERs through an unmapped relay: no OFFER; each counted, one log line at info', {
    timeout: 60_000,
  }, async () => {
    const [cmd, ...args] = [...relay, 'perfdhcp', '-4', '-l', '203.0.113.2', '-r', '20', '-R', '10', '-p', '2'];
    const { stdout } = await run(cmd as string, [...args, '192.0.2.1'], { timeout: 30_000 }).catch(
      (err: { code?: number; stdout?: string }) => {
        // perfdhcp exits 3 when packets were dropped: here all of them are.
        if (err.code === 3 && err.stdout) return { stdout: err.stdout };
        throw err;
      },
    );
    const sent = Number(/DISCOVER-OFFER\*\*\*\nsent packets: (\d+)\nreceived packets: (\d+)/.exec(stdout)?.[1]);
    assert.ok(sent >= 20, stdout);
    assert.match(stdout, /DISCOVER-OFFER\*\*\*\nsent packets: \d+\nreceived packets: 0/);
    const counted = /bootherd_dhcp_dropped_total\{reason="no-subnet"\} (\d+)/.exec(await metrics());
    assert.equal(Number(counted?.[1]), sent);
    const lines = server
      .log()
      .split('\n')
      .filter((l) => l.includes('packet dropped (no-subnet)'));
    assert.equal(lines.length, 1, server.log().slice(-3000));
    assert.match(lines[0] as string, /"level":30/);
    assert.match(
      lines[0] as string,
      /DISCOVER from \S+ via relay 203\.0\.113\.2 no subnet contains or lists this relay/,
    );
  });
});
