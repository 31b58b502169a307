/**
 * "Reinstall this machine now" end to end: OpenIPMI's ipmi_sim is the BMC of a QEMU VM (QEMU's ipmi-bmc-extern
 * device talks to ipmi_sim's VM interface; ipmi_sim starts the VM on power-on), its LAN interface listening only in
 * the test namespace. `bootherd machines next vm1 install --power-cycle`, sent to the running server through its
 * API, sets the one-shot install and cycles the running VM through ipmitool; the VM boots the installer through
 * bootherd (its marker with the installer's command line on the serial console) and powers itself off. The next
 * `bootherd power vm1 cycle` switches it on again and it gets the local-disk script.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENTRY, ROOT } from '../lib/cli.ts';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { type IpmiSim, requireIpmiTools, startIpmiSim } from './lib/ipmi-sim.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';

const MAC = '52:54:00:e2:e3:01';
const BMC_IP = '192.0.2.10';
const PASSWORD = 'vm-bmc-Pw-8d21';
const INSTALLER_CMDLINE = 'console=ttyS0 panic=-1 bootherd-installer=1';

interface Result {
  code: number;
  stdout: string;
  /** stdout and stderr. */
  out: string;
}

describe('ipmi_sim as the BMC of a QEMU VM: install + power cycle', () => {
  let net: TestNet;
  let server: RunningBootherd;
  let sim: IpmiSim | undefined;
  const run = (argv: string[], timeoutMs = 90_000): Promise<Result> =>
    new Promise((resolve) => {
      execFile(argv[0] as string, argv.slice(1), { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, out: `${stdout}${stderr}` });
      });
    });
  const bootherd = (...args: string[]) => run([...net.exec, process.execPath, ...ENTRY, ...args]);
  const consoleLog = () => join(server.dir, 'console.log');
  /** Wait (bounded) until the VM's serial console, a file QEMU truncates at each start, matches. */
  const consoleMatches = async (re: RegExp, what: string): Promise<string> => {
    let text = '';
    for (let i = 0; i < 480; i++) {
      text = existsSync(consoleLog()) ? readFileSync(consoleLog(), 'latin1') : '';
      if (re.test(text)) return text;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(
      `${what}: no ${re} on the console:\n${text.slice(-3000)}\n--- ipmi_sim ---\n${sim?.log().slice(-2000)}\n--- bootherd ---\n${server.log().slice(-3000)}`,
    );
  };

  before(async () => {
    requireIpmiTools();
    net = createTestNet();
    net.addTap('tap0');
    await run(['ip', '-n', net.ns, 'addr', 'add', `${BMC_IP}/24`, 'dev', 'br0']);
    server = await startFull(
      net,
      `
profiles:
  - name: installer
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: ${INSTALLER_CMDLINE}
machines:
  - id: vm1
    macs: ["${MAC}"]
    profile: installer
    next: local
    power: { ipmi: { host: ${BMC_IP}, user: admin, password: { file: vm1-bmc } } }
`,
    );
    linkPayload(server.dir);
    mkdirSync(join(server.dir, 'data', 'bmc-secrets'), { recursive: true });
    writeFileSync(join(server.dir, 'data', 'bmc-secrets', 'vm1-bmc'), `${PASSWORD}\n`, { mode: 0o600 });

    const dir = server.dir;
    // What ipmi_sim runs on power-on: the VM, its console in a file, its BMC link back to ipmi_sim's VM port.
    // No -no-reboot: a reset from the BMC must reset the VM, not end it. -nographic (its serial redirected to a
    // file) is what makes SeaBIOS and the iPXE ROM print on the serial port.
    const qemu = [
      'qemu-system-x86_64 -accel tcg -m 512 -nographic -vga none -monitor none',
      `-serial file:${dir}/console.log -pidfile ${dir}/qemu.pid`,
      `-netdev tap,id=n0,ifname=tap0,script=no,downscript=no`,
      `-device e1000,netdev=n0,mac=${MAC},romfile=/usr/lib/ipxe/qemu/pxe-e1000.rom`,
      '-chardev socket,id=ipmi0,host=127.0.0.1,port=9002,reconnect=1',
      '-device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0',
    ].join(' ');
    // poweroff_wait/kill_wait 5: an ACPI-less VM gets time before the kill.
    sim = startIpmiSim({ exec: net.exec, dir, address: BMC_IP, password: PASSWORD, startcmd: qemu, waitS: 5 });
  });

  after(async () => {
    sim?.kill();
    const pidFile = server ? join(server.dir, 'qemu.pid') : '';
    if (pidFile && existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      } catch {
        // the VM already powered off
      }
    }
    await server?.stop();
    net?.destroy();
  });

  it('next install --power-cycle reinstalls the running VM; the next cycle boots the local disk', {
    timeout: 600_000,
  }, async (t) => {
    const config = ['--config', server.config];
    // The BMC may take a moment to listen: bounded retries of the first status.
    let status: Result = { code: -1, stdout: '', out: '' };
    for (let i = 0; i < 50 && status.code !== 0; i++) {
      status = await bootherd('power', 'vm1', 'status', ...config);
      if (status.code !== 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(status.out, /vm1: power off \(ipmi\)/, `${status.out}\n${sim?.log()}`);

    const on = await bootherd('power', 'vm1', 'on', ...config);
    assert.equal(on.code, 0, on.out);
    await consoleMatches(/bootherd: booting from the local disk/, 'first power-on');
    // The VM has no disk: the bootstrap fetches its script once more 5 s later, then hands back to SeaBIOS, which
    // retries in 60 s. Arm the one-shot only once the VM is idle, or that second fetch takes it before the cycle.
    await consoleMatches(/No bootable device/, 'first power-on settled');

    // Through the running server's API, as an operator at another host would.
    const token =
      (await bootherd('token', 'create', '--scope', 'write', ...config)).stdout.trim().split('\n').at(-1) ?? '';
    const started = Date.now();
    const next = await run([
      ...net.exec,
      'env',
      `BOOTHERD_TOKEN=${token}`,
      process.execPath,
      ...ENTRY,
      'machines',
      'next',
      'vm1',
      'install',
      '--power-cycle',
      '--server',
      `https://${net.serverIp}:8443`,
      '--ca',
      join(server.dir, 'data', 'tls', 'cert.pem'),
    ]);
    assert.equal(next.code, 0, next.out);
    assert.match(next.out, /vm1: next boot install; power cycle done \(ipmi, /);
    const installed = await consoleMatches(new RegExp(`${MARKER} cmdline=\\[[^\\]]*\\]`), 'install after the cycle');
    const cmdline = new RegExp(`${MARKER} cmdline=\\[([^\\]]*)\\]`).exec(installed)?.[1] ?? '';
    assert.ok(cmdline.includes(INSTALLER_CMDLINE), cmdline);
    t.diagnostic(`power cycle to installer marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The installer powered the VM off; a cycle of a machine that is off switches it on.
    let off = '';
    for (let i = 0; i < 100 && !/power off/.test(off); i++) {
      off = (await bootherd('power', 'vm1', 'status', ...config)).out;
      if (!/power off/.test(off)) await new Promise((r) => setTimeout(r, 300));
    }
    assert.match(off, /vm1: power off/);
    const cycle = await bootherd('power', 'vm1', 'cycle', ...config);
    assert.equal(cycle.code, 0, cycle.out);
    const local = await consoleMatches(/bootherd: booting from the local disk/, 'after install');
    assert.ok(!local.includes(MARKER), 'the install was consumed');

    const shown = JSON.parse((await bootherd('machines', 'show', 'vm1', ...config)).stdout) as { nextAction: unknown };
    assert.deepEqual(shown.nextAction, { action: 'local' });
    assert.ok(!server.log().includes(PASSWORD), 'the password is not in the server log');
  });
});
