/** Run the real `bootherd` command line in tests: one-shot commands, and `serve` as a child process. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** The repository root: the CLI runs from here so `--import tsx` resolves. */
export const ROOT = new URL('../../', import.meta.url).pathname;
export const ENTRY = ['--import', 'tsx', `${ROOT}src/cli/bin.ts`];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One CLI command; never throws for a non-zero exit. `env` is added to (or, with undefined values, removed from) ours. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<CliResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  try {
    const r = await pexec(process.execPath, [...ENTRY, ...args], { cwd: ROOT, env: merged, timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number | string; stdout: string; stderr: string; killed?: boolean };
    if (typeof e.code !== 'number') throw new Error(`bootherd ${args.join(' ')}: ${String(e.code)}: ${e.stderr}`);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A TCP port nothing listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolve with everything the child printed once `re` matches it; reject after `ms` or when the child exits. */
export function waitFor(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = () => {
      clearTimeout(timer);
      child.stderr?.off('data', on);
      child.stdout?.off('data', on);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timeout waiting for ${re}: ${buf}`));
    }, ms);
    const on = (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        done();
        resolve(buf);
      }
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`exited (${code}) while waiting for ${re}: ${buf}`));
    };
    child.stderr?.on('data', on);
    child.stdout?.on('data', on);
    child.once('exit', onExit);
  });
}

export interface Served {
  child: ChildProcess;
  httpPort: number;
  httpsPort?: number;
  /** The certificate's SHA-256 fingerprint as the HTTPS log line prints it. */
  fingerprint?: string;
  /** Everything logged so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/**
 * `bootherd serve -c config`, ready once the plain HTTP listener is up (the HTTPS one, when enabled, starts first).
 * Push the child into a list your `after` hook kills, or call stop().
 */
export async function serve(config: string, children: ChildProcess[] = [], ms = 20_000): Promise<Served> {
  const child = spawn(process.execPath, [...ENTRY, 'serve', '-c', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitFor(child, /HTTP\s+listening on \S+:\d+/, ms);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const http = /HTTP\s+listening on \S+:(\d+)/.exec(log);
  const https = /HTTPS listening on \S+:(\d+):.*SHA-256 ([0-9A-Fa-f:]+)/.exec(log);
  return {
    child,
    httpPort: Number(http?.[1]),
    ...(https ? { httpsPort: Number(https[1]), fingerprint: https[2] } : {}),
    log: () => log,
    stop: async (killAfter = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfter);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
