/**
 * IPv6-only netboot: a segment with no IPv4 address on it at all (2001:db8::/64), bootherd with DHCPv4 off and
 * DHCPv6 in full mode. OVMF's own network stack (virtio NIC, no option ROM) runs its "UEFI PXEv6" boot option:
 * DHCPv6 SOLICIT with option 61 = 7 → bootherd's ADVERTISE/REPLY with an address and option 59
 * `tftp://[2001:db8::1]/snponly.efi` → TFTP over IPv6 → iPXE, whose Router Solicitation gets bootherd's RA (M=1, O=1,
 * the prefix on-link) → iPXE's own DHCPv6 (user class `iPXE`) gets `http://[2001:db8::1]:8080/boot.ipxe` → script →
 * kernel and initrd over HTTP over IPv6 → the payload marker. bootherd sends not one IPv4 packet.
 * OVMF's PXEv4 option is switched off (its fw_cfg switch) so the firmware goes to PXEv6 at once, not after a minute of
 * DHCPv4 that nobody answers.
 * Durable bindings: ISC dhclient -6 gets an address, bootherd restarts, and the same client (DUID-LL) soliciting
 * afresh gets the same address back, which a pool that forgot would have given to someone else first.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER, tinyLinuxInventory } from './lib/payload.ts';
import { startVm, tail } from './lib/qemu.ts';

const SERVER = '2001:db8::1';

const CONFIG = `
data_dir: data
inventory: inventory.yaml
http: { listen: "::", port: 8080, advertise: "http://[${SERVER}]:8080", assets: assets }
tftp: { enabled: true, listen: "::" }
dhcp: { mode: "off", interfaces: [br0] }
dhcp6:
  mode: full
  subnets: [{ prefix: "2001:db8::/64", range: ["2001:db8::100", "2001:db8::1ff"] }]
`;

/** Waits (bounded) until the interface's link-local address has passed duplicate address detection. */
function linkLocalReady(exec: string[], iface: string): void {
  for (let i = 0; i < 50; i++) {
    const out = execFileSync(exec[0] as string, [
      ...exec.slice(1),
      'ip',
      '-6',
      'addr',
      'show',
      'dev',
      iface,
      'scope',
      'link',
    ]);
    if (/inet6 fe80/.test(out.toString()) && !/tentative/.test(out.toString())) return;
    execFileSync('sleep', ['0.2']);
  }
  throw new Error(`${iface}: no usable link-local address after 10 s`);
}

/**
 * ISC dhclient -6 in the foreground, with a DUID-LL (stable: made from the MAC) and a fresh lease file, until it has
 * written a bound address (at most 30 s); then it is stopped by its PID. Returns the address.
 */
async function dhclient6(exec: string[], dir: string, name: string): Promise<string> {
  const leases = join(dir, `${name}-${Date.now()}.leases`);
  const args = ['-6', '-d', '-D', 'LL', '-sf', '/bin/true', '-lf', leases, '-pf', join(dir, `${name}.pid`), 'eth0'];
  const child = spawn(exec[0] as string, [...exec.slice(1), 'dhclient', ...args], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 150; i++) {
      const m = existsSync(leases) ? /iaaddr (2001:db8::[0-9a-f:]+)/.exec(readFileSync(leases, 'utf8')) : null;
      if (m) return m[1] as string;
      if (child.exitCode !== null) throw new Error(`dhclient -6 exited (${child.exitCode}) without an address`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('dhclient -6 got no address in 30 s');
  } finally {
    child.kill('SIGKILL');
  }
}

/** IPv4 packets the server's namespace has sent (its own stack: /proc/net/snmp is per namespace). */
function ipv4Sent(net: TestNet): number {
  const snmp = execFileSync(net.exec[0] as string, [...net.exec.slice(1), 'cat', '/proc/net/snmp']).toString();
  const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Ip: '));
  const i = (names ?? '').split(/\s+/).indexOf('OutRequests');
  return Number((values ?? '').split(/\s+/)[i]);
}

/**
 * One VM on an IPv6-only segment from firmware to the payload marker. `pxe`: OVMF's PXEv6 option (its PXEv4 one off),
 * the binary over TFTP. `http`: OVMF's "UEFI HTTPv6" option (both PXE options off, its HTTPv4 one fails first for
 * want of DHCPv4), the binary over HTTP, TFTP off.
 */
async function bootOverIpv6(t: TestContext, how: 'pxe' | 'http', mac: string, machine: string): Promise<void> {
  const net = createTestNet({ serverIp: SERVER, prefix: 64 });
  let server: RunningBootherd | undefined;
  try {
    net.addTap('tap0');
    server = await startBootherd({
      exec: net.exec,
      config:
        how === 'pxe' ? CONFIG : CONFIG.replace('tftp: { enabled: true, listen: "::" }', 'tftp: { enabled: false }'),
      inventory: tinyLinuxInventory(machine, mac),
      readyPattern: /DHCPv6 full mode/,
    });
    linkPayload(server.dir);
    const before = ipv4Sent(net);
    const started = Date.now();
    const fwCfg = (name: string) => ['-fw_cfg', `name=opt/org.tianocore/${name},string=n`];
    const vm = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac,
      nic: 'virtio-net-pci',
      romfile: '',
      ovmfVarsDir: server.dir,
      memoryMb: 512,
      deadlineMs: 360_000,
      extraArgs: how === 'pxe' ? fwCfg('IPv4PXESupport') : [...fwCfg('IPv4PXESupport'), ...fwCfg('IPv6PXESupport')],
    });
    const explain = (err: Error): never => {
      throw new Error(`${err.message}\n--- bootherd log ---\n${server?.log().slice(-5000)}`);
    };
    let console: string;
    try {
      await vm.waitFor(how === 'pxe' ? />>Start PXE over IPv6/ : />>Start HTTP Boot over IPv6/).catch(explain);
      console = await vm.waitFor(new RegExp(`${MARKER} cmdline=\\[[^\\]]*initrd=initrd\\.gz`)).catch(explain);
    } finally {
      vm.kill();
      await vm.exited;
    }
    t.diagnostic(`VM start to kernel marker over IPv6 only (${how}): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.doesNotMatch(console, /Start PXE over IPv4/);
    assert.equal(ipv4Sent(net) - before, 0, 'bootherd sent IPv4 packets on an IPv6-only segment');
    await server.stop();
    const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
    try {
      const events = await store.listEvents({ machineId: machine, limit: 200 });
      const dhcp = events.filter((e) => e.stage === 'dhcp' && e.decision.outcome === 'acked');
      // The firmware got the binary by URL (tftp:// or http://), iPXE got the script URL.
      const firmware = dhcp.find((e) => e.facts.arch === (how === 'pxe' ? 7 : 16) && e.facts.userClass === undefined);
      assert.equal(
        firmware?.decision.bootfile,
        how === 'pxe' ? `tftp://[${SERVER}]/snponly.efi` : `http://[${SERVER}]:8080/ipxe-bin/snponly.efi`,
        JSON.stringify(dhcp),
      );
      assert.match(String(firmware?.decision.yiaddr), /^2001:db8::1[0-9a-f]{2}$/);
      const ipxe = dhcp.find((e) => e.facts.userClass === 'iPXE');
      assert.equal(ipxe?.decision.bootfile, `http://[${SERVER}]:8080/boot.ipxe`, JSON.stringify(dhcp));
      const tftp = events.filter((e) => e.stage === 'tftp');
      if (how === 'pxe')
        assert.ok(
          tftp.some((e) => e.facts.ip?.startsWith('2001:db8::')),
          JSON.stringify(tftp),
        );
      else assert.deepEqual(tftp, [], 'nothing fetched over TFTP');
      const script = events.filter((e) => e.stage === 'http' && e.decision.kind === 'profile');
      assert.ok(script.length > 0, JSON.stringify(events.map((e) => [e.stage, e.decision])));
      assert.match(script[0]?.facts.ip ?? '', /^2001:db8::/);
      // The lease is durable: the address iPXE was given is in the store under its DUID.
      const leases = (await store.loadLeases()).filter((l) => l.ip.startsWith('2001:db8::'));
      assert.ok(
        leases.some((l) => l.state === 'bound' && l.mac === mac && l.clientId),
        JSON.stringify(leases),
      );
    } finally {
      await store.close();
    }
  } catch (err) {
    if (server) t.diagnostic(tail(server.log()));
    throw err;
  } finally {
    await server?.stop();
    net.destroy();
  }
}

describe('IPv6-only segment: OVMF → iPXE → script → kernel, all over IPv6', () => {
  it('UEFI PXEv6: DHCPv6 → TFTP over IPv6 → iPXE DHCPv6 → HTTP', { timeout: 420_000 }, (t) =>
    bootOverIpv6(t, 'pxe', '52:54:00:e2:e6:01', 'v6pxe'),
  );

  it('UEFI HTTPv6: DHCPv6 → HTTP over IPv6, no TFTP → iPXE DHCPv6 → HTTP', { timeout: 420_000 }, (t) =>
    bootOverIpv6(t, 'http', '52:54:00:e2:e6:02', 'v6http'),
  );

  it('a DHCPv6 binding survives a restart: ISC dhclient -6 gets its address back', { timeout: 120_000 }, async () => {
    const net = createTestNet({ serverIp: SERVER, prefix: 64 });
    let server: RunningBootherd | undefined;
    try {
      const first = net.addClient('c1', '02:00:00:00:06:01');
      const second = net.addClient('c2', '02:00:00:00:06:02');
      server = await startBootherd({
        exec: net.exec,
        config: CONFIG,
        inventory: 'machines: []\n',
        readyPattern: /DHCPv6 full mode/,
      });
      linkLocalReady(first, 'eth0');
      linkLocalReady(second, 'eth0');
      const a = await dhclient6(first, server.dir, 'c1');
      const b = await dhclient6(second, server.dir, 'c2');
      assert.equal(a, '2001:db8::100');
      assert.equal(b, '2001:db8::101');
      await server.stop();
      server = await startBootherd({
        exec: net.exec,
        config: CONFIG,
        inventory: 'machines: []\n',
        readyPattern: /DHCPv6 full mode/,
        dir: server.dir,
      });
      // A fresh SOLICIT (new lease file, same DUID): only the store can say ::101 is this client's.
      assert.equal(await dhclient6(second, server.dir, 'c2'), b);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
