/**
 * bench/http/paired: the script row for two builds of bootherd, side by side. On this VM the pace moves by tens of
 * percent between minutes, more than most changes to the script path; two servers running at once (each on its own
 * store, the script row's 1000 machines) and measured in alternating short wrk rounds see the same minutes, so the
 * means of their rounds compare where two separate bench/http runs do not.
 *
 * Run: `npm run build && BENCH_BASELINE=<another checkout, built> node --import tsx bench/http/paired.ts`.
 * Env: BENCH_ROUNDS (default 8) rounds a build, BENCH_SECONDS (default 3) a round. Prints each round (req/s, µs of
 * event-loop CPU and of all threads a request, p99) and the means.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { threadCpu, waitHttp, wrk } from './measure.ts';
import { luaPaths, MACHINES, scriptPath, scriptRowInventory } from './script-row.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
if (!process.env.BENCH_BASELINE) throw new Error('BENCH_BASELINE=<another checkout, built> is required');

const dir = mkdtempSync(join(tmpdir(), 'bh-bench-paired-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const lua = join(dir, 'scripts.lua');
luaPaths(
  lua,
  Array.from({ length: MACHINES }, (_, i) => scriptPath(i)),
);

async function start(name: string, root: string, port: number): Promise<{ name: string; pid: number; url: string }> {
  const home = join(dir, name);
  mkdirSync(join(home, 'assets'), { recursive: true });
  writeFileSync(join(home, 'inventory.yaml'), scriptRowInventory());
  writeFileSync(
    join(home, 'bootherd.yaml'),
    'data_dir: data\ninventory: inventory.yaml\nlog: { level: warn }\ntftp: { enabled: false }\n' +
      `http: { listen: 127.0.0.1, port: ${port}, advertise: "http://127.0.0.1:${port}", assets: assets, tls: { enabled: false } }\n`,
  );
  const child = spawn(process.execPath, [join(root, 'dist/cli/bin.js'), 'serve', '-c', 'bootherd.yaml'], {
    cwd: home,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`);
  return { name, pid: child.pid!, url };
}

const builds = [
  await start('this build', resolve(import.meta.dirname, '../..'), 18490),
  await start('baseline', resolve(process.env.BENCH_BASELINE), 18491),
];
// Warm both (a fresh process compiles its hot path in its first seconds).
for (const b of builds) wrk(`${b.url}/`, { connections: 64, seconds: 2, script: lua });
const sums = new Map(builds.map((b) => [b.name, { main: 0, all: 0, rps: 0 }]));
console.log(`bench/http/paired: ${ROUNDS} rounds of ${SECONDS} s a build, wrk -t1 -c64, ${MACHINES} machines`);
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always follows the other's load.
  for (const b of round % 2 ? [...builds].reverse() : builds) {
    const before = threadCpu(b.pid);
    const m = wrk(`${b.url}/`, { connections: 64, seconds: SECONDS, script: lua });
    const after = threadCpu(b.pid);
    const us = (s: number) => (s * 1e6) / m.requests;
    const main = us((after.get('main') ?? 0) - (before.get('main') ?? 0));
    const all = us([...after].reduce((a, [k, v]) => a + v - (before.get(k) ?? 0), 0));
    const sum = sums.get(b.name)!;
    sum.main += main;
    sum.all += all;
    sum.rps += m.rps;
    console.log(
      `${b.name.padEnd(10)} ${Math.round(m.rps)} req/s, event loop ${main.toFixed(1)} µs, all threads ${all.toFixed(1)} µs a request, p99 ${m.p99ms.toFixed(1)} ms${m.errors ? `, ${m.errors} errors` : ''}`,
    );
  }
}
for (const [name, s] of sums)
  console.log(
    `mean, ${name.padEnd(10)}: ${Math.round(s.rps / ROUNDS)} req/s, event loop ${(s.main / ROUNDS).toFixed(1)} µs, all threads ${(s.all / ROUNDS).toFixed(1)} µs a request`,
  );
