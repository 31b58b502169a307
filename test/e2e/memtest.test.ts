/**
 * memtest86+ as an ordinary kernel profile: Debian's memtest86+x64.bin speaks the Linux boot protocol, so iPXE's
 * `kernel <url> console=ttyS0,115200` + `boot` starts it and it draws its screen on the serial console. An unknown
 * machine gets the menu, whose default item (after a short timeout) is memtest.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet } from './lib/netns.ts';
import { startVm, tail } from './lib/qemu.ts';

const MEMTEST_BIN = '/boot/memtest86+x64.bin';

const inventory = `
profiles:
  - name: memtest
    description: memtest86+ (serial console on ttyS0)
    kernel: memtest/memtest86+x64.bin
    initrds: []
    cmdline: console=ttyS0,115200
machines:
  - id: someone-else
    macs: ["02:00:00:00:00:42"]
    profile: memtest
`;

describe('memtest86+ from the boot menu', () => {
  it('an unknown machine gets the menu; its default item boots memtest86+ over HTTP', {
    timeout: 300_000,
  }, async (t) => {
    // A missing package is a failure, never a skip (scripts/e2e-deps.sh installs it).
    assert.ok(existsSync(MEMTEST_BIN), `no ${MEMTEST_BIN}: install the Debian package memtest86+`);
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      server = await startFull(net, inventory, 'boot:\n  unknown: menu\n  menu: { timeout: 2, default: memtest }\n');
      mkdirSync(join(server.dir, 'assets', 'memtest'), { recursive: true });
      copyFileSync(MEMTEST_BIN, join(server.dir, 'assets', 'memtest', 'memtest86+x64.bin'));

      // The profile's script: the memtest binary as the kernel, its command line, and no initrd line.
      const mac = '52:54:00:e2:e0:31';
      const script = execFileSync(net.exec[0] as string, [
        ...net.exec.slice(1),
        'curl',
        '-fsS',
        '--max-time',
        '10',
        `http://${net.serverIp}:8080/ipxe?mac=${mac.replace(/:/g, '-')}&profile=memtest`,
      ]).toString();
      assert.ok(
        script.includes(
          `\nkernel http://${net.serverIp}:8080/assets/memtest/memtest86+x64.bin console=ttyS0,115200 || goto failed\n`,
        ),
        script,
      );
      assert.doesNotMatch(script, /^initrd/m, script);

      const started = Date.now();
      const vm = startVm({
        exec: net.exec,
        tap: 'tap0',
        mac,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      const fail = (err: Error, what: string): never => {
        throw new Error(
          `${what}: ${err.message}\n--- console tail ---\n${tail(vm.console())}\n--- bootherd log ---\n${server?.log().slice(-4000)}`,
        );
      };
      try {
        // The menu first: its title and the memtest item's label.
        const menu = await vm.waitFor(/memtest86\+ \(serial console on ttyS0\)/).catch((e: Error) => fail(e, 'menu'));
        assert.match(menu, new RegExp(`bootherd: ${mac}`));
        const menuAt = Date.now();
        // memtest86+'s own header and its first test; slow to start under TCG, so give it up to 90 s.
        const booted = await Promise.race([
          vm.waitFor(/Memtest86\+ v6\.\d+[\s\S]*\[Address test/),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('no memtest86+ banner within 90 s of the menu')), 90_000).unref(),
          ),
        ]).catch((e: Error) => fail(e, 'memtest86+'));
        assert.match(booted, /Memtest86\+ v6/);
        t.diagnostic(
          `VM start to menu: ${((menuAt - started) / 1000).toFixed(1)} s; menu to memtest running: ${((Date.now() - menuAt) / 1000).toFixed(1)} s`,
        );
      } finally {
        vm.kill();
        await vm.exited;
      }
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
