/**
 * bench/rss: the resident memory of one `bootherd serve` (full DHCP, TFTP, HTTP) idle, under 1,000 clients at once on
 * each of DHCP, TFTP and HTTP, and after fuzz runs of malformed DHCP and TFTP datagrams. Targets: ≤ 150 MB under load,
 * and flat (≤ +5 MB) across a fuzz run.
 *
 * Everything runs in a test namespace (192.0.2.0/24): bootherd on its bridge, the clients in a second namespace
 * joined to it, sending from 90 addresses (192.0.2.2–91) so TFTP's per-client limit (16) does not queue them.
 * Run as root after `npm run build`: `node --import tsx bench/rss/run.ts`. Env BENCH_FUZZ (datagrams a server a run,
 * default 200000), BENCH_FUZZ_ONLY (dhcp or tftp), BENCH_SERVER_LOG (a file for bootherd's output), BENCH_NODE_FLAGS
 * (more Node/V8 flags for bootherd; `serve` adds its own heap flags, src/cli/serve-flags.ts, unless given here).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTestNet, type TestNet } from '../../test/e2e/lib/netns.ts';
import { fetchTftp } from '../tftp/client.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(import.meta.dirname, '../..');
const SERVER = '192.0.2.1';
const CLIENTS = 1000;
const ADDRESSES = 90;
const FUZZ = Number(process.env.BENCH_FUZZ ?? 200_000);
/** BENCH_SERVER_LOG=<file> keeps bootherd's output and runs it with --trace-gc: its heap after each GC. */
const SERVER_LOG = process.env.BENCH_SERVER_LOG;
const GC_FLAGS = SERVER_LOG ? ['--trace-gc'] : [];
/** BENCH_SNAPSHOTS=<dir>: a heap snapshot of bootherd's main thread after the load and after each fuzz run, there. */
const SNAPSHOTS = process.env.BENCH_SNAPSHOTS;
/** BENCH_SMAPS=1: after each fuzz run, the mappings of bootherd whose resident size grew most since the load. */
const SMAPS = process.env.BENCH_SMAPS === '1';
/** BENCH_TRIM=1: at the end, glibc's malloc_trim(0) in bootherd (through gdb): what RSS is freed heap not given back. */
const TRIM = process.env.BENCH_TRIM === '1';
/** BENCH_NODE_FLAGS: more Node/V8 flags for bootherd (space-separated), e.g. to try a heap setting. */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const SNAPSHOT_FLAGS = SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOTS}`] : [];
/** BENCH_FUZZ_ONLY=dhcp or tftp fuzzes one server alone: to see which one grows. */
const FUZZ_PORTS = { dhcp: [67], tftp: [69] }[process.env.BENCH_FUZZ_ONLY ?? ''] ?? [67, 69];
const SMALL = 70 * 1024;
const addressOf = (i: number) => `192.0.2.${2 + (i % ADDRESSES)}`;

// ---------------------------------------------------------------------------------------------------------------
// Client modes, run inside the clients' namespace.

function discover(i: number): Buffer {
  const b = Buffer.alloc(300);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1; // Ethernet
  b[2] = 6;
  b.writeUInt32BE(0x1000_0000 + i, 4); // xid
  b.writeUInt16BE(0x8000, 10); // broadcast flag
  b.set([0x52, 0x54, 0x00, 0xbe, (i >> 8) & 0xff, i & 0xff], 28);
  b.writeUInt32BE(0x63825363, 236);
  const vendor = Buffer.from('PXEClient:Arch:00000:UNDI:002001');
  b.set([53, 1, 1, 60, vendor.length, ...vendor, 93, 2, 0, 0, 255], 240);
  return b;
}

/** 1,000 DISCOVERs, 1,000 TFTP fetches of 70 KiB and 1,000 GET /boot.ipxe, all at once. */
async function load(): Promise<void> {
  const dhcp = createSocket({ type: 'udp4', reuseAddr: true });
  let offers = 0;
  dhcp.on('message', () => offers++);
  await new Promise<void>((r) => dhcp.bind(68, '0.0.0.0', r));
  dhcp.setBroadcast(true);
  for (let i = 0; i < CLIENTS; i++) dhcp.send(discover(i), 67, '255.255.255.255');
  const [tftp, http] = await Promise.all([
    Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        fetchTftp({
          host: SERVER,
          localAddress: addressOf(i),
          port: 69,
          file: 'small.bin',
          size: SMALL,
          blksize: 1468,
          windowsize: 1,
          deadlineMs: 60_000,
        }),
      ),
    ),
    Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        fetch(`http://${SERVER}:8080/boot.ipxe?mac=52:54:00:be:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`)
          .then((r) => r.arrayBuffer().then(() => r.ok))
          .catch(() => false),
      ),
    ),
  ]);
  await sleep(1000);
  dhcp.close();
  const ok = (xs: boolean[]) => xs.filter(Boolean).length;
  console.log(
    JSON.stringify({
      offers,
      tftpOk: ok(tftp.map((r) => r.ok)),
      httpOk: ok(http),
      tftpError: tftp.find((r) => !r.ok)?.error,
    }),
  );
}

/** After the runs: 50 DISCOVERs answered or not (DHCP still serves real clients), and the drop counters. */
async function after(): Promise<void> {
  const dhcp = createSocket({ type: 'udp4', reuseAddr: true });
  let offers = 0;
  dhcp.on('message', () => offers++);
  await new Promise<void>((r) => dhcp.bind(68, '0.0.0.0', r));
  dhcp.setBroadcast(true);
  for (let i = 0; i < 50; i++) dhcp.send(discover(2000 + i), 67, '255.255.255.255');
  await sleep(2000);
  dhcp.close();
  const metrics = await (await fetch(`http://${SERVER}:8080/metrics`)).text();
  const drops = metrics.split('\n').filter((l) => l.startsWith('bootherd_dhcp_dropped_total'));
  console.log(`offers to 50 DISCOVERs after the fuzz: ${offers}\n${drops.join('\n')}`);
}

/** `count` malformed datagrams to each of DHCP (67) and TFTP (69): random bytes, and real requests mutated. */
async function fuzz(count: number, ports: number[]): Promise<void> {
  const s = createSocket('udp4');
  const rrq = Buffer.from('\x00\x01small.bin\x00octet\x00blksize\x001468\x00tsize\x000\x00', 'latin1');
  const bases = [discover(1), rrq, Buffer.from([0, 4, 0, 1]), Buffer.from('\x00\x05\x00\x08x\x00', 'latin1')];
  const mutate = (): Buffer => {
    const base = bases[Math.floor(Math.random() * bases.length)]!;
    const k = Math.random();
    if (k < 0.3) return randomBytes(Math.floor(Math.random() * 600));
    if (k < 0.6) return base.subarray(0, Math.floor(Math.random() * base.length));
    const b = Buffer.from(base);
    for (let i = 0; i < 4; i++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    return b;
  };
  // Bursts with a pause, so the receiver's socket buffer is not simply overrun: the packets must reach the code.
  for (let i = 0; i < count; i += 200) {
    for (let j = 0; j < 200; j++) {
      for (const port of ports) s.send(mutate(), port, SERVER);
    }
    await sleep(5);
  }
  s.close();
}

// ---------------------------------------------------------------------------------------------------------------
// The parent: bootherd, the namespace, the samples.

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

function runClient(exec: string[], args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...rest] = [...exec, process.execPath, '--import', 'tsx', SELF, ...args];
    const c = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 300_000);
    c.on('error', reject);
    c.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`client ${args[0]} exited ${code}`));
    });
  });
}

/** Newest modification time under a directory (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  return t;
}

/**
 * Resident kB per mapping, from /proc/<pid>/smaps: named ones ([heap], files) by name, anonymous ones by start
 * address (V8's pages, thread stacks and arenas come and go).
 */
function mappings(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let key = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      key = head[3] || `[anon] ${head[1]}`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out.set(key, (out.get(key) ?? 0) + Number(rss[1]));
  }
  return out;
}

/** Resident MB by kind before → after (every anonymous mapping summed), then the mappings that grew most. */
function printGrowth(from: Map<string, number>, to: Map<string, number>): void {
  const kind = (k: string) => (k.startsWith('[anon]') ? '[anon]' : k.startsWith('/') ? 'files' : k);
  const byKind = (m: Map<string, number>) => {
    const sums = new Map<string, number>();
    for (const [k, kb] of m) sums.set(kind(k), (sums.get(kind(k)) ?? 0) + kb);
    return sums;
  };
  const [a, b] = [byKind(from), byKind(to)];
  const mb = (kb = 0) => (kb / 1024).toFixed(1);
  const kinds = [...new Set([...a.keys(), ...b.keys()])].filter((k) => (a.get(k) ?? 0) + (b.get(k) ?? 0) >= 1024);
  console.error(`  by kind, MB: ${kinds.map((k) => `${k} ${mb(a.get(k))} → ${mb(b.get(k))}`).join(', ')}`);
  const grown = [...to].map(([k, kb]) => [k, kb - (from.get(k) ?? 0)] as const).sort((x, y) => y[1] - x[1]);
  for (const [k, kb] of grown.slice(0, 5)) console.error(`  ${mb(kb)} MB more in ${k}`);
}

/** Has bootherd write a heap snapshot (BENCH_SNAPSHOTS) and waits until the file stops growing. */
async function snapshot(server: ChildProcess): Promise<void> {
  if (!SNAPSHOTS) return;
  const files = () => readdirSync(SNAPSHOTS).filter((f) => f.endsWith('.heapsnapshot'));
  const before = files().length;
  server.kill('SIGUSR2');
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    const list = files();
    if (list.length <= before) continue;
    const now = statSync(join(SNAPSHOTS, list.sort().at(-1)!)).size;
    if (now === size && now > 0) return;
    size = now;
  }
}

/** `bootherd serve` from the dist build, as deployed (tsx would add its own ~100 MB), in full DHCP mode with TFTP. */
async function startServer(net: TestNet, dir: string): Promise<ChildProcess> {
  const bin = join(ROOT, 'dist/cli/bin.js');
  if (!existsSync(bin)) throw new Error('dist/ is missing: npm run build');
  if (newest(join(ROOT, 'src')) > newest(join(ROOT, 'dist')) + 1000)
    console.error('bench/rss: warning: src/ is newer than dist/; `npm run build` to measure the current code');
  writeFileSync(join(dir, 'inventory.yaml'), '{}\n');
  writeFileSync(
    join(dir, 'bootherd.yaml'),
    `data_dir: ${dir}/data
inventory: ${dir}/inventory.yaml
http: { listen: ${SERVER}, port: 8080, advertise: "http://${SERVER}:8080", assets: ${dir} }
tftp: { enabled: true, listen: ${SERVER}, roots: [${dir}] }
dhcp:
  mode: full
  interfaces: [br0]
  subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.250] }]
`,
  );
  const [cmd, ...args] = [
    ...net.exec,
    process.execPath,
    ...GC_FLAGS,
    ...SNAPSHOT_FLAGS,
    ...NODE_FLAGS,
    bin,
    'serve',
    '--config',
    join(dir, 'bootherd.yaml'),
  ];
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`bootherd did not start in 30 s:\n${log}`)), 30_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/DHCP\s+full mode/.test(log)) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`bootherd exited (${code}):\n${log}`)));
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  if (SERVER_LOG) {
    const out = createWriteStream(SERVER_LOG);
    child.stdout.pipe(out);
    child.stderr.pipe(out);
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  return child;
}

async function main(): Promise<void> {
  const net = createTestNet({ serverIp: SERVER });
  const root = mkdtempSync(join(tmpdir(), 'bh-bench-rss-'));
  let server: ChildProcess | undefined;
  process.on('exit', () => {
    if (server?.pid !== undefined && server.exitCode === null) server.kill('SIGKILL');
    net.destroy();
    rmSync(root, { recursive: true, force: true });
  });
  try {
    writeFileSync(join(root, 'small.bin'), randomBytes(SMALL));
    server = await startServer(net, root);
    const node = server.pid;
    if (node === undefined) throw new Error('bootherd has no pid');
    const exec = net.addClient('rss', '52:54:00:be:00:01');
    const cns = exec[exec.length - 1]!;
    for (let i = 0; i < ADDRESSES; i++)
      execFileSync('ip', ['-n', cns, 'addr', 'add', `${addressOf(i)}/24`, 'dev', 'eth0']);
    execFileSync('ip', ['-n', cns, 'route', 'add', '255.255.255.255', 'dev', 'eth0']);

    await sleep(3000);
    const rows: [string, number][] = [['idle (after start, 3 s)', rssMb(node)]];
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(node));
    }, 50);
    const loaded = await runClient(exec, ['--load']);
    clearInterval(sampler);
    rows.push([`peak under ${CLIENTS} DHCP + ${CLIENTS} TFTP + ${CLIENTS} HTTP clients at once`, peak]);
    await sleep(3000);
    rows.push(['after the load (3 s later)', rssMb(node)]);
    await snapshot(server);
    const loadedMaps = SMAPS ? mappings(node) : undefined;
    // The highest RSS while the fuzz runs go on: what the "after" rows, taken 3 s later, can miss.
    let fuzzPeak = 0;
    const fuzzSampler = setInterval(() => {
      fuzzPeak = Math.max(fuzzPeak, rssMb(node));
    }, 50);
    for (const run of [1, 2, 3]) {
      await runClient(exec, ['--fuzz', String(FUZZ), FUZZ_PORTS.join(',')]);
      await sleep(3000);
      const to = FUZZ_PORTS.map((p) => (p === 67 ? 'DHCP' : 'TFTP')).join(' and ');
      rows.push([`after fuzz run ${run}: ${FUZZ} malformed datagrams each to ${to}`, rssMb(node)]);
      if (loadedMaps) {
        console.error(`bench/rss: after fuzz run ${run}, mappings grown since the load:`);
        printGrowth(loadedMaps, mappings(node));
      }
      await snapshot(server);
    }
    clearInterval(fuzzSampler);
    rows.push(['highest during the three fuzz runs', fuzzPeak]);
    const checked = await runClient(exec, ['--after']);
    if (TRIM) {
      execFileSync('gdb', ['-p', String(node), '-batch', '-ex', 'call (int) malloc_trim(0)'], { stdio: 'ignore' });
      rows.push(['after malloc_trim(0) (freed C heap given back)', rssMb(node)]);
    }
    const at = (i: number) => rows[i]![1];
    console.log(
      `\nbench/rss ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, bootherd serve (dist build)`,
    );
    console.log(`load: ${loaded}\n${checked}\n`);
    console.log('| step | bootherd RSS |\n| --- | --- |');
    for (const [name, mb] of rows) console.log(`| ${name} | ${mb.toFixed(1)} MB |`);
    const deltas = [3, 4, 5].map((i) => at(i) - at(i - 1));
    console.log(
      `\npeak ${peak.toFixed(1)} MB (target ≤ 150): ${peak <= 150 ? 'met' : 'NOT met'}; ` +
        `fuzz runs ${deltas.map((d) => `${d >= 0 ? '+' : ''}${d.toFixed(1)} MB`).join(', ')} ` +
        `(target ≤ +5 each): ${deltas.every((d) => d <= 5) ? 'met' : 'NOT met'}`,
    );
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
  }
}

const mode = process.argv[2];
const run =
  mode === '--load'
    ? load()
    : mode === '--after'
      ? after()
      : mode === '--fuzz'
        ? fuzz(Number(process.argv[3]), (process.argv[4] ?? '').split(',').map(Number))
        : main();
run.then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench/rss failed: ${err.message}`);
    process.exit(1);
  },
);
