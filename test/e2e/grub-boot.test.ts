/**
 * GRUB as the boot program: OVMF's own PXE (virtio NIC, no option ROM) gets Debian's signed GRUB network image from
 * bootherd (full DHCP, TFTP), GRUB reads its generic grub.cfg, which loads the machine's own grub.cfg-01-<mac>
 * rendered by the boot policy, and boots the payload kernel (fetched over TFTP from GRUB's root: the signed image has no
 * http module) with the machine's command line.
 * A machine set to `local` gets GRUB's local-disk entry: GRUB exits and the firmware moves to its next boot option.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { consoleUntil, startVm } from './lib/qemu.ts';

const GRUB = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed';
const BOOTED = '52:54:00:e2:6b:01';
const LOCAL = '52:54:00:e2:6b:02';
const UNKNOWN = '52:54:00:e2:6b:03';
/** `$`, `;` and a double-quoted word with a space: GRUB must pass them to the kernel as the kernel would read them. */
const CMDLINE = 'console=ttyS0 panic=-1 bootherd.via=grub x=$y;z w="two words"';

const inventory = `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: '${CMDLINE}'
machines:
  - id: vm-grub
    macs: ["${BOOTED}"]
    profile: tiny-linux
  - id: vm-local
    macs: ["${LOCAL}"]
    profile: tiny-linux
    next: local
`;

/** TFTP file names the server was asked for, in order (debug log). */
function tftpRequests(server: RunningBootherd): string[] {
  return [...server.log().matchAll(/"file":"\/?([^"]+)"[^\n]*tftp: RRQ/g)].map((m) => m[1] as string);
}

/** Boot one VM until `until` shows on its console; the console and the seconds it took. */
async function boot(
  net: ReturnType<typeof createTestNet>,
  server: RunningBootherd,
  mac: string,
  until: RegExp,
): Promise<{ console: string; seconds: string }> {
  const started = Date.now();
  const vm = startVm({
    exec: net.exec,
    tap: 'tap0',
    mac,
    nic: 'virtio-net-pci',
    romfile: '',
    ovmfVarsDir: server.dir,
    deadlineMs: 240_000,
  });
  // GRUB's failure message (bootherd's GRUB script prints it).
  return consoleUntil(vm, { until, failure: /bootherd: boot failed/, serverLog: server.log, started });
}

describe('GRUB network image from bootherd (OVMF x64, firmware PXE)', () => {
  it('boots the payload with the machine command line; a local machine and an unknown one go back to the firmware', {
    timeout: 900_000,
  }, async (t) => {
    execFileSync('test', ['-f', GRUB]); // grub-efi-amd64-signed (scripts/e2e-deps.sh): fail, never skip
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      // No tftp.roots: the default roots hold Debian's GRUB folder beside iPXE's.
      server = await startFull(
        net,
        inventory,
        `tftp: { enabled: true, listen: ${net.serverIp}, port: 69 }
boot: { files: { x64-uefi: grubnetx64.efi.signed }, menu: { timeout: 1 } }
log: { level: debug }
`,
      );
      linkPayload(server.dir);

      // 1. A machine with a kernel profile: GRUB's own config, then the kernel with the machine's command line.
      const booted = await boot(net, server, BOOTED, new RegExp(`${MARKER} cmdline=\\[.*\\]`));
      const line = new RegExp(`${MARKER} cmdline=\\[(.*)\\]`).exec(booted.console)?.[1] ?? '';
      assert.match(line, /^BOOT_IMAGE=\/assets\/linux\/vmlinuz /, 'GRUB loaded the kernel');
      assert.ok(
        line.endsWith(' console=ttyS0 panic=-1 bootherd.via=grub x=$y;z "w=two words"'),
        `the machine's command line reached the kernel: ${line}`,
      );
      const asked = tftpRequests(server);
      const own = `grub/grub.cfg-01-${BOOTED}`;
      assert.ok(asked.includes('grubnetx64.efi.signed'), `GRUB image fetched: ${asked.join(', ')}`);
      assert.ok(asked.includes('assets/linux/initrd.gz'), `the initrd came over TFTP: ${asked.join(', ')}`);
      assert.ok(asked.indexOf('grub/grub.cfg') < asked.indexOf(own), `generic then own config: ${asked.join(', ')}`);
      t.diagnostic(`firmware to payload kernel through GRUB: ${booted.seconds}; TFTP: ${asked.join(', ')}`);

      // 2. A machine set to local: the local-disk entry; GRUB exits and the firmware tries its next boot option.
      const localCfg = fetchText(net, `/grub/grub.cfg-01-${LOCAL}`);
      assert.match(localCfg, /\necho 'bootherd: vm-local: local disk, exit to the firmware'\n/);
      assert.match(localCfg, /\nexit\n$/);
      const local = await boot(net, server, LOCAL, /local disk, exit to the firmware[\s\S]*BdsDxe: loading Boot/);
      assert.doesNotMatch(local.console, new RegExp(MARKER));
      assert.ok(tftpRequests(server).includes(`grub/grub.cfg-01-${LOCAL}`), 'GRUB fetched the local machine config');
      t.diagnostic(`firmware to GRUB exit (local disk): ${local.seconds}`);

      // 3. Control: a MAC without a machine gets the unknown-machine menu, whose default is local disk.
      const unknown = await boot(net, server, UNKNOWN, /Boot from local disk[\s\S]*BdsDxe: loading Boot/);
      assert.doesNotMatch(unknown.console, new RegExp(MARKER));
      assert.ok(tftpRequests(server).includes(`grub/grub.cfg-01-${UNKNOWN}`), 'GRUB asked for the unknown MAC config');
      t.diagnostic(`firmware to GRUB exit (unknown machine): ${unknown.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });

  it('grub-script-check accepts a config with hostile labels and command line', async () => {
    const { renderGrub } = await import('../../src/core/render-grub.ts');
    const base = 'http://192.0.2.1:8080';
    const hostile = "Evil' ; reboot ; echo '$x { } \"";
    const text = renderGrub(
      {
        kind: 'menu',
        items: [
          {
            name: "it's",
            description: hostile,
            boot: { kind: 'kernel', kernel: 'k', initrds: ['i'], cmdline: 'a=$(x) b=x;y c="t w" }' },
          },
        ],
        settings: { timeout: 5, default: "it's" },
        source: 'machine',
      },
      { baseUrl: base, facts: { mac: UNKNOWN }, assetUrl: (r) => `${base}/assets/${r}` },
    );
    const file = join(mkdtempSync(join(tmpdir(), 'bh-grub-')), 'grub.cfg');
    writeFileSync(file, text);
    execFileSync('grub-script-check', [file]);
  });
});

/** A config as the server renders it for GRUB, fetched over HTTP from inside the test network. */
function fetchText(net: ReturnType<typeof createTestNet>, path: string): string {
  return execFileSync(net.exec[0] as string, [
    ...net.exec.slice(1),
    'curl',
    '-sf',
    `http://${net.serverIp}:8080${path}`,
  ]).toString();
}
