/**
 * bench/http: bootherd's boot HTTP service beside nginx serving the same bytes, in one run, on loopback. nginx runs as
 * an operator runs it for speed: `worker_processes auto` (one worker per core), `sendfile on`, `tcp_nopush on`.
 *
 * Rows (issue 12's targets):
 * - whole: one client GETs a 256 MiB asset again and again (MB/s)
 * - range: 1 MiB Range GETs walking through the file on one keep-alive connection, as iPXE's sanboot reads an ISO
 * - parallel: 100 clients (curl --parallel) each pull a 64 MiB asset at once: aggregate MB/s and failed transfers
 * - script: per-machine iPXE scripts, wrk -c64 over 1000 machines; bootherd renders each from the live inventory and
 *   records an event (counted in its store after the row), nginx serves the same bytes as 1000 static files.
 *
 * Run: `npm run build && npm run bench:http` (needs nginx, wrk, curl: apt-get install nginx-light wrk curl).
 * Env: BENCH_SECONDS (default 5) per wrk row; BENCH_ONLY=whole,range,parallel,script; BENCH_CPU_PROF=<dir> runs
 * bootherd under --cpu-prof and prints its heaviest functions; BENCH_FLOOR=1 measures floor.ts's bare `node:http` server
 * in the script row too (the same bytes from memory: one Node event loop's ceiling here, not judged).
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
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { printSelfTimes } from '../api/cpuprofile-top.ts';
import {
  curlParallel,
  type Measure,
  perRequestByThread,
  type Row,
  ratioLine,
  threadCpu,
  waitHttp,
  withCpu,
  wrk,
} from './measure.ts';
import { luaPaths, MACHINES, macOf, scriptPath, scriptRowInventory } from './script-row.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'whole,range,parallel,script').split(','));
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const FLOOR = process.env.BENCH_FLOOR === '1';
const FLOOR_PORT = 18482;
const BIG_MB = 256;
const PARALLEL_MB = 64;
const CLIENTS = 100;
const BOOTHERD_PORT = 18480;
const NGINX_PORT = 18481;

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'bh-bench-http-'));
// nginx's workers run as nobody: let them into the files they serve.
chmodSync(dir, 0o755);
const children: ChildProcess[] = [];
// SIGTERM, not SIGKILL: nginx's master stops its workers on TERM, a killed master leaves them running.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function need(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed: apt-get install -y nginx-light wrk curl`);
  }
}

function writeAsset(path: string, mb: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < mb; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
}

/** A wrk script that Range-reads `size` bytes in 1 MiB steps on one connection. */
function luaRanges(file: string, size: number): void {
  writeFileSync(
    file,
    `local size = ${size}\nlocal step = 1048576\nlocal pos = 0\n` +
      'request = function()\n  local h = { Range = "bytes=" .. pos .. "-" .. (pos + step - 1) }\n' +
      '  pos = pos + step\n  if pos + step > size then pos = 0 end\n  return wrk.format("GET", nil, h)\nend\n',
  );
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
}

async function startBootherd(config: string, profile: boolean): Promise<ChildProcess> {
  const built = existsSync(join(root, 'dist/cli/bin.js'));
  if (!built) throw new Error('no dist build: run `npm run build` first');
  const child = spawn(
    process.execPath,
    [
      ...(profile && CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : []),
      join(root, 'dist/cli/bin.js'),
      'serve',
      '-c',
      config,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: root },
  );
  children.push(child);
  await waitHttp(`http://127.0.0.1:${BOOTHERD_PORT}/healthz`);
  return child;
}

/** The script row against floor.ts's bare server (same bytes, same wrk script as bootherd's): one line, not judged. */
async function floorRow(scripts: string, lua: string, bootherd: Measure, nginx: Measure): Promise<string> {
  const floor = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'bench/http/floor.ts'), String(FLOOR_PORT), scripts],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      cwd: root,
    },
  );
  children.push(floor);
  const url = `http://127.0.0.1:${FLOOR_PORT}`;
  await waitHttp(`${url}${scriptPath(0)}`);
  wrk(`${url}/`, { connections: 64, seconds: 2, script: lua });
  const f = await withCpu(floor.pid!, () => wrk(`${url}/`, { connections: 64, seconds: SECONDS, script: lua }));
  await stop(floor);
  const us = ((f.cpuS ?? 0) / f.requests) * 1e6;
  return (
    `floor (a bare node:http server, the same bytes from memory, not judged): ${Math.round(f.rps)} req/s, ` +
    `p99 ${f.p99ms.toFixed(2)} ms, ${us.toFixed(0)} µs CPU/req${f.errors ? `, ${f.errors} failed` : ''}; ` +
    `floor/nginx ${(f.rps / nginx.rps).toFixed(2)}, bootherd/floor ${(bootherd.rps / f.rps).toFixed(2)}`
  );
}

function startNginx(assets: string): ChildProcess {
  const ng = join(dir, 'nginx');
  mkdirSync(join(ng, 'logs'), { recursive: true });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${ng};\n`).join('');
  writeFileSync(
    join(ng, 'nginx.conf'),
    `daemon off;\nworker_processes auto;\nerror_log stderr warn;\npid ${ng}/nginx.pid;\n` +
      'events { worker_connections 4096; }\n' +
      `http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n${temp}` +
      `  server {\n    listen 127.0.0.1:${NGINX_PORT};\n    location /assets/ { alias ${assets}/; }\n  }\n}\n`,
  );
  const child = spawn('nginx', ['-p', ng, '-c', join(ng, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function main(): Promise<void> {
  for (const t of ['nginx', 'wrk', 'curl']) need(t);
  const assets = join(dir, 'assets');
  mkdirSync(join(assets, 'debian'), { recursive: true });
  mkdirSync(join(assets, 'scripts'), { recursive: true });
  writeFileSync(join(assets, 'debian', 'linux'), 'kernel');
  writeFileSync(join(assets, 'debian', 'initrd.gz'), 'initrd');
  if (ONLY.has('whole') || ONLY.has('range')) writeAsset(join(assets, 'big.iso'), BIG_MB);
  if (ONLY.has('parallel')) writeAsset(join(assets, 'pull.iso'), PARALLEL_MB);
  const base = `http://127.0.0.1:${BOOTHERD_PORT}`;
  const ng = `http://127.0.0.1:${NGINX_PORT}`;
  writeFileSync(join(dir, 'inventory.yaml'), scriptRowInventory());
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(
    config,
    `data_dir: data\ninventory: inventory.yaml\nlog: { level: warn }\n` +
      `http: { listen: 127.0.0.1, port: ${BOOTHERD_PORT}, advertise: "${base}", assets: assets, tls: { enabled: false } }\n`,
  );
  // The inventory apply and the script copies for nginx happen in a first process; the measured one (profiled with
  // BENCH_CPU_PROF) starts on the same store without the inventory file, so its profile holds only the rows.
  let bootherd = await startBootherd(config, false);
  if (ONLY.has('script')) {
    for (let i = 0; i < MACHINES; i++) {
      const text = await (await fetch(`${base}${scriptPath(i)}`)).text();
      writeFileSync(join(assets, 'scripts', `${macOf(i).replace(/:/g, '-')}.ipxe`), text);
    }
  }
  await stop(bootherd);
  writeFileSync(config, readFileSync(config, 'utf8').replace(/^inventory: .*\n/m, ''));
  bootherd = await startBootherd(config, Boolean(CPU_PROF));
  const nginx = startNginx(assets);
  const bp = bootherd.pid!;
  const np = nginx.pid!;
  await waitHttp(`${ng}/assets/debian/linux`);

  const rows: Row[] = [];
  const loadBefore = loadavg()[0]!;
  if (ONLY.has('whole')) {
    const b = await withCpu(bp, () => wrk(`${base}/assets/big.iso`, { connections: 1, seconds: SECONDS }));
    const n = await withCpu(np, () => wrk(`${ng}/assets/big.iso`, { connections: 1, seconds: SECONDS }));
    rows.push({ name: `${BIG_MB} MiB asset, whole GET, 1 client`, metric: 'MB/s', b, n, target: 0.8 });
  }
  if (ONLY.has('range')) {
    const lua = join(dir, 'ranges.lua');
    luaRanges(lua, statSync(join(assets, 'big.iso')).size);
    // wrk counts any 2xx as success: check once that both answer a Range with 206 and exactly the range.
    for (const u of [base, ng]) {
      const r = await fetch(`${u}/assets/big.iso`, { headers: { range: 'bytes=1048576-2097151' } });
      const len = (await r.arrayBuffer()).byteLength;
      if (r.status !== 206 || len !== 1 << 20) throw new Error(`${u}: Range answered ${r.status} with ${len} bytes`);
    }
    const b = await withCpu(bp, () => wrk(`${base}/assets/big.iso`, { connections: 1, seconds: SECONDS, script: lua }));
    const n = await withCpu(np, () => wrk(`${ng}/assets/big.iso`, { connections: 1, seconds: SECONDS, script: lua }));
    rows.push({ name: '1 MiB Range GETs, 1 keep-alive connection', metric: 'MB/s', b, n, target: 0.8 });
  }
  if (ONLY.has('parallel')) {
    const bytes = PARALLEL_MB << 20;
    const b = await withCpu(bp, () => curlParallel(`${base}/assets/pull.iso`, CLIENTS, bytes));
    const n = await withCpu(np, () => curlParallel(`${ng}/assets/pull.iso`, CLIENTS, bytes));
    rows.push({ name: `${CLIENTS} clients × ${PARALLEL_MB} MiB at once`, metric: 'MB/s', b, n, target: 0.8 });
  }
  let eventsNote = '';
  if (ONLY.has('script')) {
    const db = new SQLite(join(dir, 'data', 'bootherd.db'), { readonly: true });
    const count = db.prepare("SELECT count(*) AS n FROM boot_events WHERE stage = 'http'").pluck();
    const luaB = join(dir, 'scripts-b.lua');
    const luaN = join(dir, 'scripts-n.lua');
    luaPaths(
      luaB,
      Array.from({ length: MACHINES }, (_, i) => scriptPath(i)),
    );
    luaPaths(
      luaN,
      Array.from({ length: MACHINES }, (_, i) => `/assets/scripts/${macOf(i).replace(/:/g, '-')}.ipxe`),
    );
    // A fresh Node process spends its first seconds compiling the hot path (its p99 over 5 s was 300 ms cold, 14–21
    // ms warm); a server runs for days: warm both up, unmeasured.
    wrk(`${base}/`, { connections: 64, seconds: 2, script: luaB });
    wrk(`${ng}/`, { connections: 64, seconds: 2, script: luaN });
    await sleep(500);
    const before = count.get() as number;
    const threadsBefore = threadCpu(bp);
    const b = await withCpu(bp, () => wrk(`${base}/`, { connections: 64, seconds: SECONDS, script: luaB }));
    const threads = perRequestByThread(threadsBefore, threadCpu(bp), b.requests);
    // Events are written in batches: give the last one time to land before counting.
    await sleep(500);
    const recorded = (count.get() as number) - before;
    db.close();
    const n = await withCpu(np, () => wrk(`${ng}/`, { connections: 64, seconds: SECONDS, script: luaN }));
    rows.push({ name: 'per-machine script, wrk -c64', metric: 'req/s', b, n, target: 0.5, p99TargetMs: 10 });
    eventsNote = `script row: ${b.requests} responses from bootherd, ${recorded} boot events recorded in its store during the row; µs of CPU a request by thread: ${threads}.`;
    if (FLOOR) eventsNote += `\n${await floorRow(join(assets, 'scripts'), luaB, b, n)}`;
  }

  if (CPU_PROF) {
    const before = existsSync(CPU_PROF) ? new Set(readdirSync(CPU_PROF)) : new Set<string>();
    await stop(bootherd);
    for (const f of readdirSync(CPU_PROF).filter((x) => x.endsWith('.cpuprofile') && !before.has(x)))
      printSelfTimes(join(CPU_PROF, f));
  }

  const date = new Date().toISOString().slice(0, 10);
  console.log(
    `\n### bench/http, ${date}: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}, ` +
      `dist build${CPU_PROF ? ' under --cpu-prof' : ''}; nginx worker_processes auto, sendfile, tcp_nopush; ` +
      `wrk -t1 ${SECONDS} s a row; load ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after\n`,
  );
  console.log('| case | bootherd | nginx | bootherd/nginx | target |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(ratioLine(r));
  if (eventsNote) console.log(`\n${eventsNote}`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench/http failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
