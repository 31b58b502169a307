/**
 * OpenIPMI's ipmi_sim as a machine's BMC (IPMI v2 lanplus on UDP 623) inside a test namespace: its LAN config, its
 * emulator commands and its state folder in `dir`, one admin user. On power-on it runs `startcmd` (a QEMU VM, or a
 * stand-in script) and ends it on power-off: ipmi_sim controls power only with a VM interface (`serial ... codec VM`,
 * QEMU's ipmi-bmc-extern on port 9002), which a stand-in leaves unused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IpmiSimOptions {
  /** argv prefix that runs a command in the namespace (TestNet.exec). */
  exec: string[];
  dir: string;
  /** The BMC's address, on an interface of the namespace. */
  address: string;
  password: string;
  /** What power-on runs. */
  startcmd: string;
  /** Powered on when ipmi_sim starts. */
  startOn?: boolean;
  /** Seconds ipmi_sim waits for a graceful power-off, then for the kill. */
  waitS?: number;
}

export interface IpmiSim {
  process: ChildProcess;
  /** What ipmi_sim printed so far (for assertion messages). */
  log(): string;
  kill(): void;
}

/** Fails (never skips) without the tools: the test needs them. */
export function requireIpmiTools(): void {
  for (const tool of ['/usr/bin/ipmi_sim', '/usr/bin/ipmitool'])
    if (!existsSync(tool)) throw new Error(`${tool} missing: install the Debian packages openipmi and ipmitool`);
}

export function startIpmiSim(o: IpmiSimOptions): IpmiSim {
  const wait = o.waitS ?? 2;
  writeFileSync(
    join(o.dir, 'lan.conf'),
    `name "bmc"
set_working_mc 0x20
  startlan 1
    addr ${o.address} 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  serial 15 127.0.0.1 9002 codec VM
  startcmd "${o.startcmd}"
  startnow ${o.startOn ? 'true' : 'false'}
  poweroff_wait ${wait}
  kill_wait ${wait}
  user 2 true "admin" "${o.password}" admin 10 none md2 md5 straight
`,
  );
  writeFileSync(
    join(o.dir, 'bmc.emu'),
    'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n',
  );
  mkdirSync(join(o.dir, 'ipmi-state'), { recursive: true });
  const argv = [
    ...o.exec,
    'ipmi_sim',
    '-c',
    join(o.dir, 'lan.conf'),
    '-f',
    join(o.dir, 'bmc.emu'),
    '-n',
    '-s',
    join(o.dir, 'ipmi-state'),
  ];
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (c: Buffer) => {
    log = (log + c.toString()).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    process: proc,
    log: () => log,
    kill: () => {
      if (proc.pid !== undefined && proc.exitCode === null) process.kill(proc.pid, 'SIGKILL');
    },
  };
}

/** ipmi_sim's stand-in machine: a script that records each power-on's PID in `<dir>/starts` and sleeps. */
export function standInMachine(dir: string): string {
  const file = join(dir, 'machine.sh');
  writeFileSync(file, `#!/bin/sh\necho $$ >> ${dir}/starts\nexec sleep 600\n`, { mode: 0o755 });
  return file;
}
