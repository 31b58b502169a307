/**
 * `bootherd ipxe build` end to end: one run of the real CLI compiles iPXE from Debian 13's source package (cached in
 * .cache/ipxe, so later runs take seconds) into a virtio NIC ROM and an undionly.kpxe, both with the default embedded
 * script (DHCP on every NIC in turn, then chain bootherd) and the user class `bootherd-e2e`. Then QEMU boots them:
 * - The ROM as `romfile=` of the first of two virtio NICs, net0 on a dead network and net1 with no ROM at all: the
 *   embedded script reaches the payload through net1. Control: Debian's stock virtio ROM in the same place tries
 *   net0 only and never boots.
 * - The undionly.kpxe, chainloaded from a vendor-style PXE first stage over bootherd's TFTP, under a config whose
 *   `required_features` (http, https) no Debian 12 iPXE announces: bootherd recognises `boot.user_class` and serves
 *   it the script directly. Control: Debian's stock undionly.kpxe (user class `iPXE`, no https) is given the binary
 *   again, and loads it again: the loop that user class breaks.
 * BOOTHERD_E2E_IPXE_SOURCE=<iPXE tree or tarball> builds from that instead of Debian's source package.
 *
 * Not part of `npm test`: this workplace's Debian mirror answers 404 for the ipxe source package's files (every
 * suite), so CI cannot fetch what this test compiles. Run it with `npm run test:ipxe-build` where Debian's source is
 * reachable, or with BOOTHERD_E2E_IPXE_SOURCE pointing at an iPXE tree of the same commit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { BootEvent } from '../../src/model/types.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startFull } from '../e2e/lib/bootherd.ts';
import { createTestNet, type TestNet } from '../e2e/lib/netns.ts';
import { linkPayload, MARKER, tinyLinuxInventory } from '../e2e/lib/payload.ts';
import { startVm, type Vm } from '../e2e/lib/qemu.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLASS = 'bootherd-e2e';
const BOOTED = new RegExp(`${MARKER} cmdline=`);
const ROM_DEAD = '52:54:00:e2:e5:01';
const ROM_LIVE = '52:54:00:e2:e5:02';
const STOCK_DEAD = '52:54:00:e2:e5:03';
const STOCK_LIVE = '52:54:00:e2:e5:04';
const UNDI = '52:54:00:e2:e5:05';
const STOCK_UNDI = '52:54:00:e2:e5:06';
/** What the default script chains: every test network's server has this address. */
const BOOT_URL = 'http://192.0.2.1:8080/boot.ipxe';

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** `bootherd ipxe build` as an operator runs it; its stdout is `sha256sum` lines. */
async function ipxeBuild(args: string[]): Promise<{ files: Map<string, string>; summary: string }> {
  const source = process.env.BOOTHERD_E2E_IPXE_SOURCE;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/bin.ts'),
      'ipxe',
      'build',
      '--set',
      `data_dir=${join(ROOT, '.cache', 'ipxe')}`,
      ...(source ? ['--source', source] : []),
      ...args,
    ],
    { cwd: ROOT, timeout: 40 * 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const files = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(\/\S+)$/.exec(line);
    assert.ok(m, `a sha256sum line: ${line}`);
    files.set(basename(m[2] ?? ''), m[2] ?? '');
  }
  return { files, summary: stderr.trim() };
}

async function events(server: RunningBootherd, mac: string): Promise<BootEvent[]> {
  const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
  try {
    return (await store.listEvents({ mac, limit: 500 })).reverse();
  } finally {
    await store.close();
  }
}

async function stop(vm: Vm): Promise<void> {
  vm.kill();
  await vm.exited;
}

async function expectLine(vm: Vm, pattern: RegExp, what: string, server: RunningBootherd): Promise<string> {
  try {
    return await vm.waitFor(pattern);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}\n--- bootherd log ---\n${server.log().slice(-3000)}`);
  }
}

/**
 * A vendor PXE ROM, imitated from the iPXE ROM's shell (clients.md): DHCP with another user class, then the boot
 * file it was given over TFTP, as firmware PXE would.
 */
async function vendorFirstStage(vm: Vm): Promise<void> {
  await vm.waitFor(/Press Ctrl-B for the iPXE command line/);
  await vm.type('\x02');
  await vm.waitFor(/iPXE>/);
  await vm.type(
    'set user-class PXE-ROM && ifconf -c dhcp && clear user-class && chain tftp://${next-server}/${filename}\r',
  );
}

/** bootherd (full DHCP, TFTP from `tftpRoot`) recognising the build's user class, under features stock iPXE lacks. */
async function server(net: TestNet, inventory: string, tftpRoot: string): Promise<RunningBootherd> {
  const s = await startFull(
    net,
    inventory,
    `tftp: { enabled: true, listen: ${net.serverIp}, port: 69, roots: [${tftpRoot}] }
boot: { user_class: ${CLASS}, required_features: [http, https] }
`,
  );
  linkPayload(s.dir);
  return s;
}

const twoMachines = (a: [string, string], b: [string, string]) =>
  `${tinyLinuxInventory(a[0], a[1])}  - id: ${b[0]}\n    macs: ["${b[1]}"]\n    profile: tiny-linux\n`;

describe('bootherd ipxe build: iPXE from source, booted in QEMU', { concurrency: true }, () => {
  let rom: string;
  let undionly: string;
  let romNet: TestNet;
  let romServer: RunningBootherd;
  let buildNote = '';

  before(
    async () => {
      // One build for every test: CI pays the compile once, and nothing at all while .cache/ipxe holds it.
      const started = Date.now();
      const built = await ipxeBuild([
        '--url',
        BOOT_URL,
        '--nics',
        '4',
        '--user-class',
        CLASS,
        '--target',
        'bin/1af41000.rom',
        '--target',
        'bin/undionly.kpxe',
      ]);
      buildNote = `${built.summary} (this run: ${seconds(started)})`;
      rom = built.files.get('1af41000.rom') ?? '';
      undionly = built.files.get('undionly.kpxe') ?? '';
      assert.ok(rom && undionly, [...built.files.keys()].join(' '));
      // The same inputs again: the cached result, not a second compile.
      const again = await ipxeBuild([
        '--url',
        BOOT_URL,
        '--nics',
        '4',
        '--user-class',
        CLASS,
        '--target',
        'bin/undionly.kpxe',
        '--target',
        'bin/1af41000.rom',
      ]);
      assert.match(again.summary, /: cached \(built in/);
      assert.equal(again.files.get('1af41000.rom'), rom);

      romNet = createTestNet();
      for (const tap of ['tapdead', 'tapdead2']) romNet.addTap(tap, { bridged: false });
      for (const tap of ['tap0', 'tap1']) romNet.addTap(tap);
      romServer = await server(romNet, twoMachines(['romvm', ROM_LIVE], ['stockrom', STOCK_LIVE]), '/usr/lib/ipxe');
    },
    { timeout: 45 * 60_000 },
  );

  after(async () => {
    await romServer?.stop();
    romNet?.destroy();
  });

  it('the virtio ROM with the embedded script boots through net1 when net0 is dead; the stock ROM does not', {
    timeout: 300_000,
  }, async (t) => {
    const started = Date.now();
    // net1 has no ROM: only the ROM on net0, through its embedded script, can bring up net1.
    const vm = startVm({
      exec: romNet.exec,
      nic: 'virtio-net-pci',
      tap: 'tapdead',
      mac: ROM_DEAD,
      romfile: rom,
      secondNic: { tap: 'tap0', mac: ROM_LIVE, romfile: '' },
      deadlineMs: 240_000,
    });
    const control = startVm({
      exec: romNet.exec,
      nic: 'virtio-net-pci',
      tap: 'tapdead2',
      mac: STOCK_DEAD,
      romfile: '/usr/lib/ipxe/qemu/pxe-virtio.rom',
      secondNic: { tap: 'tap1', mac: STOCK_LIVE, romfile: '' },
      // Debian's stock virtio ROM is for the modern device ID (1af4:1041): SeaBIOS runs a ROM only on its own ID.
      extraArgs: ['-global', 'virtio-net-pci.disable-legacy=on'],
      deadlineMs: 240_000,
    });
    try {
      const [booted, gaveUp] = await Promise.all([
        expectLine(vm, BOOTED, 'built ROM, two NICs', romServer),
        expectLine(control, /No bootable device/, 'control: stock ROM', romServer),
      ]);
      assert.match(booted, /trying net0/);
      assert.match(booted, /trying net1/);
      t.diagnostic(buildNote);
      t.diagnostic(`built virtio ROM, net0 dead: VM start to kernel marker ${seconds(started)}`);
      assert.match(gaveUp, new RegExp(`Configuring \\(net0 ${STOCK_DEAD}`), 'the stock ROM ran, on net0');
      assert.doesNotMatch(gaveUp, /Configuring \(net1/);
      assert.doesNotMatch(gaveUp, BOOTED);
      assert.doesNotMatch(gaveUp, /trying net/);
    } finally {
      await Promise.all([stop(vm), stop(control)]);
    }
    // Read while the server runs (WAL: a second connection sees its commits); these events are seconds old.
    const seen = await events(romServer, ROM_LIVE);
    const http = seen.filter((e) => e.stage === 'http' && e.decision.kind !== 'asset');
    assert.equal(http[0]?.facts.nic, 'net1', 'the bootstrap reported the NIC the script booted from');
    const dhcp = seen.filter((e) => e.stage === 'dhcp');
    assert.ok(
      dhcp.some((e) => e.facts.userClass === CLASS && e.decision.kind === 'script'),
      JSON.stringify(dhcp.map((e) => [e.facts.userClass, e.decision.kind])),
    );
  });

  it('undionly.kpxe with its own user class is served the script directly; stock undionly.kpxe loops', {
    timeout: 300_000,
  }, async (t) => {
    const customNet = createTestNet();
    const stockNet = createTestNet();
    let custom: RunningBootherd | undefined;
    let stock: RunningBootherd | undefined;
    const root = mkdtempSync(join(tmpdir(), 'bh-e2e-undionly-'));
    try {
      customNet.addTap('tap0');
      stockNet.addTap('tap0');
      copyFileSync(undionly, join(root, 'undionly.kpxe'));
      custom = await server(customNet, tinyLinuxInventory('undivm', UNDI), root);
      stock = await server(stockNet, tinyLinuxInventory('stockundi', STOCK_UNDI), '/usr/lib/ipxe');
      const started = Date.now();
      const vm = startVm({
        exec: customNet.exec,
        tap: 'tap0',
        mac: UNDI,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      const control = startVm({
        exec: stockNet.exec,
        tap: 'tap0',
        mac: STOCK_UNDI,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      try {
        await Promise.all([vendorFirstStage(vm), vendorFirstStage(control)]);
        // undionly.kpxe announces itself with "PXE->EB" each time it starts from the PXE stack: twice is the loop.
        const [booted, looped] = await Promise.all([
          expectLine(vm, BOOTED, 'built undionly.kpxe', custom),
          expectLine(control, /PXE->EB[\s\S]*PXE->EB/, 'control: stock undionly.kpxe', stock),
        ]);
        t.diagnostic(`built undionly.kpxe: VM start to kernel marker ${seconds(started)}`);
        assert.equal(booted.match(/PXE->EB/g)?.length, 1, 'undionly.kpxe started once');
        assert.match(booted, /bootherd: trying net0/, 'its embedded script ran');
        assert.doesNotMatch(looped, BOOTED);
      } finally {
        await Promise.all([stop(vm), stop(control)]);
      }
      // What bootherd decided for each DHCP exchange, by the user class the client sent.
      const decided = (list: BootEvent[], userClass: string) =>
        list
          .filter((e) => e.stage === 'dhcp' && e.facts.userClass === userClass && e.decision.bootfile)
          .map((e) => `${e.decision.kind} ${e.decision.bootfile}`);
      const mine = await events(custom, UNDI);
      assert.deepEqual([...new Set(decided(mine, 'PXE-ROM'))], ['ipxe-binary undionly.kpxe']);
      assert.deepEqual([...new Set(decided(mine, CLASS))], [`script ${BOOT_URL}`], 'served the script directly');
      const fetched = mine.filter((e) => e.stage === 'tftp' && e.decision.outcome === 'done');
      assert.deepEqual(
        fetched.map((e) => e.decision.file),
        ['undionly.kpxe'],
      );
      const theirs = await events(stock, STOCK_UNDI);
      assert.deepEqual([...new Set(decided(theirs, 'iPXE'))], ['ipxe-binary undionly.kpxe'], 'the binary again');
      assert.ok(theirs.filter((e) => e.stage === 'tftp' && e.decision.outcome === 'done').length >= 2, 'loaded again');
    } finally {
      await Promise.all([custom?.stop(), stock?.stop()]);
      customNet.destroy();
      stockNet.destroy();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
