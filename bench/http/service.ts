/**
 * bench/http/service: what the script row's per-machine work costs without HTTP. The dist build's core (the same
 * composition as `bootherd serve`) on a fresh SQLite store with the script row's 1000 machines and profile answers
 * BootService.script in bursts of 64 concurrent requests, as wrk -c64 delivers them, with a turn of the event loop
 * between bursts. Prints, per request: the event loop's wall time (it is the only work on it), the CPU time of the
 * whole process (the boot log's writer thread included) and the time in GC pauses. The row's other part, Node's HTTP
 * and the kernel, costs what a bare `node:http` server answering a constant string costs (bench/README).
 *
 * Run: `npm run build && node --import tsx bench/http/service.ts`. BENCH_BASELINE=<another checkout, built> runs that
 * build too, alternating runs in separate processes (the VM's pace moves by tens of percent between minutes).
 * Env: BENCH_CALLS (default 100000) a run, BENCH_RUNS (default 3) per build.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { MACHINES, macOf, scriptRowInventory } from './script-row.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BURST = 64;

/** One measurement in this process, of the build at `root`: the best of three rounds after a warm-up. */
async function measure(root: string): Promise<string> {
  const load = (path: string) => import(pathToFileURL(join(root, 'dist', path)).href);
  const { loadConfig } = await load('config/config.js');
  const { parseInventory } = await load('config/inventory-file.js');
  const { openCore } = await load('main.js');
  const pino = (await import('pino')).default;
  const dir = mkdtempSync(join(tmpdir(), 'bh-bench-service-'));
  try {
    writeFileSync(
      join(dir, 'bootherd.yaml'),
      `data_dir: ${dir}/data\nhttp: { listen: 127.0.0.1, advertise: "http://127.0.0.1:18480", assets: ${dir}, tls: { enabled: false } }\n`,
    );
    const core = await openCore(loadConfig(join(dir, 'bootherd.yaml'), {}), pino({ level: 'warn' }));
    await core.inventory.apply(parseInventory(scriptRowInventory(), 'inventory.yaml'), false);
    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    const round = async (calls: number) => {
      gcMs = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < calls; i += BURST) {
        const burst = [];
        for (let j = i; j < i + BURST; j++)
          burst.push(
            core.service.script({ mac: macOf(j % MACHINES), ip: '127.0.0.1', platform: 'pcbios', buildarch: 'i386' }),
          );
        await Promise.all(burst);
        await new Promise((r) => setImmediate(r));
      }
      const cpu = process.cpuUsage(cpu0);
      return {
        loop: ((performance.now() - t0) * 1000) / calls,
        cpu: (cpu.user + cpu.system) / calls,
        gc: (gcMs * 1000) / calls,
      };
    };
    await round(20_000);
    const rounds = [await round(CALLS), await round(CALLS), await round(CALLS)].sort((a, b) => a.loop - b.loop);
    gc.disconnect();
    await core.close();
    const r = rounds[0]!;
    return `event loop ${r.loop.toFixed(1)} µs a request, CPU ${r.cpu.toFixed(1)} µs (all threads), GC pauses ${r.gc.toFixed(1)} µs`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_SERVICE_ROOT) {
  console.log(await measure(process.env.BENCH_SERVICE_ROOT));
} else {
  const builds = [resolve(import.meta.dirname, '../..')];
  if (process.env.BENCH_BASELINE) builds.push(resolve(process.env.BENCH_BASELINE));
  console.log(`bench/http/service: ${CALLS} script requests a run, bursts of ${BURST}, ${MACHINES} machines`);
  for (let run = 0; run < RUNS; run++) {
    for (const root of builds) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename], {
        env: { ...process.env, BENCH_SERVICE_ROOT: root },
        encoding: 'utf8',
      });
      console.log(`${root === builds[0] ? 'this build' : 'baseline  '}: ${out.trim()}`);
    }
  }
}
