/**
 * UEFI HTTP boot with no TFTP anywhere: OVMF's own network stack (virtio NIC, no option ROM) runs its "UEFI HTTPv4"
 * boot option, asks DHCP as `HTTPClient:Arch:00016`, gets option 60 `HTTPClient` and an http:// URL of snponly.efi
 * from bootherd, downloads it over HTTP; that iPXE asks DHCP again as `iPXE`, gets boot.ipxe, and the kernel boots
 * through its EFI stub. bootherd's TFTP is off, and nothing may have been fetched over TFTP.
 * Full mode (bootherd the only DHCP server): OVMF as shipped, its PXE options first, which fail for want of TFTP.
 * Proxy mode (beside a site dnsmasq that hands out addresses only): OVMF with its PXE options switched off.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startBootherd, startFull } from './lib/bootherd.ts';
import { type RunningDnsmasq, startDnsmasq } from './lib/dnsmasq.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER, tinyLinuxInventory } from './lib/payload.ts';
import { startVm, tail } from './lib/qemu.ts';

/** bootherd's own counters, read over HTTP from inside the namespace. */
function metrics(net: TestNet): string {
  return execFileSync(net.exec[0] as string, [
    ...net.exec.slice(1),
    'curl',
    '-sf',
    '--max-time',
    '10',
    `http://${net.serverIp}:8080/metrics`,
  ]).toString();
}

function counter(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Boots the VM to the payload marker; returns its console and the seconds it took. */
async function httpBootToMarker(
  net: TestNet,
  mac: string,
  server: RunningBootherd,
  opts: { site?: RunningDnsmasq; pxeOptions: boolean },
): Promise<{ console: string; seconds: number; httpEntry: number }> {
  const { site } = opts;
  const started = Date.now();
  const vm = startVm({
    exec: net.exec,
    tap: 'tap0',
    mac,
    nic: 'virtio-net-pci',
    romfile: '',
    ovmfVarsDir: server.dir,
    memoryMb: 512,
    deadlineMs: 240_000,
    // OVMF's boot options per NIC are PXEv4, PXEv6, HTTPv4, HTTPv6 in that order. With them, a machine nobody set up:
    // with no TFTP server the PXE ones fail and the firmware goes on to HTTPv4 by itself (~75 s of TCG time).
    // Without them (OVMF's fw_cfg switches, a firmware set to HTTP boot only), HTTPv4 is the first option.
    extraArgs: opts.pxeOptions
      ? []
      : [
          '-fw_cfg',
          'name=opt/org.tianocore/IPv4PXESupport,string=n',
          '-fw_cfg',
          'name=opt/org.tianocore/IPv6PXESupport,string=n',
        ],
  });
  const explain = (err: Error): never => {
    throw new Error(
      `${err.message}\n--- bootherd log ---\n${server.log().slice(-4000)}${site ? `\n--- site dnsmasq ---\n${site.log().slice(-3000)}` : ''}`,
    );
  };
  const booted = new RegExp(`${MARKER} cmdline=\\[[^\\]]*initrd=initrd\\.gz[^\\]]*\\]`);
  const failed = /failed to load Boot\d+ "UEFI HTTPv4/;
  try {
    await vm.waitFor(/>>Start HTTP Boot over IPv4/).catch(explain);
    const httpEntry = (Date.now() - started) / 1000;
    const console = await vm.waitFor(new RegExp(`${booted.source}|${failed.source}`)).catch(explain);
    if (!booted.test(console)) explain(new Error(`OVMF's HTTPv4 boot option failed:\n${tail(console)}`));
    return { console, seconds: (Date.now() - started) / 1000, httpEntry };
  } finally {
    vm.kill();
    await vm.exited;
  }
}

/** The seconds, and the boot options OVMF went through on the way (PXE ones fail: there is no TFTP). */
function report(t: TestContext, boot: { console: string; seconds: number; httpEntry: number }): void {
  t.diagnostic(`VM start to kernel marker: ${boot.seconds.toFixed(1)} s`);
  t.diagnostic(`VM start to OVMF's HTTPv4 boot option: ${boot.httpEntry.toFixed(1)} s`);
  for (const line of boot.console.match(/^BdsDxe: (?:loading|failed to load|starting) .*$/gm) ?? [])
    t.diagnostic(line.trim());
}

/** What bootherd served and recorded: the NBP over HTTP to an HTTPClient, no TFTP at all, then the script. */
async function assertHttpBoot(net: TestNet, server: RunningBootherd, machine: string): Promise<void> {
  const m = metrics(net);
  assert.ok(counter(m, 'bootherd_http_requests_total', 'route="/ipxe-bin/*",status="200"') >= 1, m);
  // TFTP was off: the firmware's PXE attempt found no TFTP server, and the boot went on without one.
  assert.doesNotMatch(server.log(), /TFTP\s+listening/);
  await server.stop();
  const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
  try {
    const events = await store.listEvents({ machineId: machine, limit: 200 });
    assert.deepEqual(
      events.filter((e) => e.stage === 'tftp'),
      [],
      'nothing fetched over TFTP',
    );
    const firmware = events.filter(
      (e) => e.stage === 'dhcp' && e.facts.arch === 16 && e.decision.outcome !== 'ignored',
    );
    assert.ok(firmware.length > 0, JSON.stringify(events.map((e) => [e.stage, e.facts.arch, e.decision])));
    for (const e of firmware) {
      assert.equal(e.facts.vendorClass?.startsWith('HTTPClient:Arch:00016'), true, JSON.stringify(e.facts));
      assert.equal(e.decision.bootfile, `http://${net.serverIp}:8080/ipxe-bin/snponly.efi`);
    }
    const script = events.filter((e) => e.stage === 'http' && e.decision.kind !== 'asset');
    assert.equal(script[0]?.decision.kind, 'profile', JSON.stringify(script));
    assert.equal(script[0]?.facts.platform, 'efi');
  } finally {
    await store.close();
  }
}

describe('UEFI HTTP boot: OVMF "UEFI HTTPv4" → bootherd → iPXE over HTTP → script → kernel, no TFTP', () => {
  it('full mode: bootherd is the only DHCP server', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:21';
      server = await startFull(net, tinyLinuxInventory('http1', mac), 'tftp: { enabled: false }\n');
      linkPayload(server.dir);
      const boot = await httpBootToMarker(net, mac, server, { pxeOptions: true });
      report(t, boot);
      await assertHttpBoot(net, server, 'http1');
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('proxy mode: beside a site DHCP server that hands out addresses only', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    let site: RunningDnsmasq | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:22';
      const siteExec = net.addClient('site', '02:00:00:00:00:54');
      execFileSync(siteExec[0] as string, [...siteExec.slice(1), 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
      server = await startBootherd({
        exec: net.exec,
        config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets }
tftp: { enabled: false }
dhcp: { mode: proxy, interfaces: [br0] }
`,
        inventory: tinyLinuxInventory('http2', mac),
        readyPattern: /DHCP\s+proxy mode/,
      });
      linkPayload(server.dir);
      site = await startDnsmasq({
        exec: siteExec,
        dir: server.dir,
        iface: 'eth0',
        range: ['192.0.2.160', '192.0.2.190'],
        extra: [],
      });
      const boot = await httpBootToMarker(net, mac, server, { site, pxeOptions: false });
      report(t, boot);
      assert.match(site.log(), /DHCPACK\(eth0\) 192\.0\.2\.1[6-9]\d/, 'the address came from the site server');
      await assertHttpBoot(net, server, 'http2');
    } finally {
      await site?.stop();
      await server?.stop();
      net.destroy();
    }
  });
});
