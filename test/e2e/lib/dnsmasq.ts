/** A plain dnsmasq as the site's existing DHCP server (DNS and TFTP off), inside a test namespace. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export interface RunningDnsmasq {
  log(): string;
  stop(): Promise<void>;
}

export async function startDnsmasq(opts: {
  exec: string[];
  dir: string;
  iface: string;
  range: [string, string];
  extra: string[];
}): Promise<RunningDnsmasq> {
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    '--user=root',
    `--interface=${opts.iface}`,
    '--bind-interfaces',
    `--dhcp-range=${opts.range[0]},${opts.range[1]},255.255.255.0,1h`,
    `--dhcp-leasefile=${join(opts.dir, 'dnsmasq.leases')}`,
    `--pid-file=${join(opts.dir, 'dnsmasq.pid')}`,
    '--log-dhcp',
    '--log-facility=-',
    ...opts.extra,
  ];
  const [cmd, ...rest] = [...opts.exec, 'dnsmasq', ...args];
  const child: ChildProcess = spawn(cmd as string, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 500);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dnsmasq exited (${code}):\n${log}`));
    });
  });
  return {
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
