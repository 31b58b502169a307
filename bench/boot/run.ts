/**
 * bench/boot: whole boots, bootherd alone vs the stack it replaces (dnsmasq for DHCP + TFTP, nginx for HTTP), in one
 * run, on the same payload: seconds from VM start to the kernel's first line, and the ratio.
 *   a  SeaBIOS + iPXE ROM → DHCP → HTTP script → kernel + initrd
 *   b  OVMF firmware PXE (virtio, no ROM) → TFTP snponly.efi → iPXE → HTTP → kernel (EFI stub)
 *   c  a vendor-style PXE ROM → TFTP undionly.kpxe → iPXE → HTTP → kernel
 *   d  iPXE ROM → sanboot of an isolinux ISO over HTTP
 * Run as root: `npm run bench:boot` (the e2e packages plus nginx-light). Each boot gets a fresh namespace.
 * BENCH_SCENARIOS=c picks scenarios, BENCH_RUNS=3 repeats them; BENCH_STAGES=1 prints when each stage of a boot ended
 * (from the serial console) on both sides; BENCH_BOOT_LOG=<dir> keeps each console with the second every line
 * arrived, and bootherd's log; BENCH_PCAP=<dir> keeps each boot's traffic on the bridge (tcpdump).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBootherd } from '../../test/e2e/lib/bootherd.ts';
import { createTestNet, type TestNet } from '../../test/e2e/lib/netns.ts';
import { buildIso, buildPayload, MARKER } from '../../test/e2e/lib/payload.ts';
import { startVm, type Vm, type VmOptions } from '../../test/e2e/lib/qemu.ts';

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

/**
 * The console lines that end each stage (iPXE 1.0.0+git-20190125, EDK2's PXE, Linux), searched in this order, each
 * after the previous one's match: a line that repeats (iPXE's "Configuring … ok" of the ROM, then of undionly.kpxe)
 * is counted once a stage. A stage whose line never came prints as "-".
 */
const CONFIGURED = /Configuring [^\n]*? ok/;
/** The end of the line is written when iPXE's 2 s wait for Ctrl-B is over. */
const PROMPT: [string, RegExp] = ['iPXE prompt over', /Press Ctrl-B for the iPXE command line\.\.\.[^\n]*\n/];
const HTTP_STAGES: [string, RegExp][] = [
  ['script fetched', /boot\.ipxe\.\.\. ok/],
  ['kernel loaded', /vmlinuz\.\.\.[^\n]*? ok/],
  ['initrd loaded', /initrd\.gz\.\.\.[^\n]*? ok/],
  ['Linux starts', /Linux version/],
];
const STAGES: Record<Scenario, [string, RegExp][]> = {
  a: [PROMPT, ['iPXE DHCP done', CONFIGURED], ...HTTP_STAGES],
  b: [
    ['firmware DHCP done', /Station IP address is/],
    ['snponly.efi loaded', /NBP file downloaded successfully/],
    PROMPT,
    ['iPXE DHCP done', CONFIGURED],
    ...HTTP_STAGES,
  ],
  c: [
    // The line editor redraws what is typed: its last word is what arrives whole.
    ['shell command typed', /\$\{filename\}/],
    ['ROM DHCP done', CONFIGURED],
    ['undionly.kpxe loaded', /undionly\.kpxe\.\.\. ok/],
    PROMPT,
    ['iPXE DHCP done', CONFIGURED],
    ...HTTP_STAGES,
  ],
  d: [
    PROMPT,
    ['iPXE DHCP done', CONFIGURED],
    ['script fetched', /boot\.ipxe\.\.\. ok/],
    ['Linux starts', /Linux version/],
  ],
};
const MARKER_LINE = new RegExp(`${MARKER} cmdline=`);

interface Boot {
  seconds: number;
  /** Seconds from VM start to the end of each stage of STAGES[s], then to the kernel marker. */
  stages: (number | undefined)[];
}

/** The serial console with the time each piece of it arrived, sampled every 50 ms. */
function consoleClock(vm: Vm, started: number): { stop(): void; at(offset: number): number | undefined } {
  const marks: { len: number; t: number }[] = [];
  const sample = () => {
    const len = vm.console().length;
    if (len > (marks.at(-1)?.len ?? 0)) marks.push({ len, t: (Date.now() - started) / 1000 });
  };
  const timer = setInterval(sample, 50);
  return {
    stop() {
      sample();
      clearInterval(timer);
    },
    at: (offset) => marks.find((m) => m.len >= offset)?.t,
  };
}

function stageTimes(s: Scenario, out: string, at: (offset: number) => number | undefined): (number | undefined)[] {
  let from = 0;
  return [...STAGES[s].map(([, re]) => re), MARKER_LINE].map((re) => {
    const m = re.exec(out.slice(from));
    if (!m) return undefined;
    from += m.index + m[0].length;
    return at(from);
  });
}

/** `BENCH_BOOT_LOG=<dir>`: the console, each line with the second it arrived (and bootherd's log, see below). */
function writeConsole(s: Scenario, out: string, at: (offset: number) => number | undefined): void {
  const dir = process.env.BENCH_BOOT_LOG;
  if (!dir) return;
  let text = '';
  let from = 0;
  for (let i = out.indexOf('\n'); i !== -1; from = i + 1, i = out.indexOf('\n', from))
    text += `${(at(i) ?? 0).toFixed(2).padStart(7)} ${out.slice(from, i)}\n`;
  const last = out.slice(from);
  if (last) text += `${(at(out.length) ?? 0).toFixed(2).padStart(7)} ${last}\n`;
  writeFileSync(join(dir, `${s}-${Date.now()}.console.log`), text);
}

/** Boots once: the seconds to the kernel marker and to the end of each stage. */
async function boot(s: Scenario, net: TestNet, dir: string): Promise<Boot> {
  const started = Date.now();
  const vm = startVm(vmOptions(s, net, dir));
  const clock = consoleClock(vm, started);
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
    await vm.waitFor(MARKER_LINE);
    const seconds = (Date.now() - started) / 1000;
    clock.stop();
    return { seconds, stages: stageTimes(s, vm.console(), clock.at) };
  } finally {
    clock.stop();
    writeConsole(s, vm.console(), clock.at);
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

/** `BENCH_PCAP=<dir>`: the bridge's traffic of each boot, for reading the waits between packets. */
function capture(net: TestNet, name: string): () => void {
  const dir = process.env.BENCH_PCAP;
  if (!dir) return () => {};
  const [cmd, ...args] = [
    ...net.exec,
    'tcpdump',
    '-q',
    '-U',
    '-i',
    'br0',
    '-w',
    join(dir, `${name}-${Date.now()}.pcap`),
  ];
  const c = spawn(cmd as string, args, { stdio: 'ignore' });
  return () => c.kill('SIGTERM');
}

async function withBootherd(s: Scenario): Promise<Boot> {
  const net = createTestNet();
  let server: Awaited<ReturnType<typeof startBootherd>> | undefined;
  let stopCapture = () => {};
  try {
    net.addTap('tap0');
    stopCapture = capture(net, `${s}-bootherd`);
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
    stopCapture();
    await server?.stop();
    if (server && process.env.BENCH_BOOT_LOG)
      writeFileSync(join(process.env.BENCH_BOOT_LOG, `${s}-bootherd-${Date.now()}.server.log`), server.log());
    net.destroy();
  }
}

async function withReference(s: Scenario): Promise<Boot> {
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
  let stopCapture = () => {};
  try {
    net.addTap('tap0');
    stopCapture = capture(net, `${s}-reference`);
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
    stopCapture();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    net.destroy();
  }
}

/** `BENCH_STAGES=1`: when each stage of a boot ended on both sides, and how long the stage itself took. */
function printStages(s: Scenario, run: number, b: Boot, r: Boot): void {
  const f = (t: number | undefined) => (t === undefined ? '-' : t.toFixed(2));
  const own = (stages: (number | undefined)[], i: number) => {
    const t = stages[i];
    const before = stages.slice(0, i).findLast((x) => x !== undefined) ?? 0;
    return t === undefined ? undefined : t - before;
  };
  console.log(`\n${s} run ${run}: seconds since VM start (stage: its own seconds)`);
  console.log(`${'stage ends'.padEnd(22)} ${'bootherd'.padStart(16)} ${'dnsmasq+nginx'.padStart(16)}`);
  [...STAGES[s].map(([name]) => name), 'kernel marker'].forEach((name, i) => {
    const cell = (x: Boot) => `${f(x.stages[i])} (${f(own(x.stages, i))})`.padStart(16);
    console.log(`${name.padEnd(22)} ${cell(b)} ${cell(r)}`);
  });
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_SCENARIOS ?? 'a,b,c,d').split(',') as Scenario[];
  const runs = Math.max(1, Number(process.env.BENCH_RUNS) || 1);
  const rows = new Map<Scenario, [Boot, Boot][]>(only.map((s) => [s, []]));
  for (let run = 1; run <= runs; run++) {
    for (const s of only) {
      const pair: [Boot, Boot] = [await withBootherd(s), await withReference(s)];
      rows.get(s)?.push(pair);
      if (process.env.BENCH_STAGES) printStages(s, run, ...pair);
    }
  }
  console.log(
    `\nbench/boot: seconds from VM start to the kernel marker (QEMU TCG, 2 cores), ${runs} boot(s) each` +
      (runs > 1 ? '; ratio: median of the runs' : ''),
  );
  console.log(
    `${'scenario'.padEnd(52)} ${'bootherd'.padStart(16)} ${'dnsmasq+nginx'.padStart(16)} ${'ratio'.padStart(6)}`,
  );
  for (const [s, pairs] of rows) {
    const list = (i: 0 | 1) => pairs.map((p) => p[i].seconds.toFixed(1)).join(' ');
    const ratios = pairs.map(([b, r]) => b.seconds / r.seconds).sort((x, y) => x - y);
    const mid = (ratios.length - 1) / 2;
    const median = ((ratios[Math.floor(mid)] ?? Number.NaN) + (ratios[Math.ceil(mid)] ?? Number.NaN)) / 2;
    console.log(
      `${`${s}  ${SCENARIOS[s]}`.padEnd(52)} ${list(0).padStart(16)} ${list(1).padStart(16)} ${median.toFixed(2).padStart(6)}`,
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
