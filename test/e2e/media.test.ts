/**
 * Boot media end to end: QEMU machines with no PXE ROM at all boot the ISO that `bootherd media iso` writes, and
 * reach bootherd's payload through iPXE on the media.
 * - Two NICs, net0 on a dead network: the default script (DHCP on every NIC in turn) boots through net1. Control:
 *   the same machine with a net0-only script never gets there.
 * - A segment without any DHCP server: the --static script boots.
 * - The ISO written raw to a disk (a USB stick as the BIOS sees it) boots too (isohybrid MBR).
 * The VMs run concurrently: each is bounded by its own deadline and killed by PID.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildIso } from '../../src/media/iso.ts';
import { mediaScript, type ScriptChoice } from '../../src/media/script.ts';
import { fetchTrixieUefiIpxe } from '../../src/media/uefi-ipxe.ts';
import { startMediaVm } from './lib/bios-media-vm.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import type { Vm } from './lib/qemu.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEAD = '52:54:00:e2:e1:01';
const LIVE = '52:54:00:e2:e1:02';
const CONTROL_DEAD = '52:54:00:e2:e1:03';
const CONTROL_LIVE = '52:54:00:e2:e1:04';
const USB = '52:54:00:e2:e1:05';
const STATIC = '52:54:00:e2:e1:06';
const BOOTED = new RegExp(`${MARKER} cmdline=`);

function inventory(macs: Record<string, string>): string {
  return `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: console=ttyS0 panic=-1
machines:
${Object.entries(macs)
  .map(([id, mac]) => `  - { id: ${id}, macs: ["${mac}"], profile: tiny-linux }`)
  .join('\n')}
`;
}

async function server(net: TestNet, dhcp: string, macs: Record<string, string>): Promise<RunningBootherd> {
  const s = await startBootherd({
    exec: net.exec,
    config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets }
dhcp: ${dhcp}
`,
    inventory: inventory(macs),
  });
  linkPayload(s.dir);
  return s;
}

async function iso(dir: string, name: string, choice: ScriptChoice): Promise<string> {
  const output = join(dir, `${name}.iso`);
  await buildIso({ script: mediaScript(choice), output });
  return output;
}

/** Wait for a console line; on failure say which VM and show what the server saw. */
async function expectLine(vm: Vm, pattern: RegExp, what: string, srv: RunningBootherd): Promise<string> {
  try {
    return await vm.waitFor(pattern);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}\n--- bootherd log ---\n${srv.log().slice(-3000)}`);
  }
}

async function stop(vm: Vm): Promise<void> {
  vm.kill();
  await vm.exited;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

describe('boot media: QEMU without PXE ROMs boots the bootherd ISO', { concurrency: true }, () => {
  let dhcpNet: TestNet;
  let dhcpServer: RunningBootherd;
  let staticNet: TestNet;
  let staticServer: RunningBootherd;
  const url = (net: TestNet) => `http://${net.serverIp}:8080/boot.ipxe`;

  before(async () => {
    dhcpNet = createTestNet();
    for (const tap of ['tapdead', 'tapdead2']) dhcpNet.addTap(tap, { bridged: false });
    for (const tap of ['tap0', 'tap1', 'tap2']) dhcpNet.addTap(tap);
    dhcpServer = await server(
      dhcpNet,
      `{ mode: full, interfaces: [br0], subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }] }`,
      { twonics: LIVE, control: CONTROL_LIVE, usb: USB },
    );
    staticNet = createTestNet();
    staticNet.addTap('tap0');
    staticServer = await server(staticNet, '{ mode: off }', { fixed: STATIC });
  });

  after(async () => {
    await dhcpServer?.stop();
    await staticServer?.stop();
    dhcpNet?.destroy();
    staticNet?.destroy();
  });

  it('two NICs, net0 dead: the default script boots through net1; a net0-only script does not', {
    timeout: 200_000,
  }, async (t) => {
    const defaultIso = await iso(dhcpServer.dir, 'default', { kind: 'dhcp', bootUrl: url(dhcpNet), nics: 4 });
    const net0Only = await iso(dhcpServer.dir, 'net0-only', { kind: 'dhcp', bootUrl: url(dhcpNet), nics: 1 });
    const started = Date.now();
    const vm = startMediaVm({
      exec: dhcpNet.exec,
      iso: defaultIso,
      as: 'cdrom',
      tap: 'tapdead',
      mac: DEAD,
      secondNic: { tap: 'tap0', mac: LIVE },
      romfile: '',
      deadlineMs: 180_000,
    });
    const control = startMediaVm({
      exec: dhcpNet.exec,
      iso: net0Only,
      as: 'cdrom',
      tap: 'tapdead2',
      mac: CONTROL_DEAD,
      secondNic: { tap: 'tap1', mac: CONTROL_LIVE },
      romfile: '',
      deadlineMs: 40_000,
    });
    try {
      const [booted, gaveUp] = await Promise.all([
        expectLine(vm, BOOTED, 'default ISO, two NICs', dhcpServer),
        expectLine(control, /no NIC could reach the boot server/, 'control: net0-only ISO', dhcpServer),
      ]);
      assert.match(booted, /ISOLINUX/, 'booted from the CD');
      assert.match(booted, /trying net0/);
      assert.match(booted, /trying net1/);
      t.diagnostic(`CD, two NICs: VM start to kernel marker ${seconds(started)}`);
      assert.match(gaveUp, /trying net0/);
      assert.doesNotMatch(gaveUp, /trying net1/);
      assert.doesNotMatch(gaveUp, BOOTED);
    } finally {
      await Promise.all([stop(vm), stop(control)]);
    }
  });

  it('a segment without DHCP: the --static ISO boots', { timeout: 200_000 }, async (t) => {
    const staticIso = await iso(staticServer.dir, 'static', {
      kind: 'static',
      bootUrl: url(staticNet),
      cidr: '192.0.2.60/24',
      gateway: staticNet.serverIp,
      nic: 0,
    });
    const started = Date.now();
    const vm = startMediaVm({
      exec: staticNet.exec,
      iso: staticIso,
      as: 'cdrom',
      tap: 'tap0',
      mac: STATIC,
      romfile: '',
      deadlineMs: 180_000,
    });
    try {
      const out = await expectLine(vm, BOOTED, 'static ISO', staticServer);
      assert.doesNotMatch(out, /Configuring \(net0/, 'no DHCP attempted');
      t.diagnostic(`CD, static address: VM start to kernel marker ${seconds(started)}`);
    } finally {
      await stop(vm);
    }
  });

  it('the same ISO as a raw disk (a USB stick written with dd) boots', { timeout: 200_000 }, async (t) => {
    const usbIso = await iso(dhcpServer.dir, 'usb', { kind: 'dhcp', bootUrl: url(dhcpNet), nics: 4 });
    const started = Date.now();
    const vm = startMediaVm({
      exec: dhcpNet.exec,
      iso: usbIso,
      as: 'disk',
      tap: 'tap2',
      mac: USB,
      romfile: '',
      deadlineMs: 180_000,
    });
    try {
      const out = await expectLine(vm, BOOTED, 'ISO as a disk', dhcpServer);
      assert.match(out, /Booting from Hard Disk/);
      assert.match(out, /ISOLINUX/);
      t.diagnostic(`raw disk: VM start to kernel marker ${seconds(started)}`);
    } finally {
      await stop(vm);
    }
  });
});

describe('boot media under UEFI: OVMF boots the same hybrid image into the payload', () => {
  let net: TestNet;
  let srv: RunningBootherd;
  let image: string;
  const UEFI_CD = '52:54:00:e2:e1:07';
  const UEFI_DISK = '52:54:00:e2:e1:08';
  const BIOS_CD = '52:54:00:e2:e1:09';

  before(async () => {
    net = createTestNet();
    for (const tap of ['tap0', 'tap1', 'tap2']) net.addTap(tap);
    srv = await server(
      net,
      `{ mode: full, interfaces: [br0], subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }] }`,
      { 'uefi-cd': UEFI_CD, 'uefi-disk': UEFI_DISK, 'bios-cd': BIOS_CD },
    );
    // What `bootherd media iso` does by default: Debian 13's UEFI iPXE (it runs autoexec.ipxe), fetched once.
    const ipxe = await fetchTrixieUefiIpxe(join(ROOT, '.cache', 'ipxe-trixie'));
    image = join(srv.dir, 'hybrid.iso');
    await buildIso({
      script: mediaScript({ kind: 'dhcp', bootUrl: `http://${net.serverIp}:8080/boot.ipxe`, nics: 4 }),
      output: image,
      uefiIpxe: ipxe.efi,
    });
  });

  after(async () => {
    await srv?.stop();
    net?.destroy();
  });

  it('the hybrid image is reproducible too: built again, the same bytes', async () => {
    const ipxe = await fetchTrixieUefiIpxe(join(ROOT, '.cache', 'ipxe-trixie'));
    const script = mediaScript({ kind: 'dhcp', bootUrl: `http://${net.serverIp}:8080/boot.ipxe`, nics: 4 });
    const again = await buildIso({ script, output: join(srv.dir, 'again.iso'), uefiIpxe: ipxe.efi });
    const first = await buildIso({ script, output: join(srv.dir, 'first.iso'), uefiIpxe: ipxe.efi });
    assert.equal(again.sha256, first.sha256);
  });

  it('SeaBIOS boots the same hybrid image from its CD drive (ISOLINUX, ipxe.lkrn)', { timeout: 200_000 }, async (t) => {
    const started = Date.now();
    const vm = startMediaVm({
      exec: net.exec,
      iso: image,
      as: 'cdrom',
      tap: 'tap2',
      mac: BIOS_CD,
      romfile: '',
      deadlineMs: 180_000,
    });
    try {
      const out = await expectLine(vm, BOOTED, 'BIOS, hybrid image', srv);
      assert.match(out, /ISOLINUX/);
      t.diagnostic(`BIOS cdrom (hybrid image): VM start to kernel marker ${seconds(started)}`);
    } finally {
      await stop(vm);
    }
  });

  for (const [as, tap, mac] of [
    ['cdrom', 'tap0', UEFI_CD],
    ['disk', 'tap1', UEFI_DISK],
  ] as const) {
    it(`from its ${as === 'cdrom' ? 'CD drive' : 'disk (a USB stick written with dd)'}: autoexec.ipxe runs, DHCP, script, kernel`, {
      timeout: 200_000,
    }, async (t) => {
      const started = Date.now();
      const vm = startMediaVm({
        exec: net.exec,
        iso: image,
        as,
        tap,
        mac,
        romfile: '',
        ovmfVarsDir: srv.dir,
        deadlineMs: 180_000,
      });
      try {
        const out = await expectLine(vm, BOOTED, `UEFI, ${as}`, srv);
        // The script the image carries ran under UEFI (not a firmware PXE: the NIC has no ROM), from net0.
        assert.match(out, /trying net0/);
        assert.doesNotMatch(out, /ISOLINUX/, 'not the BIOS path');
        t.diagnostic(`UEFI ${as}: VM start to kernel marker ${seconds(started)}`);
      } finally {
        await stop(vm);
      }
    });
  }
});
