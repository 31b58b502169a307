/**
 * IPMI over LAN through `ipmitool` (Debian package `ipmitool`), interface lanplus (IPMI v2.0 RMCP+). The password
 * goes in the IPMI_PASSWORD environment variable (`-E`), never on the command line where `ps` shows it. Each call
 * has a deadline; past it the process is killed by its PID.
 */
import { spawn } from 'node:child_process';
import { BootherdError } from '../errors.ts';
import type { IpmiPower } from '../model/types.ts';
import { BMC_TIMEOUT_MS, type PowerDriver, type PowerState } from './types.ts';

export interface IpmiOptions {
  password: string;
  timeoutMs?: number;
}

interface Run {
  code: number | null;
  out: string;
}

/** What ipmitool printed, turned into the error an operator can act on. */
export function ipmiError(target: string, run: Run): BootherdError {
  const text = run.out;
  const last = text.trim().split('\n').at(-1) ?? '';
  // RAKP 2 carries the BMC's verdict on the user (`unauthorized name`) and its HMAC over the password.
  if (/RAKP 2 HMAC is invalid|unauthorized name|invalid (role|password)|insufficient resources for session/i.test(text))
    return new BootherdError('POWER_AUTH', `IPMI ${target}: the BMC refused the user name or password`);
  if (/Get Auth Capabilities error|No response from remote controller|Unable to establish IPMI v2/i.test(text))
    return new BootherdError('POWER_UNREACHABLE', `IPMI ${target}: no answer from the BMC (${last})`);
  return new BootherdError('POWER_FAILED', `IPMI ${target}: ${last || `ipmitool exited with ${run.code}`}`);
}

export function ipmiDriver(spec: IpmiPower, o: IpmiOptions): PowerDriver {
  const target = `${spec.user}@${spec.host}:${spec.port ?? 623}`;
  const timeoutMs = o.timeoutMs ?? BMC_TIMEOUT_MS;
  const run = (args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      // -C 3 (RAKP-HMAC-SHA1, AES-128), the suite every IPMI 2.0 BMC must offer: naming it skips the cipher suite
      // query, which BMCs that lack it (ipmi_sim) answer only after a 10 s timeout. -v prints RAKP's verdict.
      const argv = ['-I', 'lanplus', '-H', spec.host, '-p', String(spec.port ?? 623), '-U', spec.user, '-E'];
      argv.push('-C', '3', '-N', '2', '-R', '2', '-v', ...args);
      const child = spawn('ipmitool', argv, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: o.password },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const collect = (c: Buffer) => {
        if (out.length < 65_536) out += c.toString('utf8');
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          missing
            ? new BootherdError('TOOL_MISSING', 'ipmitool is not installed (Debian package ipmitool)')
            : new BootherdError('POWER_FAILED', `IPMI ${target}: ${err.message}`),
        );
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (timedOut)
          reject(new BootherdError('POWER_TIMEOUT', `IPMI ${target}: no result within ${timeoutMs / 1000} s`));
        else resolve({ code, out });
      });
    });
  const power = async (verb: string): Promise<string> => {
    const r = await run(['chassis', 'power', verb]);
    if (r.code !== 0) throw ipmiError(target, r);
    return r.out;
  };
  const status = async (): Promise<PowerState> => {
    const out = await power('status');
    const m = /Chassis Power is (on|off)/i.exec(out);
    if (!m) throw new BootherdError('POWER_FAILED', `IPMI ${target}: unexpected status answer`);
    return m[1]!.toLowerCase() as PowerState;
  };
  return {
    method: 'ipmi',
    on: async () => void (await power('on')),
    off: async () => void (await power('off')),
    // IPMI 2.0 §28.3: power cycle "has no effect if the system is in a powered-down state": switch it on instead.
    cycle: async () => void (await power((await status()) === 'off' ? 'on' : 'cycle')),
    status,
    prepareNetboot: async () => {
      // `chassis bootdev pxe` sets boot flags valid for the next boot only (IPMI 2.0 §28.13, parameter 5).
      const r = await run(['chassis', 'bootdev', 'pxe']);
      if (r.code !== 0) throw ipmiError(target, r);
      // ipmitool exits 0 even when the BMC refused the parameter: the answer says so.
      return !/failed/i.test(r.out);
    },
  };
}
