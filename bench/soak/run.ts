/**
 * bench/soak: one bootherd under steady booting for an hour. A few hundred simulated machines (bench/soak/load.ts,
 * behind a relay) each boot in a loop — DHCP DORA, the iPXE binary over TFTP, the per-machine script over HTTP —
 * and every few minutes a QEMU VM (SeaBIOS + iPXE) boots the payload for real. Samples the server's RSS, open file
 * descriptors and database size every 10 s; prints each minute's p99 per step, then start/peak/end of each sample
 * and whether the run had any error. The boot log is trimmed by `log.keep_events` (BENCH_KEEP_EVENTS).
 *
 * Run as root: `npm run bench:soak -- --minutes 60`. Env: BENCH_MACHINES (240 at most, one /24 of leases), BENCH_PERIOD (10 s between one
 * machine's boots), BENCH_VM_EVERY (10 minutes), BENCH_KEEP_EVENTS (20000). Needs the e2e packages (qemu, ipxe) and
 * `npm run build` (the dist build is measured).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { createTestNet } from '../../test/e2e/lib/netns.ts';
import { linkPayload, MARKER } from '../../test/e2e/lib/payload.ts';
import { startVm } from '../../test/e2e/lib/qemu.ts';
import { builtBootherd } from '../lib/build.ts';
import { fleetYaml, mac } from '../lib/fleet.ts';
import type { LoadPlan, StepWindow } from './load.ts';

const arg = process.argv.indexOf('--minutes');
const MINUTES = Number(arg > 0 ? process.argv[arg + 1] : (process.env.BENCH_MINUTES ?? 60));
// The relayed clients' subnet is 203.0.113.0/24 (their leased addresses are configured in the relay's namespace).
const MACHINES = Math.min(240, Number(process.env.BENCH_MACHINES ?? 240));
const PERIOD_S = Number(process.env.BENCH_PERIOD ?? 10);
const VM_EVERY_MIN = Number(process.env.BENCH_VM_EVERY ?? 10);
const KEEP_EVENTS = Number(process.env.BENCH_KEEP_EVENTS ?? 20_000);
const ROOT = resolve(import.meta.dirname, '../..');
const SERVER = '192.0.2.1';
const RELAY = '198.51.100.1';
const VM_MAC = '52:54:00:fe:00:01';
const TFTP_FILE = 'undionly.kpxe';

const dir = mkdtempSync(join(tmpdir(), 'bh-bench-soak-'));
const net = createTestNet({ serverIp: SERVER });
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  net.destroy();
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
const node = [process.execPath, '--import', 'tsx'];
const bootherd = builtBootherd('bench/soak').argv;

function inventory(): string {
  const fleet = fleetYaml(MACHINES).replace(
    'profiles:\n',
    'profiles:\n  - name: tiny-linux\n    kernel: linux/vmlinuz\n    initrds: [linux/initrd.gz]\n    cmdline: console=ttyS0 panic=-1\n',
  );
  return `${fleet}  - { id: soak-vm, macs: ["${VM_MAC}"], profile: tiny-linux }\n`;
}

async function startServer(): Promise<ChildProcess> {
  writeFileSync(join(dir, 'inventory.yaml'), inventory());
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(
    config,
    `data_dir: data\ninventory: inventory.yaml\nlog: { level: warn, keep_events: ${KEEP_EVENTS} }\ntftp: { enabled: true }\n` +
      `http: { listen: ${SERVER}, port: 8080, advertise: "http://${SERVER}:8080", assets: assets }\n` +
      'dhcp:\n  mode: full\n  interfaces: [br0]\n  subnets:\n' +
      '    - { subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }\n' +
      `    - { subnet: 203.0.113.0/24, range: [203.0.113.10, 203.0.113.250], relay_addresses: [${RELAY}] }\n`,
  );
  linkPayload(dir);
  const [cmd, ...args] = [...net.exec, ...bootherd, 'serve', '--config', config];
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (c: Buffer) => {
    log = (log + c.toString()).slice(-20_000);
  });
  for (let i = 0; i < 120 && !existsSync(join(dir, 'data', 'bootherd.db')); i++) await sleep(250);
  await sleep(3000);
  if (child.exitCode !== null) throw new Error(`bootherd exited: ${log}`);
  child.on('exit', (code) => {
    if (code) process.stderr.write(`bootherd exited ${code}:\n${log}\n`);
  });
  return child;
}

interface Sample {
  at: number;
  rssMb: number;
  fds: number;
  dbMb: number;
}

function sample(pid: number, t0: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const fds = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) !== '';
    } catch {
      return false;
    }
  }).length;
  const db = ['bootherd.db', 'bootherd.db-wal']
    .map((f) => join(dir, 'data', f))
    .reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
  return { at: (Date.now() - t0) / 1000, rssMb: rssKb / 1024, fds, dbMb: db / 2 ** 20 };
}

async function vmBoot(n: number): Promise<{ ok: boolean; seconds: number; error?: string }> {
  const tap = net.addTap(`soak${n}`);
  const t0 = Date.now();
  const vm = startVm({
    exec: net.exec,
    tap,
    mac: VM_MAC,
    romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
    deadlineMs: 300_000,
  });
  try {
    await vm.waitFor(new RegExp(`${MARKER} cmdline=`));
    return { ok: true, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    return { ok: false, seconds: (Date.now() - t0) / 1000, error: (err as Error).message.slice(0, 2000) };
  } finally {
    vm.kill();
    await vm.exited;
  }
}

async function main(): Promise<void> {
  const server = await startServer();
  const relay = net.addRelay('relay', '02:00:00:00:00:99', ['192.0.2.2/24', `${RELAY}/24`], '198.51.100.0/24');
  // The booted machines' own addresses live behind the relay too.
  execFileSync('ip', ['-n', net.ns, 'route', 'add', '203.0.113.0/24', 'via', '192.0.2.2']);
  const plan: LoadPlan = {
    server: SERVER,
    relay: RELAY,
    httpPort: 8080,
    tftpFile: TFTP_FILE,
    tftpSize: statSync(join('/usr/lib/ipxe', TFTP_FILE)).size,
    macs: Array.from({ length: MACHINES }, (_, i) => mac(i)),
    periodS: PERIOD_S,
    minutes: MINUTES,
    windowS: 60,
  };
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
  const t0 = Date.now();
  const load = spawn(
    relay[0]!,
    [...relay.slice(1), ...node, join(ROOT, 'bench/soak/load.ts'), join(dir, 'plan.json')],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(load);
  const windows: Record<string, StepWindow>[] = [];
  createInterface({ input: load.stdout! }).on('line', (l) => {
    const w = JSON.parse(l) as Record<string, StepWindow>;
    windows.push(w);
    const f = (s: StepWindow) => `${s.count} ok ${s.failed} failed p99 ${ms(s.p99)}`;
    console.log(`minute ${windows.length}: dhcp ${f(w.dhcp!)}; tftp ${f(w.tftp!)}; http ${f(w.http!)}`);
  });
  const loadDone = new Promise((r) => load.once('exit', r));
  const samples: Sample[] = [];
  const sampler = setInterval(() => samples.push(sample(server.pid!, t0)), 10_000);
  samples.push(sample(server.pid!, t0));
  const vms: Awaited<ReturnType<typeof vmBoot>>[] = [];
  // A VM a minute in, then every VM_EVERY minutes, none in the last two minutes.
  for (let m = 1, n = 0; m <= MINUTES - 2 || n === 0; m += VM_EVERY_MIN, n++) {
    await sleep(Math.max(0, t0 + m * 60_000 - Date.now()));
    const r = await vmBoot(n);
    vms.push(r);
    console.log(`VM boot ${n + 1}: ${r.ok ? `payload in ${r.seconds.toFixed(0)} s` : `FAILED: ${r.error}`}`);
  }
  await loadDone;
  clearInterval(sampler);
  // The last sample under load is the run's end; this one, after the clients stopped, shows what is let go.
  const idle = sample(server.pid!, t0);
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  report(samples, idle, windows, vms, server.exitCode);
}

/** A p99 (null in JSON when a window had no sample). */
const ms = (v: number | null) => (v === null || Number.isNaN(v) ? '-' : `${v.toFixed(1)} ms`);

function report(
  samples: Sample[],
  idle: Sample,
  windows: Record<string, StepWindow>[],
  vms: { ok: boolean }[],
  exit: number | null,
) {
  const db = new SQLite(join(dir, 'data', 'bootherd.db'), { readonly: true });
  const events = (db.prepare('select count(*) as n from boot_events').get() as { n: number }).n;
  db.close();
  // "start" is the first sample a minute in: after start-up, the first leases and the JIT's warm-up.
  const start = samples.find((s) => s.at >= 60) ?? samples[0]!;
  const row = (name: keyof Sample, unit: string) => {
    const v = samples.map((s) => s[name]);
    const f = (x: number) => `${x.toFixed(1)} ${unit}`;
    console.log(`| ${name} | ${f(start[name])} | ${f(Math.max(...v))} | ${f(v.at(-1)!)} | ${f(idle[name])} |`);
  };
  console.log(`\nsoak: ${MINUTES} min, ${MACHINES} machines booting every ${PERIOD_S} s, keep_events ${KEEP_EVENTS}`);
  console.log('| sample | start (1 min) | peak | end (under load) | after the load |\n| --- | --- | --- | --- | --- |');
  row('rssMb', 'MB');
  row('fds', '');
  row('dbMb', 'MB');
  // Every tenth minute, so a slow climb shows as a slope and not only as a peak.
  const step = Math.max(1, Math.round(MINUTES / 6));
  const marks = samples.filter((x, i) => i === samples.length - 1 || Math.floor(x.at / 60) % step === 0);
  const seen = new Set<number>();
  console.log('\n| minute | RSS MB | fds | database MB |\n| --- | --- | --- | --- |');
  for (const x of marks) {
    const minute = Math.floor(x.at / 60);
    if (seen.has(minute)) continue;
    seen.add(minute);
    console.log(`| ${minute} | ${x.rssMb.toFixed(1)} | ${x.fds} | ${x.dbMb.toFixed(1)} |`);
  }
  const full = windows.slice(1, -1);
  const failed = windows.reduce((n, w) => n + w.dhcp!.failed + w.tftp!.failed + w.http!.failed, 0);
  const boots = windows.reduce((n, w) => n + w.http!.count, 0);
  console.log(
    '\n| step | p99 first full minute | p99 last full minute | worst minute p99 |\n| --- | --- | --- | --- |',
  );
  for (const step of ['dhcp', 'tftp', 'http']) {
    const p = full.map((w) => w[step]!.p99);
    if (!p.length) continue;
    console.log(`| ${step} | ${ms(p[0]!)} | ${ms(p.at(-1)!)} | ${ms(Math.max(...p))} |`);
  }
  const vmOk = vms.filter((v) => v.ok).length;
  console.log(
    `\n${boots} simulated boots, ${failed} failed steps; ${vmOk}/${vms.length} VM boots reached the payload; ` +
      `${events} events in the boot log at the end (keep ${KEEP_EVENTS}); bootherd exited ${exit}`,
  );
  console.log(failed === 0 && vmOk === vms.length && exit === 0 ? 'no error' : 'ERRORS: see above');
}

await main();
