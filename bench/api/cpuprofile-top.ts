/**
 * Self time by function from a V8 .cpuprofile (`node --cpu-prof`): what the process spent its own time in, heaviest
 * first, plus the same time summed per module (a package under node_modules, node's internals, bootherd's files).
 * Run: `node --import tsx bench/api/cpuprofile-top.ts <file.cpuprofile> [top]`; bench/api/run.ts calls it with
 * BENCH_CPU_PROF set.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

function moduleOf(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(dist|src)\/(.+)$/.exec(url);
  return own ? `bootherd ${own[2]}` : url;
}

/** Self time per function and per module, heaviest first; `share` is of all sampled time (idle included). */
export function selfTimes(file: string): {
  functions: SelfTime[];
  modules: SelfTime[];
  totalMs: number;
  idleMs: number;
} {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') idle += us;
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const mod = f.functionName.startsWith('(') ? f.functionName : moduleOf(f.url);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: total ? us / total : 0 }));
  return { functions: sorted(fns), modules: sorted(mods), totalMs: total / 1000, idleMs: idle / 1000 };
}

export function printSelfTimes(file: string, top = 25): void {
  const { functions, modules, totalMs, idleMs } = selfTimes(file);
  const line = (t: SelfTime) =>
    `${(t.share * 100).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`;
  console.log(`\n${file}: ${totalMs.toFixed(0)} ms sampled, ${((idleMs / totalMs) * 100).toFixed(1)}% idle`);
  console.log(`self time by module:`);
  for (const t of modules.slice(0, 15)) console.log(line(t));
  console.log(`self time by function (top ${top}):`);
  for (const t of functions.slice(0, top)) console.log(line(t));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: cpuprofile-top.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  printSelfTimes(file, Number(process.argv[3] ?? 25));
}
