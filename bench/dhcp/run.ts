/**
 * bench/dhcp: perfdhcp DORA exchanges through a relay address against bootherd (full mode, every lease fsynced before
 * its ACK), Kea (kea-dhcp4, memfile) and dnsmasq, one after another on the same test network, at several offered
 * rates. Prints ACKs/s, drops and DORA delay per server and rate, and bootherd's ratio to Kea and dnsmasq.
 *
 * Run as root: `npm run bench:dhcp` (needs kea-dhcp4-server, kea-admin (perfdhcp), dnsmasq-base). Everything runs
 * in a network namespace made for the run: 192.0.2.0/24 (servers) and 198.51.100.0/24 (behind the relay).
 * Env: BENCH_SECONDS (default 5), BENCH_RATES (default "500,1000,2000,4000"), BENCH_CLIENTS (default 200).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestNet } from '../../test/e2e/lib/netns.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATES = (process.env.BENCH_RATES ?? '500,1000,2000,4000').split(',').map(Number);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const ROOT = resolve(import.meta.dirname, '../..');

interface Result {
  rate: number;
  acksPerS: number;
  sent: number;
  received: number;
  dropPct: number;
  avgMs: number;
  maxMs: number;
}

const dir = mkdtempSync(join(tmpdir(), 'bh-bench-dhcp-'));
const net = createTestNet();
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  net.destroy();
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const relay = net.addClient('relay', '02:00:00:00:00:99');
const inRelay = (...args: string[]) =>
  execFileSync(relay[0] as string, [...relay.slice(1), ...args], { encoding: 'utf8' });
inRelay('ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
inRelay('ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
execFileSync('ip', ['-n', net.ns, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.2']);

function startInNs(argv: string[], name: string): ChildProcess {
  const [cmd, ...args] = [...net.exec, ...argv];
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  child.once('exit', (code) => {
    if (code && code !== 0 && code !== 143) process.stderr.write(`${name} exited ${code}: ${err}\n`);
  });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

function perfdhcp(rate: number): Result {
  const args = [
    'perfdhcp',
    '-4',
    '-l',
    '198.51.100.1',
    '-r',
    String(rate),
    '-R',
    String(CLIENTS),
    '-p',
    String(SECONDS),
    '192.0.2.1',
  ];
  let out: string;
  try {
    out = inRelay(...args);
  } catch (err) {
    // Exit 3: some packets were dropped; the report is still complete.
    out = (err as { stdout?: string }).stdout ?? '';
  }
  const ack =
    /REQUEST-ACK\*\*\*\nsent packets: (\d+)\nreceived packets: (\d+)[\s\S]*?avg delay: ([\d.]+) ms\nmax delay: ([\d.]+) ms/.exec(
      out,
    );
  const received = Number(ack?.[2] ?? 0);
  const discover = /DISCOVER-OFFER\*\*\*\nsent packets: (\d+)/.exec(out);
  const offered = Number(discover?.[1] ?? 0);
  return {
    rate,
    acksPerS: received / SECONDS,
    sent: offered,
    received,
    dropPct: offered ? (100 * (offered - received)) / offered : 100,
    avgMs: Number(ack?.[3] ?? Number.NaN),
    maxMs: Number(ack?.[4] ?? Number.NaN),
  };
}

async function runServer(name: string, start: () => ChildProcess): Promise<Result[]> {
  const child = start();
  await sleep(2500);
  if (child.exitCode !== null) throw new Error(`${name} did not start`);
  perfdhcp(50); // warm up: JIT, first leases, database files
  const results = RATES.map(perfdhcp);
  await stop(child);
  return results;
}

async function main(): Promise<void> {
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(
    config,
    `data_dir: ${join(dir, 'bootherd-data')}\nlog: { level: error }\nhttp: { listen: 192.0.2.1, port: 8080 }\n` +
      'dhcp:\n  mode: full\n  interfaces: [br0]\n  subnets:\n' +
      '    - { subnet: 198.51.100.0/24, range: [198.51.100.10, 198.51.100.250], lease_time: 3600 }\n',
  );
  const built = join(ROOT, 'dist/cli/bin.js');
  const bootherdArgv = [
    process.execPath,
    ...(existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts')]),
  ];
  const kea = join(dir, 'kea.json');
  writeFileSync(
    kea,
    JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: ['br0'], 'dhcp-socket-type': 'udp' },
        'lease-database': { type: 'memfile', persist: true, name: join(dir, 'kea-leases.csv'), 'lfc-interval': 0 },
        'valid-lifetime': 3600,
        subnet4: [{ id: 1, subnet: '198.51.100.0/24', pools: [{ pool: '198.51.100.10 - 198.51.100.250' }] }],
        loggers: [{ name: 'kea-dhcp4', severity: 'ERROR', output_options: [{ output: 'stderr' }] }],
      },
    }),
  );

  const rows: [string, Result[]][] = [];
  rows.push([
    'bootherd',
    await runServer('bootherd', () => startInNs([...bootherdArgv, 'serve', '--config', config], 'bootherd')),
  ]);
  rows.push([
    'kea',
    await runServer('kea', () =>
      startInNs(['env', `KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp4', '-c', kea], 'kea'),
    ),
  ]);
  rows.push([
    'dnsmasq',
    await runServer('dnsmasq', () =>
      startInNs(
        [
          'dnsmasq',
          '--no-daemon',
          '--conf-file=/dev/null',
          '--port=0',
          '--user=root',
          '--interface=br0',
          '--dhcp-range=198.51.100.10,198.51.100.250,255.255.255.0,1h',
          `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
          `--pid-file=${join(dir, 'dnsmasq.pid')}`,
          '--quiet-dhcp',
          // dnsmasq pings an address before offering it (up to 3 s a client): off, to measure the server itself.
          '--no-ping',
        ],
        'dnsmasq',
      ),
    ),
  ]);

  console.log(
    `\nbench/dhcp: perfdhcp -R ${CLIENTS} through a relay (giaddr 198.51.100.1), ${SECONDS} s per rate, one namespace.\n` +
      'bootherd fsyncs every lease before its ACK (group commit); Kea memfile appends to its CSV without fsync;\n' +
      'dnsmasq rewrites its lease file without fsync. ACK/s = DHCPACKs received per second; drops = DISCOVERs without ACK.',
  );
  const cell = (r: Result) =>
    `${r.acksPerS.toFixed(0).padStart(6)}/s drop ${r.dropPct.toFixed(1).padStart(5)}% avg ${r.avgMs.toFixed(1)} max ${r.maxMs.toFixed(0)} ms`;
  console.log(`${'offered/s'.padEnd(10)} ${rows.map(([n]) => n.padEnd(44)).join(' ')} bootherd/kea  bootherd/dnsmasq`);
  RATES.forEach((rate, i) => {
    const [b, k, d] = rows.map(([, r]) => r[i] as Result);
    console.log(
      `${String(rate).padEnd(10)} ${rows.map(([, r]) => cell(r[i] as Result).padEnd(44)).join(' ')} ${(b!.acksPerS / k!.acksPerS).toFixed(2).padStart(12)}  ${(b!.acksPerS / d!.acksPerS).toFixed(2).padStart(16)}`,
    );
  });
  // Best sustained rate: the highest ACK/s at < 1 % drops.
  const best = (r: Result[]) => Math.max(0, ...r.filter((x) => x.dropPct < 1).map((x) => x.acksPerS));
  const [bb, kb, db] = rows.map(([, r]) => best(r));
  console.log(
    `best ACK/s at < 1 % drops: bootherd ${bb!.toFixed(0)}, kea ${kb!.toFixed(0)}, dnsmasq ${db!.toFixed(0)}; ` +
      `bootherd/kea ${(bb! / (kb || Number.NaN)).toFixed(2)}, bootherd/dnsmasq ${(bb! / (db || Number.NaN)).toFixed(2)}`,
  );
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench/dhcp failed: ${err.message}`);
    process.exit(1);
  },
);
