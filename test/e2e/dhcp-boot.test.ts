/**
 * A real iPXE ROM (SeaBIOS + pxe-e1000.rom) gets its address and boot file from bootherd: in full mode, where
 * bootherd is the only server, and in proxy mode beside a site DHCP server (a plain dnsmasq on another host of the
 * segment that hands out addresses only). Both end in the booted kernel's marker.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tryEveryNicScript } from '../../src/ipxe/scripts.ts';
import { type RunningBootherd, startBootherd, startFull } from './lib/bootherd.ts';
import { type RunningDnsmasq, startDnsmasq } from './lib/dnsmasq.ts';
import { createTestNet } from './lib/netns.ts';
import { buildIso, linkPayload, MARKER, tinyLinuxInventory } from './lib/payload.ts';
import { startVm, type VmOptions } from './lib/qemu.ts';

const inventory = (mac: string) => tinyLinuxInventory('vm', mac);

const linkAssets = (server: RunningBootherd) => linkPayload(server.dir);

/** Boot a VM (the iPXE ROM on e1000 unless `vm` says otherwise) to the payload marker; the console and the time. */
async function bootToMarker(
  exec: string[],
  mac: string,
  server: RunningBootherd,
  site?: RunningDnsmasq,
  vmOptions: Partial<VmOptions> = {},
): Promise<{ console: string; seconds: string }> {
  const started = Date.now();
  const vm = startVm({
    exec,
    tap: 'tap0',
    mac,
    romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
    deadlineMs: 240_000,
    ...vmOptions,
  });
  try {
    const console = await vm.waitFor(new RegExp(`${MARKER} cmdline=`)).catch((err: Error) => {
      throw new Error(
        `${err.message}\n--- bootherd log ---\n${server.log().slice(-4000)}${site ? `\n--- site dnsmasq ---\n${site.log().slice(-3000)}` : ''}`,
      );
    });
    return { console, seconds: `${((Date.now() - started) / 1000).toFixed(1)} s` };
  } finally {
    vm.kill();
    await vm.exited;
  }
}

describe('QEMU iPXE ROM gets its boot file from bootherd DHCP', () => {
  it('full mode: bootherd is the only server on the segment', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:03';
      server = await startFull(net, inventory(mac));
      linkAssets(server);
      t.diagnostic(`VM start to kernel marker: ${(await bootToMarker(net.exec, mac, server)).seconds}`);
      assert.match(server.log(), /DHCP\s+full mode/);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('proxy mode: beside a DHCP server that hands out addresses only', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    let site: RunningDnsmasq | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:04';
      // The site's DHCP server lives on another host of the segment, as it would in a real network.
      const siteExec = net.addClient('site', '02:00:00:00:00:53');
      execFileSync(siteExec[0] as string, [...siteExec.slice(1), 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
      server = await startBootherd({
        exec: net.exec,
        config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets }
dhcp: { mode: proxy, interfaces: [br0] }
`,
        inventory: inventory(mac),
        readyPattern: /DHCP\s+proxy mode/,
      });
      linkAssets(server);
      site = await startDnsmasq({
        exec: siteExec,
        dir: server.dir,
        iface: 'eth0',
        range: ['192.0.2.160', '192.0.2.190'],
        extra: [],
      });
      t.diagnostic(`VM start to kernel marker: ${(await bootToMarker(net.exec, mac, server, site)).seconds}`);
      assert.match(site.log(), /DHCPACK\(eth0\) 192\.0\.2\.1[6-9]\d/, 'the address came from the site server');
    } finally {
      await site?.stop();
      await server?.stop();
      net.destroy();
    }
  });
});

describe('chainload from a first stage that is not iPXE', () => {
  it('a vendor-style PXE ROM gets undionly.kpxe over bootherd TFTP; that iPXE gets the script: the loop is broken', {
    timeout: 300_000,
  }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:06';
      server = await startFull(
        net,
        inventory(mac),
        `tftp: { enabled: true, listen: ${net.serverIp}, port: 69, roots: [/usr/lib/ipxe] }
`,
      );
      linkAssets(server);
      const started = Date.now();
      const vm = startVm({
        exec: net.exec,
        tap: 'tap0',
        mac,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      try {
        // Imitate a vendor PXE ROM from the iPXE ROM's shell (clients.md): DHCP with another user class, then fetch
        // the boot file it was given over TFTP, as firmware PXE would.
        await vm.waitFor(/Press Ctrl-B for the iPXE command line/);
        await vm.type('\x02');
        await vm.waitFor(/iPXE>/);
        await vm.type(
          'set user-class PXE-ROM && ifconf -c dhcp && clear user-class && chain tftp://${next-server}/${filename}\r',
        );
        await vm.waitFor(new RegExp(`${MARKER} cmdline=`)).catch((err: Error) => {
          throw new Error(`${err.message}\n--- bootherd log ---\n${server?.log().slice(-4000)}`);
        });
        t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        vm.kill();
        await vm.exited;
      }
      await server.stop();
      const { openSqliteStore } = await import('../../src/store/sqlite.ts');
      const store = await openSqliteStore(`${server.dir}/data/bootherd.db`);
      try {
        const events = (await store.listEvents({ limit: 500 })).reverse();
        const kinds = events.filter((e) => e.stage === 'dhcp').map((e) => e.decision.kind);
        assert.ok(kinds.includes('ipxe-binary') && kinds.includes('script'), JSON.stringify(kinds));
        const fetched = events
          .filter((e) => e.stage === 'tftp' && e.decision.outcome === 'done')
          .map((e) => e.decision.file);
        assert.deepEqual(fetched, ['undionly.kpxe'], 'undionly.kpxe over TFTP, once');
      } finally {
        await store.close();
      }
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});

describe('menu for an unknown machine', () => {
  it('shows the menu and boots its default item after the timeout', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      // No machine: this VM is unknown to the inventory.
      server = await startFull(
        net,
        tinyLinuxInventory('someone-else', '02:00:00:00:00:42'),
        `boot:
  unknown: menu
  menu: { timeout: 3, default: tiny-linux }
`,
      );
      linkAssets(server);
      const boot = await bootToMarker(net.exec, '52:54:00:e2:e0:07', server);
      // The menu was on screen before the kernel: its title and the default item's label.
      assert.match(boot.console, /bootherd: 52:54:00:e2:e0:07/);
      assert.match(boot.console, /tiny-linux/);
      t.diagnostic(`VM start to kernel marker: ${boot.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});

describe('multi-NIC: the first NIC is on a dead network', () => {
  it('the try-every-NIC script (bootherd ipxe-try-nics) boots from the second NIC', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tapdead', { bridged: false });
      net.addTap('tap0');
      const dead = '52:54:00:e2:e0:08';
      const live = '52:54:00:e2:e0:09';
      server = await startFull(net, tinyLinuxInventory('twonics', live));
      linkAssets(server);
      // What an operator embeds into iPXE (make EMBED=) or puts on boot media; here ipxe.lkrn runs it as its script.
      const script = join(server.dir, 'try-nics.ipxe');
      writeFileSync(script, tryEveryNicScript({ bootUrl: `http://${net.serverIp}:8080/boot.ipxe`, maxNics: 4 }));
      const started = Date.now();
      const vm = startVm({
        exec: net.exec,
        tap: 'tapdead',
        mac: dead,
        secondNic: { tap: 'tap0', mac: live },
        romfile: '',
        kernel: '/usr/lib/ipxe/ipxe.lkrn',
        initrd: script,
        deadlineMs: 240_000,
      });
      try {
        const out = await vm.waitFor(new RegExp(`${MARKER} cmdline=`)).catch((err: Error) => {
          throw new Error(`${err.message}\n--- bootherd log ---\n${server?.log().slice(-4000)}`);
        });
        assert.match(out, /trying net0/);
        assert.match(out, /trying net1/);
        t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        vm.kill();
        await vm.exited;
      }
      // Control: the stock iPXE ROM on net0 only (net1 without ROM) tries net0 alone and never boots.
      const stock = startVm({
        exec: net.exec,
        tap: 'tapdead',
        mac: dead,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        secondNic: { tap: 'tap0', mac: live, romfile: '' },
        deadlineMs: 180_000,
      });
      try {
        const out = await stock.waitFor(/No bootable device/);
        assert.doesNotMatch(out, new RegExp(MARKER));
      } finally {
        stock.kill();
        await stock.exited;
      }
      await server.stop();
      const { openSqliteStore } = await import('../../src/store/sqlite.ts');
      const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
      try {
        const http = (await store.listEvents({ machineId: 'twonics' })).filter(
          (e) => e.stage === 'http' && e.decision.kind !== 'asset',
        );
        assert.equal(http[0]?.facts.nic, 'net1', 'the bootstrap reported the NIC it booted from');
      } finally {
        await store.close();
      }
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});

describe('sanboot of an ISO over HTTP', () => {
  it('iPXE boots an isolinux ISO from bootherd assets through Range requests', { timeout: 300_000 }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:0a';
      server = await startFull(
        net,
        `
profiles:
  - name: tiny-iso
    sanboot: iso/tiny.iso
machines:
  - id: isovm
    macs: ["${mac}"]
    profile: tiny-iso
`,
      );
      mkdirSync(join(server.dir, 'assets', 'iso'), { recursive: true });
      symlinkSync(buildIso(), join(server.dir, 'assets', 'iso', 'tiny.iso'));
      const boot = await bootToMarker(net.exec, mac, server);
      assert.match(boot.console, /from=iso/, 'the kernel came from the ISO (isolinux passed its own command line)');
      t.diagnostic(`VM start to kernel marker: ${boot.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});

describe('UEFI through bootherd alone', () => {
  it('OVMF firmware PXE → bootherd DHCP + TFTP snponly.efi → iPXE → HTTP → kernel (EFI stub)', {
    timeout: 300_000,
  }, async (t) => {
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      const mac = '52:54:00:e2:e0:0b';
      server = await startFull(
        net,
        inventory(mac),
        `tftp: { enabled: true, listen: ${net.serverIp}, port: 69, roots: [/usr/lib/ipxe] }\n`,
      );
      linkAssets(server);
      const boot = await bootToMarker(net.exec, mac, server, undefined, {
        nic: 'virtio-net-pci',
        romfile: '',
        ovmfVarsDir: server.dir,
      });
      assert.match(boot.console, /initrd=initrd\.gz/, 'the EFI stub got its initrd by name');
      t.diagnostic(`VM start to kernel marker: ${boot.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
