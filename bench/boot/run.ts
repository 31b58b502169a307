/**
 * bench/boot: whole boots, bootherd alone vs the stack it replaces (dnsmasq for DHCP + TFTP, nginx for HTTP), in one
 * run, on the same payload: seconds from VM start to the kernel's first line, and the ratio.
 *   a  SeaBIOS + iPXE ROM → DHCP → HTTP script → kernel + initrd
 *   b  OVMF firmware PXE (virtio, no ROM) → TFTP snponly.efi → iPXE → HTTP → kernel (EFI stub)
 *   c  a vendor-style PXE ROM → TFTP undionly.kpxe → iPXE → HTTP → kernel
 *   d  iPXE ROM → sanboot of an isolinux ISO over HTTP
 * Run as root: `npm run bench:boot` (the e2e packages plus nginx-light). Each boot gets a fresh namespace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBootherd } from '../../test/e2e/lib/bootherd.ts';
import { createTestNet, type TestNet } from '../../test/e2e/lib/netns.ts';
import { buildIso, buildPayload, MARKER } from '../../test/e2e/lib/payload.ts';
import { startVm, type VmOptions } from '../../test/e2e/lib/qemu.ts';

const CACHE = new URL('../../.cache', import.meta.url).pathname;
const SERVER = '192.0.2.1';
type Scenario = 'a' | 'b' | 'c' | 'd';
const SCENARIOS: Record<Scenario, string> = {
  a: 'BIOS iPXE ROM → HTTP → kernel',
  b: 'UEFI firmware PXE → TFTP snponly.efi → HTTP',
  c: 'vendor PXE ROM → TFTP undionly.kpxe → HTTP',
  d: 'iPXE ROM → sanboot ISO over HTTP',
};

function vmOptions(s: Scenario, net: TestNet, dir: string): VmOptions {
  const base = { exec: net.exec, tap: 'tap0', mac: '52:54:00:b0:07:01', deadlineMs: 240_000 };
  if (s === 'b') return { ...base, nic: 'virtio-net-pci', romfile: '', ovmfVarsDir: dir };
  return { ...base, romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom' };
}

/** Boots once and returns the seconds to the kernel marker. */
async function boot(s: Scenario, net: TestNet, dir: string): Promise<number> {
  const started = Date.now();
  const vm = startVm(vmOptions(s, net, dir));
  try {
    if (s === 'c') {
      // Imitate a vendor PXE ROM from the iPXE ROM's shell (see shared/clients.md).
      await vm.waitFor(/Press Ctrl-B for the iPXE command line/);
      await vm.type('\x02');
      await vm.waitFor(/iPXE>/);
      await vm.type(
        'set user-class PXE-ROM && ifconf -c dhcp && clear user-class && chain tftp://${next-server}/${filename}\r',
      );
    }
    await vm.waitFor(new RegExp(`${MARKER} cmdline=`));
    return (Date.now() - started) / 1000;
  } finally {
    vm.kill();
    await vm.exited;
  }
}

function assets(dir: string): void {
  const payload = buildPayload(CACHE);
  mkdirSync(join(dir, 'assets', 'linux'), { recursive: true });
  mkdirSync(join(dir, 'assets', 'iso'), { recursive: true });
  symlinkSync(payload.kernel, join(dir, 'assets', 'linux', 'vmlinuz'));
  symlinkSync(payload.initrd, join(dir, 'assets', 'linux', 'initrd.gz'));
  symlinkSync(buildIso(), join(dir, 'assets', 'iso', 'tiny.iso'));
}

async function withBootherd(s: Scenario): Promise<number> {
  const net = createTestNet();
  let server: Awaited<ReturnType<typeof startBootherd>> | undefined;
  try {
    net.addTap('tap0');
    const profile =
      s === 'd'
        ? '  - name: p\n    sanboot: iso/tiny.iso\n'
        : '  - name: p\n    kernel: linux/vmlinuz\n    initrds: [linux/initrd.gz]\n    cmdline: console=ttyS0 panic=-1\n';
    server = await startBootherd({
      exec: net.exec,
      config: `
data_dir: data
inventory: inventory.yaml
log: { level: info }
http: { listen: ${SERVER}, port: 8080, advertise: "http://${SERVER}:8080", assets: assets }
tftp: { enabled: true, listen: ${SERVER}, port: 69, roots: [/usr/lib/ipxe] }
dhcp:
  mode: full
  interfaces: [br0]
  subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }]
`,
      inventory: `profiles:\n${profile}machines:\n  - id: vm\n    macs: ["52:54:00:b0:07:01"]\n    profile: p\n`,
      readyPattern: /DHCP\s+full mode/,
    });
    assets(server.dir);
    return await boot(s, net, server.dir);
  } finally {
    await server?.stop();
    net.destroy();
  }
}

async function withReference(s: Scenario): Promise<number> {
  const net = createTestNet();
  const dir = mkdtempSync(join(tmpdir(), 'bh-bench-boot-'));
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  const run = (argv: string[]) => {
    const [cmd, ...args] = [...net.exec, ...argv];
    const c = spawn(cmd as string, args, { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  try {
    net.addTap('tap0');
    assets(dir);
    // The hand-written script a PHP endpoint or a static file would serve.
    writeFileSync(
      join(dir, 'assets', 'boot.ipxe'),
      s === 'd'
        ? `#!ipxe\nsanboot --no-describe http://${SERVER}:8080/iso/tiny.iso\n`
        : `#!ipxe\nkernel http://${SERVER}:8080/linux/vmlinuz initrd=initrd.gz console=ttyS0 panic=-1\n` +
            `initrd --name initrd.gz http://${SERVER}:8080/linux/initrd.gz\nboot\n`,
    );
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nmaster_process off;\nerror_log stderr error;\npid ${dir}/nginx.pid;\nevents {}\n` +
        `http {\n  access_log off;\n  sendfile on;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n` +
        `  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n` +
        `  server {\n    listen ${SERVER}:8080;\n    root ${dir}/assets;\n  }\n}\n`,
    );
    run(['nginx', '-p', dir, '-c', join(dir, 'nginx.conf')]);
    run([
      'dnsmasq',
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--interface=br0',
      '--bind-interfaces',
      '--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h',
      `--dhcp-leasefile=${join(dir, 'leases')}`,
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--enable-tftp',
      '--tftp-root=/usr/lib/ipxe',
      '--dhcp-match=set:efi64,option:client-arch,7',
      '--dhcp-userclass=set:ipxe,iPXE',
      '--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi',
      '--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe',
      `--dhcp-boot=tag:ipxe,http://${SERVER}:8080/boot.ipxe`,
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    for (const c of children) if (c.exitCode !== null) throw new Error(`reference server exited (${c.spawnfile})`);
    return await boot(s, net, dir);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    net.destroy();
  }
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_SCENARIOS ?? 'a,b,c,d').split(',') as Scenario[];
  const rows: [Scenario, number, number][] = [];
  for (const s of only) rows.push([s, await withBootherd(s), await withReference(s)]);
  console.log('\nbench/boot: seconds from VM start to the kernel marker (QEMU TCG, 2 cores), one boot each');
  console.log(
    `${'scenario'.padEnd(52)} ${'bootherd'.padStart(9)} ${'dnsmasq+nginx'.padStart(14)} ${'ratio'.padStart(6)}`,
  );
  for (const [s, b, r] of rows) {
    console.log(
      `${`${s}  ${SCENARIOS[s]}`.padEnd(52)} ${b.toFixed(1).padStart(9)} ${r.toFixed(1).padStart(14)} ${(b / r).toFixed(2).padStart(6)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench/boot failed: ${err.message}`);
    process.exit(1);
  },
);
