/**
 * The Router Advertisement answer (net/ra.ts) says when it cannot work: on an interface with IPv6 disabled the
 * real `bootherd serve` warns at start, naming the sysctl to change, and no longer claims to answer router
 * solicitations; with IPv6 on, it claims it for that interface.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet } from './lib/netns.ts';

const INVENTORY = 'machines: []\n';

describe('IPv6 router solicitation answers at start', () => {
  it('IPv6 disabled on the DHCP interface: a warning with what to change, no claim', async () => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      // /proc/sys/net is the namespace's own: this disables IPv6 on the test bridge only.
      execFileSync(net.exec[0] as string, [
        ...net.exec.slice(1),
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/ipv6/conf/br0/disable_ipv6',
      ]);
      server = await startFull(net, INVENTORY);
      const log = server.log();
      assert.match(log, /cannot answer IPv6 router solicitations on br0.*IPv6 is disabled on br0/);
      assert.match(log, /sysctl -w net\.ipv6\.conf\.br0\.disable_ipv6=0/);
      assert.match(log, /DHCP\s+full mode on br0/);
      assert.doesNotMatch(log, /answering IPv6 router solicitations/);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('IPv6 on: answers on br0 and says so, without a warning', async () => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      server = await startFull(net, INVENTORY);
      const log = server.log();
      assert.match(log, /DHCP\s+full mode on br0, answering IPv6 router solicitations on br0/);
      assert.doesNotMatch(log, /cannot answer IPv6 router solicitations/);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
