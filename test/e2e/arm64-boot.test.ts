/**
 * ARM64 UEFI network boot, bootherd the only DHCP server: QEMU's `virt` machine (TCG, Cortex-A57) with Debian's
 * AAVMF firmware and a virtio NIC gets Debian 13's `ipxe-arm64.efi` from bootherd (the default
 * `boot.files.arm64-uefi`, put into `http.ipxe_dir` by `bootherd media uefi-ipxe`): over TFTP as a PXE client of
 * arch 11, or by URL as a UEFI HTTP client of arch 19 with TFTP off. That iPXE asks DHCP again as `iPXE` (with
 * `http` among its features, so no chainload loop) and gets boot.ipxe, and Debian 12's arm64 kernel boots through
 * its EFI stub with a busybox initramfs that prints the marker and the command line on the PL011 console.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fetchTrixieUefiIpxe } from '../../src/media/uefi-ipxe.ts';
import type { BootEvent } from '../../src/model/types.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { buildArm64Payload, MARKER } from './lib/payload.ts';
import { runQemu } from './lib/qemu.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';

/** The tools this test drives; missing ones fail it with the package to install. */
function requireTools(): void {
  try {
    execFileSync('qemu-system-aarch64', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('no qemu-system-aarch64: install the Debian package qemu-system-arm (scripts/e2e-deps.sh)');
  }
  for (const f of [AAVMF_CODE, AAVMF_VARS]) {
    if (!existsSync(f)) throw new Error(`no ${f}: install the Debian package qemu-efi-aarch64 (scripts/e2e-deps.sh)`);
  }
}

/**
 * bootherd in full DHCP mode on a fresh test network, `ipxe-arm64.efi` put into its `http.ipxe_dir` by the real CLI
 * (`bootherd media uefi-ipxe`), its cache seeded from the repository's so that only the first run downloads. No
 * boot.files and no tftp.roots: the defaults must name and find the arm64 binary.
 */
async function serve(net: TestNet, mac: string, tftp: boolean): Promise<RunningBootherd> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-arm64-'));
  const config = `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets, ipxe_dir: ipxe }
tftp: { enabled: ${tftp}, listen: ${net.serverIp}, port: 69 }
dhcp:
  mode: full
  interfaces: [br0]
  subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }]
`;
  writeFileSync(join(dir, 'bootherd.yaml'), config);
  const ipxe = await fetchTrixieUefiIpxe(join(REPO, '.cache', 'ipxe-trixie'), { arch: 'arm64' });
  cpSync(join(REPO, '.cache', 'ipxe-trixie'), join(dir, 'data', 'cache', 'ipxe-trixie'), { recursive: true });
  const cli = [join(REPO, 'src/cli/bin.ts'), 'media', 'uefi-ipxe', '--arch', 'arm64', '-c', join(dir, 'bootherd.yaml')];
  const said = execFileSync(process.execPath, ['--import', 'tsx', ...cli], { cwd: REPO, timeout: 60_000 }).toString();
  assert.match(said, new RegExp(`: ${join(dir, 'ipxe', 'ipxe-arm64.efi')}, sha256 ${ipxe.sha256}`));
  const payload = await buildArm64Payload();
  mkdirSync(join(dir, 'assets', 'linux'), { recursive: true });
  symlinkSync(payload.kernel, join(dir, 'assets', 'linux', 'Image'));
  symlinkSync(payload.initrd, join(dir, 'assets', 'linux', 'initrd.gz'));
  return startBootherd({
    exec: net.exec,
    dir,
    config,
    inventory: `
profiles:
  - name: tiny-arm64
    kernel: linux/Image
    initrds: [linux/initrd.gz]
    cmdline: console=ttyAMA0 panic=-1 bootherd.test=arm64
machines:
  - id: arm1
    macs: ["${mac}"]
    profile: tiny-arm64
`,
    readyPattern: /DHCP\s+full mode/,
  });
}

/** QEMU's arm64 `virt` machine with AAVMF (a private copy of its variables) on tap0, run to the payload's marker. */
async function bootToMarker(
  t: TestContext,
  net: TestNet,
  server: RunningBootherd,
  mac: string,
  firmwareArgs: string[],
): Promise<void> {
  const vars = join(server.dir, 'AAVMF_VARS.fd');
  copyFileSync(AAVMF_VARS, vars);
  const started = Date.now();
  const vm = runQemu(
    [
      ...net.exec,
      'qemu-system-aarch64',
      '-M',
      'virt',
      '-cpu',
      'cortex-a57',
      '-accel',
      'tcg',
      '-m',
      '512',
      '-nographic',
      '-no-reboot',
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${AAVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${vars}`,
      '-netdev',
      'tap,id=n0,ifname=tap0,script=no,downscript=no',
      // romfile=: QEMU's virtio option ROM is x86 code; AAVMF's own VirtioNetDxe drives the NIC.
      '-device',
      `virtio-net-pci,netdev=n0,mac=${mac},romfile=`,
      ...firmwareArgs,
    ],
    240_000,
  );
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  const explain = (err: Error): never => {
    throw new Error(`${err.message}\n--- bootherd log ---\n${server.log().slice(-4000)}`);
  };
  let console: string;
  try {
    await vm.waitFor(/iPXE initialising devices/).catch(explain);
    t.diagnostic(`VM start to arm64 iPXE running: ${seconds()} s`);
    console = await vm.waitFor(new RegExp(`${MARKER} cmdline=\\[[^\\]]*\\]`)).catch(explain);
    t.diagnostic(`VM start to kernel marker: ${seconds()} s`);
  } finally {
    vm.kill();
    await vm.exited;
  }
  const cmdline = new RegExp(`${MARKER} cmdline=\\[([^\\]]*)\\]`).exec(console)?.[1] ?? '';
  for (const want of ['console=ttyAMA0', 'bootherd.test=arm64', 'initrd=initrd.gz'])
    assert.ok(cmdline.split(' ').includes(want), `cmdline [${cmdline}] lacks ${want}`);
}

/** What the server recorded, read from its database once it has stopped. */
async function recorded(server: RunningBootherd): Promise<BootEvent[]> {
  await server.stop();
  const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
  try {
    return await store.listEvents({ limit: 200 });
  } finally {
    await store.close();
  }
}

const summary = (events: BootEvent[]) =>
  JSON.stringify(events.map((e) => [e.stage, e.facts.arch, e.facts.userClass, e.decision]));

/** The iPXE's own request (user class iPXE) got the script, and the script stage saw an arm64 EFI iPXE. */
function assertScript(events: BootEvent[]): void {
  const all = summary(events);
  const ipxe = events.filter((e) => e.stage === 'dhcp' && e.facts.userClass === 'iPXE');
  assert.ok(ipxe.length > 0, all);
  for (const e of ipxe) assert.equal(e.decision.kind, 'script', all);
  const script = events.filter((e) => e.stage === 'http' && e.machineId === 'arm1' && e.decision.kind !== 'asset');
  assert.equal(script[0]?.decision.kind, 'profile', all);
  assert.equal(script[0]?.facts.buildarch, 'arm64', all);
  assert.equal(script[0]?.facts.platform, 'efi', all);
}

describe('ARM64 UEFI: AAVMF → bootherd → Debian 13 ipxe-arm64.efi → script → arm64 kernel (EFI stub)', () => {
  it('firmware PXE (arch 11): the binary over TFTP', { timeout: 300_000 }, async (t) => {
    requireTools();
    const mac = '52:54:00:e2:a6:41';
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      server = await serve(net, mac, true);
      await bootToMarker(t, net, server, mac, []);
      const events = await recorded(server);
      const all = summary(events);
      // The firmware's PXE (arch 11, no user class) got the arm64 binary, fetched once over TFTP.
      const firmware = events.filter((e) => e.stage === 'dhcp' && e.facts.arch === 11 && !e.facts.userClass);
      assert.ok(firmware.length > 0, all);
      for (const e of firmware) assert.equal(e.decision.bootfile, 'ipxe-arm64.efi', all);
      const tftp = events.filter((e) => e.stage === 'tftp' && e.decision.file === 'ipxe-arm64.efi');
      assert.equal(tftp.filter((e) => e.decision.outcome === 'done').length, 1, all);
      assertScript(events);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('UEFI HTTP boot (arch 19): the binary from /ipxe-bin/, TFTP off', { timeout: 300_000 }, async (t) => {
    requireTools();
    const mac = '52:54:00:e2:a6:42';
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      server = await serve(net, mac, false);
      // A firmware set to HTTP boot only: the PXE options off (EDK2's fw_cfg switches), HTTPv4 is the first.
      await bootToMarker(t, net, server, mac, [
        '-fw_cfg',
        'name=opt/org.tianocore/IPv4PXESupport,string=n',
        '-fw_cfg',
        'name=opt/org.tianocore/IPv6PXESupport,string=n',
      ]);
      const events = await recorded(server);
      const all = summary(events);
      assert.deepEqual(
        events.filter((e) => e.stage === 'tftp'),
        [],
        'nothing fetched over TFTP',
      );
      const firmware = events.filter((e) => e.stage === 'dhcp' && e.facts.arch === 19 && !e.facts.userClass);
      assert.ok(firmware.length > 0, all);
      for (const e of firmware) {
        assert.equal(e.facts.vendorClass?.startsWith('HTTPClient:Arch:00019'), true, all);
        assert.equal(e.decision.bootfile, `http://${net.serverIp}:8080/ipxe-bin/ipxe-arm64.efi`, all);
      }
      assertScript(events);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
