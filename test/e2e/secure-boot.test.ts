/**
 * Secure Boot through bootherd alone: OVMF with Secure Boot enforced (Debian's secboot build, Microsoft's keys
 * enrolled, SMM so the variables cannot be changed from the OS) PXE-boots a `secure_boot: true` machine through
 * Debian's signed chain: shim (signed by Microsoft's UEFI CA) → grubx64.efi, which is Debian's signed grubnetx64
 * (trusted through shim) → Debian's signed kernel (verified by GRUB through shim's protocol) and the payload.
 * Control: the same firmware handed Debian's unsigned snponly.efi refuses it. A Secure Boot machine set to `local`
 * gets GRUB's local-disk entry.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type RunningBootherd, startBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { consoleUntil, runQemu } from './lib/qemu.ts';

const SHIM = '/usr/lib/shim/shimx64.efi.signed';
const GRUB = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed';
const CODE = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
const MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
const SECURE = '52:54:00:5b:00:01';
const UNSIGNED = '52:54:00:5b:00:02';
const LOCAL = '52:54:00:5b:00:03';

const inventory = `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: console=ttyS0 panic=-1 bootherd.via=shim
machines:
  - id: vm-secure
    macs: ["${SECURE}"]
    profile: tiny-linux
    secure_boot: true
  - id: vm-unsigned
    macs: ["${UNSIGNED}"]
    profile: tiny-linux
  - id: vm-local
    macs: ["${LOCAL}"]
    profile: tiny-linux
    secure_boot: true
    next: local
`;

/** TFTP file names the server was asked for, in order (debug log). */
function tftpRequests(server: RunningBootherd): string[] {
  return [...server.log().matchAll(/"file":"\/?([^"]+)"[^\n]*tftp: RRQ/g)].map((m) => m[1] as string);
}

/** OVMF with Secure Boot enforced: q35 with SMM, the secboot code, a private copy of the Microsoft-keys variables. */
async function boot(
  net: TestNet,
  server: RunningBootherd,
  mac: string,
  until: RegExp,
): Promise<{ console: string; seconds: string }> {
  const started = Date.now();
  const vars = join(server.dir, `OVMF_VARS-ms-${mac.replace(/:/g, '')}.fd`);
  copyFileSync(MS_VARS, vars);
  const vm = runQemu(
    [
      ...net.exec,
      'qemu-system-x86_64',
      '-accel',
      'tcg',
      '-m',
      '768',
      '-machine',
      'q35,smm=on',
      '-global',
      'driver=cfi.pflash01,property=secure,value=on',
      '-global',
      'ICH9-LPC.disable_s3=1',
      '-nographic',
      '-vga',
      'none',
      '-no-reboot',
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${vars}`,
      '-netdev',
      'tap,id=n0,ifname=tap0,script=no,downscript=no',
      // No option ROM: the firmware's own PXE, which verifies what it loads.
      '-device',
      `virtio-net-pci,netdev=n0,mac=${mac},romfile=`,
    ],
    240_000,
  );
  // GRUB's failure message (bootherd's GRUB script prints it).
  return consoleUntil(vm, { until, failure: /bootherd: boot failed/, serverLog: server.log, started });
}

describe('Secure Boot through shim and GRUB (OVMF x64, Secure Boot enforced)', () => {
  it('boots the signed chain; unsigned iPXE is refused; a local machine exits to the firmware', {
    timeout: 900_000,
  }, async (t) => {
    // shim-signed, grub-efi-amd64-signed, ovmf (scripts/e2e-deps.sh): fail, never skip.
    for (const f of [SHIM, GRUB, CODE, MS_VARS]) execFileSync('test', ['-f', f]);
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      // Default TFTP roots (iPXE's and GRUB's folders) and default boot files: snponly.efi for UEFI machines.
      server = await startFull(
        net,
        inventory,
        `tftp: { enabled: true, listen: ${net.serverIp}, port: 69 }
log: { level: debug }
`,
      );
      linkPayload(server.dir);

      // 1. shim → GRUB → signed kernel → payload, with Secure Boot on as the kernel sees it.
      const booted = await boot(net, server, SECURE, new RegExp(`${MARKER} cmdline=\\[.*\\]`));
      assert.match(booted.console, /secureboot: Secure boot enabled/, 'the kernel saw Secure Boot on');
      assert.match(booted.console, new RegExp(`${MARKER} cmdline=\\[.*bootherd\\.via=shim\\]`));
      const asked = tftpRequests(server);
      const order = [
        'shimx64.efi',
        'grubx64.efi',
        'grub/grub.cfg',
        `grub/grub.cfg-01-${SECURE}`,
        'assets/linux/vmlinuz',
      ];
      const at = order.map((f) => asked.indexOf(f));
      assert.ok(
        at.every((i, n) => i >= 0 && (n === 0 || i > (at[n - 1] as number))),
        `shim, then the GRUB it loads from beside itself, then configs and kernel: ${asked.join(', ')}`,
      );
      assert.ok(!asked.includes('snponly.efi'), 'no iPXE for the Secure Boot machine');
      t.diagnostic(`firmware to payload through shim and GRUB: ${booted.seconds}; TFTP: ${asked.join(', ')}`);

      // UEFI HTTP boot's URLs: the same two signed files, byte for byte, shim's GRUB beside it.
      for (const [name, file] of [
        ['shimx64.efi', SHIM],
        ['grubx64.efi', GRUB],
      ] as const) {
        const got = execFileSync(
          net.exec[0] as string,
          [...net.exec.slice(1), 'curl', '-sf', `http://${net.serverIp}:8080/secure-boot/${name}`],
          { maxBuffer: 16 << 20 },
        );
        assert.ok(got.equals(readFileSync(file)), `/secure-boot/${name} is ${file}`);
      }

      // 2. Control: a machine without secure_boot gets Debian's unsigned iPXE, which the firmware refuses.
      const refused = await boot(net, server, UNSIGNED, /Access Denied|Security Violation/);
      assert.ok(tftpRequests(server).includes('snponly.efi'), 'the firmware fetched the unsigned iPXE');
      assert.doesNotMatch(refused.console, /iPXE initialising|iPXE \d/, 'iPXE never ran');
      assert.doesNotMatch(refused.console, new RegExp(MARKER));
      t.diagnostic(`unsigned snponly.efi refused: ${refused.seconds}`);

      // 3. A Secure Boot machine set to local: GRUB's local-disk entry; GRUB exits to the firmware's next option.
      const local = await boot(net, server, LOCAL, /local disk, exit to the firmware[\s\S]*BdsDxe: loading Boot/);
      assert.doesNotMatch(local.console, new RegExp(MARKER));
      const localAsked = tftpRequests(server);
      assert.ok(localAsked.includes(`grub/grub.cfg-01-${LOCAL}`), `GRUB fetched the local config: ${localAsked}`);
      t.diagnostic(`firmware to GRUB exit (local disk) through shim: ${local.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('a missing shim is a start-up error naming the package', { timeout: 60_000 }, async () => {
    const net = createTestNet();
    try {
      const err = await startBootherd({
        exec: net.exec,
        config: 'data_dir: data\ninventory: inventory.yaml\nboot: { shim: /nonexistent/shimx64.efi.signed }\n',
        inventory,
      }).then(
        (s) => s.stop().then(() => new Error('bootherd started')),
        (e: Error) => e,
      );
      assert.match(
        err.message,
        /boot\.shim \/nonexistent\/shimx64\.efi\.signed is missing: install the Debian package shim-signed/,
      );
    } finally {
      net.destroy();
    }
  });
});
