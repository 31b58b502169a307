/**
 * bench/http: bootherd's HTTP service beside nginx serving the same files, in one run, on loopback.
 *
 * - script: a per-machine iPXE script. bootherd renders it from the inventory per request (store lookup, policy,
 *   builder); nginx serves the same script pre-rendered as a static file — the upper bound a PHP script behind it
 *   could never beat.
 * - asset: a large file, whole and as 1 MiB Range requests (sanboot's access pattern).
 * Both servers get one core: bootherd is one Node process, nginx runs `worker_processes 1`.
 * Run: `npm run bench:http` (needs nginx and wrk: apt-get install nginx-light wrk). Env BENCH_SECONDS (default 5).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ASSET_MB = Number(process.env.BENCH_ASSET_MB ?? 256);
const BOOTHERD_PORT = 18480;
const NGINX_PORT = 18481;
const MAC = '52:54:00:12:34:56';

const dir = mkdtempSync(join(tmpdir(), 'bh-bench-http-'));
// nginx's worker runs as nobody: let it into the files it serves.
chmodSync(dir, 0o755);
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

function need(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed: apt-get install -y nginx-light wrk`);
  }
}

function writeAsset(path: string, mb: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < mb; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

interface WrkResult {
  rps: number;
  mbps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

function wrk(url: string, connections: number, header?: string): WrkResult {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${SECONDS}s`,
    '--timeout',
    '30s',
    '--latency',
    ...(header ? ['-H', header] : []),
    url,
  ];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = { B: 1 / 2 ** 20, KB: 1 / 1024, MB: 1, GB: 1024 }[transfer?.[2] ?? 'MB'] ?? 1;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    mbps: Number(transfer?.[1] ?? Number.NaN) * unit,
    p50ms: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99ms: ms(/99%\s+([\d.]+)(us|ms|s)/),
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

async function main(): Promise<void> {
  need('nginx');
  need('wrk');
  const assets = join(dir, 'assets');
  mkdirSync(join(assets, 'debian'), { recursive: true });
  writeFileSync(join(assets, 'debian', 'linux'), 'kernel');
  writeFileSync(join(assets, 'debian', 'initrd.gz'), 'initrd');
  writeAsset(join(assets, 'big.iso'), ASSET_MB);
  const base = `http://127.0.0.1:${BOOTHERD_PORT}`;
  writeFileSync(
    join(dir, 'inventory.yaml'),
    `profiles:\n  - name: debian\n    kernel: debian/linux\n    initrds: [debian/initrd.gz]\n    cmdline: auto=true hostname={{hostname}} url={{base_url}}/assets/preseed/{{machine_id}}.cfg\n` +
      `machines:\n  - id: web1\n    macs: ["${MAC}"]\n    hostname: web1\n    profile: debian\n`,
  );
  writeFileSync(
    join(dir, 'bootherd.yaml'),
    `data_dir: data\ninventory: inventory.yaml\nlog: { level: warn }\nhttp: { listen: 127.0.0.1, port: ${BOOTHERD_PORT}, advertise: "${base}", assets: assets, tls: { enabled: false } }\n`,
  );
  const root = resolve(import.meta.dirname, '../..');
  const built = existsSync(join(root, 'dist/cli/bin.js'));
  const bootherd = spawn(
    process.execPath,
    built
      ? [join(root, 'dist/cli/bin.js'), 'serve', '-c', join(dir, 'bootherd.yaml')]
      : ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'serve', '-c', join(dir, 'bootherd.yaml')],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      cwd: root,
    },
  );
  children.push(bootherd);
  const scriptPath = `/ipxe?mac=${MAC.replace(/:/g, '-')}&platform=pcbios&buildarch=i386`;
  await waitHttp(`${base}/healthz`);
  // nginx serves bootherd's own rendered script as a static file: same bytes, no rendering.
  const rendered = await (await fetch(`${base}${scriptPath}`)).text();
  writeFileSync(join(assets, 'web1.ipxe'), rendered);
  mkdirSync(join(dir, 'nginx', 'logs'), { recursive: true });
  writeFileSync(
    join(dir, 'nginx', 'nginx.conf'),
    `daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log stderr warn;\npid ${dir}/nginx/nginx.pid;\nevents { worker_connections 1024; }\n` +
      `http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n  client_body_temp_path ${dir}/nginx;\n  proxy_temp_path ${dir}/nginx;\n  fastcgi_temp_path ${dir}/nginx;\n  uwsgi_temp_path ${dir}/nginx;\n  scgi_temp_path ${dir}/nginx;\n` +
      `  server {\n    listen 127.0.0.1:${NGINX_PORT};\n    location /assets/ { alias ${assets}/; }\n  }\n}\n`,
  );
  const nginx = spawn('nginx', ['-p', join(dir, 'nginx'), '-c', join(dir, 'nginx', 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(nginx);
  const ng = `http://127.0.0.1:${NGINX_PORT}`;
  await waitHttp(`${ng}/assets/web1.ipxe`);

  const rows: [string, WrkResult, WrkResult, 'rps' | 'mbps'][] = [];
  const run = (name: string, b: string, n: string, conns: number, metric: 'rps' | 'mbps', header?: string) => {
    const rb = wrk(`${base}${b}`, conns, header);
    const rn = wrk(`${ng}${n}`, conns, header);
    rows.push([name, rb, rn, metric]);
  };
  run('per-machine script (req/s)', scriptPath, '/assets/web1.ipxe', 32, 'rps');
  run(`${ASSET_MB} MiB asset, whole (MB/s)`, '/assets/big.iso', '/assets/big.iso', 4, 'mbps');
  run('1 MiB Range requests (MB/s)', '/assets/big.iso', '/assets/big.iso', 4, 'mbps', 'Range: bytes=33554432-34603007');

  const fmt = (r: WrkResult, m: 'rps' | 'mbps') =>
    `${(m === 'rps' ? r.rps : r.mbps).toFixed(0).padStart(8)} p50 ${r.p50ms.toFixed(2)} ms p99 ${r.p99ms.toFixed(2)} ms err ${r.errors}`;
  console.log(
    `\nbench/http: ${SECONDS} s per case, wrk -t1, loopback, one core each (${built ? 'dist build' : 'tsx'})`,
  );
  console.log(`${'case'.padEnd(32)} ${'bootherd'.padEnd(44)} ${'nginx'.padEnd(44)} bootherd/nginx`);
  for (const [name, b, n, m] of rows) {
    const ratio = (m === 'rps' ? b.rps / n.rps : b.mbps / n.mbps).toFixed(2);
    console.log(`${name.padEnd(32)} ${fmt(b, m).padEnd(44)} ${fmt(n, m).padEnd(44)} ${ratio}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench/http failed: ${err.message}`);
    process.exit(1);
  },
);
