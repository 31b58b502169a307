/** The load generators of bench/http and how a row is printed: wrk for request rates, curl --parallel for many pulls. */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measure {
  /** MB/s (asset rows) or requests/s (script row). */
  mbps: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  /** Non-2xx/3xx responses, socket errors, short or failed transfers. */
  errors: number;
  /** CPU seconds the server (all its processes and threads) used during the row. */
  cpuS?: number;
}

/** User + system CPU seconds in a /proc stat file (fields 14 and 15, counted after the command's closing paren). */
function statCpu(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds (user + system, all threads) of a process and its children (nginx's workers), from /proc. */
function cpuOf(pid: number): number {
  try {
    const own = statCpu(`/proc/${pid}/stat`);
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return own + kids.reduce((s, k) => s + cpuOf(Number(k)), 0);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of each thread of a process: `main` (the event loop) and the others by thread id (Node names every
 * thread `node`: the writer threads, V8's GC helpers and libuv's pool are told apart by what they spend).
 */
export function threadCpu(pid: number): Map<string, number> {
  const byThread = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      byThread.set(Number(tid) === pid ? 'main' : `thread ${tid}`, statCpu(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byThread;
}

/** µs of CPU a request by thread between two `threadCpu` readings (threads that ended are not counted). */
export function perRequestByThread(before: Map<string, number>, after: Map<string, number>, requests: number): string {
  return [...after]
    .map(([name, s]) => [name, ((s - (before.get(name) ?? 0)) * 1e6) / requests] as const)
    .filter(([, us]) => us >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(1)}`)
    .join(', ');
}

/** Run a measurement and note the CPU time the server `pid` spent on it: cost per request, independent of load. */
export async function withCpu(pid: number, run: () => Measure | Promise<Measure>): Promise<Measure> {
  const before = cpuOf(pid);
  const m = await run();
  return { ...m, cpuS: cpuOf(pid) - before };
}

export interface Row {
  name: string;
  metric: 'MB/s' | 'req/s';
  b: Measure;
  n: Measure;
  /** bootherd/nginx must reach this. */
  target: number;
  p99TargetMs?: number;
}

export function wrk(url: string, o: { connections: number; seconds: number; script?: string }): Measure {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '30s', '--latency'];
  if (o.script) args.push('-s', o.script);
  const out = execFileSync('wrk', [...args, url], { encoding: 'utf8' });
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : m[2] === 'm' ? v * 60_000 : v;
  };
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = { B: 1 / 2 ** 20, KB: 1 / 1024, MB: 1, GB: 1024 }[transfer?.[2] ?? 'MB'] ?? 1;
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    mbps: Number(transfer?.[1] ?? Number.NaN) * unit,
    p50ms: ms(/50%\s+([\d.]+)(us|ms|s|m)\b/),
    p99ms: ms(/99%\s+([\d.]+)(us|ms|s|m)\b/),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    errors: bad + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/**
 * `clients` curl transfers of `url` started at once (curl --parallel, one connection each): aggregate MB/s over the
 * wall time until the last ends, and how many did not end with a 200 and every byte.
 */
export async function curlParallel(url: string, clients: number, bytes: number): Promise<Measure> {
  const args = ['--parallel', '--parallel-immediate', '--parallel-max', String(clients), '-s', '--max-time', '300'];
  for (let i = 0; i < clients; i++) args.push('-o', '/dev/null', '-w', '%{http_code} %{size_download}\\n', url);
  const started = process.hrtime.bigint();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      text += s;
    });
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = out.trim().split('\n').filter(Boolean);
  const ok = lines.filter((l) => l === `200 ${bytes}`).length;
  const received = lines.reduce((s, l) => s + Number(l.split(' ')[1] ?? 0), 0);
  return {
    mbps: received / 2 ** 20 / seconds,
    rps: lines.length / seconds,
    p50ms: Number.NaN,
    p99ms: seconds * 1000,
    requests: lines.length,
    errors: clients - ok,
  };
}

export function ratioLine(r: Row): string {
  const v = (m: Measure) => (r.metric === 'MB/s' ? m.mbps : m.rps);
  const ratio = v(r.b) / v(r.n);
  const cell = (m: Measure) => {
    const main = `${Math.round(v(m)).toLocaleString('en-US').replace(/,/g, ' ')} ${r.metric}`;
    const lat = r.p99TargetMs !== undefined ? `, p50 ${m.p50ms.toFixed(2)} ms, p99 ${m.p99ms.toFixed(2)} ms` : '';
    const cpu =
      m.cpuS === undefined
        ? ''
        : r.metric === 'req/s'
          ? `, ${Math.round((m.cpuS / m.requests) * 1e6)} µs CPU/req`
          : `, ${(m.cpuS / ((m.mbps * (m.requests / m.rps)) / 1024)).toFixed(2)} CPU-s/GiB`;
    const fails = m.errors ? `, **${m.errors} failed**` : ', 0 failed';
    return `${main}${lat}${cpu}${fails}`;
  };
  const met = ratio >= r.target && r.b.errors === 0 && (r.p99TargetMs === undefined || r.b.p99ms <= r.p99TargetMs);
  const target = `≥ ${r.target}×${r.p99TargetMs !== undefined ? `, p99 ≤ ${r.p99TargetMs} ms` : ''}: ${met ? 'met' : '**not met**'}`;
  return `| ${r.name} | ${cell(r.b)} | ${cell(r.n)} | ${ratio.toFixed(2)} | ${target} |`;
}

/** Until `url` answers 200 (a server starting): 100 tries 100 ms apart, each bounded, then an error. */
export async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}
