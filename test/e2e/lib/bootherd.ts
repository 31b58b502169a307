/** Run the real `bootherd serve` (the CLI, as an operator would) inside a test namespace. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TestNet } from './netns.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

export interface RunningBootherd {
  dir: string;
  config: string;
  log(): string;
  stop(): Promise<void>;
}

export async function startBootherd(opts: {
  exec: string[];
  config: string;
  inventory: string;
  readyPattern?: RegExp;
  /** Reuse this folder and its database, e.g. to restart a server. */
  dir?: string;
}): Promise<RunningBootherd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'bh-e2e-'));
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(join(dir, 'inventory.yaml'), opts.inventory);
  writeFileSync(config, opts.config);
  const [cmd, ...args] = [
    ...opts.exec,
    process.execPath,
    '--import',
    'tsx',
    join(ROOT, 'src/cli/bin.ts'),
    'serve',
    '--config',
    config,
  ];
  const child: ChildProcess = spawn(cmd as string, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = opts.readyPattern ?? /HTTP\s+listening/;
  await new Promise<void>((resolve, reject) => {
    // A server that never got ready is killed, or it would keep the test process (and its namespace) alive.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bootherd did not start within 30 s:\n${log}`));
    }, 30_000);
    const onData = (c: Buffer) => {
      log += c.toString();
      if (ready.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bootherd exited (${code}) before it was ready:\n${log}`));
    });
  });
  return {
    dir,
    config,
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** bootherd as the segment's only DHCP server (full mode) on the test bridge, plus `extra` config lines. */
export function startFull(net: TestNet, inventory: string, extra = ''): Promise<RunningBootherd> {
  return startBootherd({
    exec: net.exec,
    config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets }
dhcp:
  mode: full
  interfaces: [br0]
  subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }]
${extra}`,
    inventory,
    readyPattern: /DHCP\s+full mode/,
  });
}
