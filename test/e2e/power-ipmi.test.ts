/**
 * IPMI power control against OpenIPMI's `ipmi_sim` as the BMC, over real RMCP+ (lanplus) on the wire: the real
 * `bootherd power` CLI drives ipmitool, which talks to ipmi_sim's LAN interface listening only inside a test
 * namespace. ipmi_sim's "power" is its start command (what would start a VM): each power-on runs it once, and a
 * power-off ends it, so the chassis state is checked twice — by ipmi_sim's own answer to a separate ipmitool, and
 * by what its start command left behind. Wrong password and an unreachable BMC each end with their own exit code;
 * the password is in no output, export or log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENTRY, ROOT } from '../lib/cli.ts';
import { type IpmiSim, requireIpmiTools, standInMachine, startIpmiSim } from './lib/ipmi-sim.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';

const BMC_IP = '192.0.2.10';
const PASSWORD = 'ipmi-Pw-41c9e';

interface Result {
  code: number;
  out: string;
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      argv[0] as string,
      argv.slice(1),
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe('IPMI power through ipmitool against ipmi_sim', () => {
  let net: TestNet;
  let dir: string;
  let sim: IpmiSim | undefined;
  const bootherd = (...args: string[]) =>
    run([...net.exec, process.execPath, ...ENTRY, ...args, '--config', join(dir, 'bootherd.yaml')]);
  /** What ipmi_sim says, asked by a second, independent ipmitool. */
  const chassis = async () => {
    const r = await run(
      [
        ...net.exec,
        'ipmitool',
        '-I',
        'lanplus',
        '-H',
        BMC_IP,
        '-U',
        'admin',
        '-E',
        '-C',
        '3',
        'chassis',
        'power',
        'status',
      ],
      { IPMI_PASSWORD: PASSWORD },
    );
    return /Chassis Power is (on|off)/.exec(r.out)?.[1] ?? `? ${r.out}`;
  };
  const starts = () =>
    existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n').length : 0;
  /** Poll (bounded) until `probe` returns `want`: ipmi_sim starts and stops its command asynchronously. */
  const until = async <T>(probe: () => Promise<T> | T, want: T, what: string) => {
    let last: T | undefined;
    for (let i = 0; i < 100; i++) {
      last = await probe();
      if (last === want) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${what}: wanted ${String(want)}, last ${String(last)}; ipmi_sim:\n${sim?.log()}`);
  };

  before(async () => {
    requireIpmiTools();
    net = createTestNet();
    await run(['ip', '-n', net.ns, 'addr', 'add', `${BMC_IP}/24`, 'dev', 'br0']);
    dir = mkdtempSync(join(tmpdir(), 'bh-ipmi-'));
    // The "machine": a command ipmi_sim runs on power-on and ends on power-off; it records each start and its PID.
    sim = startIpmiSim({ exec: net.exec, dir, address: BMC_IP, password: PASSWORD, startcmd: standInMachine(dir) });
    await until(chassis, 'off', 'ipmi_sim up');

    mkdirSync(join(dir, 'data', 'bmc-secrets'), { recursive: true });
    writeFileSync(join(dir, 'data', 'bmc-secrets', 'vm1-bmc'), `${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'bootherd.yaml'), 'data_dir: data\nlog: { level: debug }\n');
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `profiles:
  - name: disk
    local: true
machines:
  - id: vm1
    macs: ["52:54:00:e2:e1:01"]
    profile: disk
    power: { ipmi: { host: ${BMC_IP}, user: admin, password: { file: vm1-bmc } } }
  - id: badpw
    macs: ["52:54:00:e2:e1:02"]
    power: { ipmi: { host: ${BMC_IP}, user: admin, password: { env: BMC_WRONG } } }
  - id: gone
    macs: ["52:54:00:e2:e1:03"]
    power: { ipmi: { host: 192.0.2.11, user: admin, password: { file: vm1-bmc } } }
`,
    );
    const applied = await bootherd('apply', '-f', join(dir, 'inventory.yaml'));
    assert.equal(applied.code, 0, applied.out);
  });

  after(async () => {
    sim?.kill();
    for (const pid of existsSync(join(dir ?? '/nonexistent', 'starts'))
      ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n')
      : []) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already ended by a power-off
      }
    }
    net?.destroy();
  });

  it('status, on, cycle, off: the chassis follows, each a power event', { timeout: 180_000 }, async () => {
    const status = await bootherd('power', 'vm1', 'status');
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /vm1: power off \(ipmi\)/);

    const on = await bootherd('power', 'vm1', 'on');
    assert.equal(on.code, 0, on.out);
    await until(chassis, 'on', 'after power on');
    await until(starts, 1, 'the machine started once');

    // Install + cycle: the next action is set, then the chassis goes off and on again (ipmi_sim restarts it).
    const next = await bootherd('machines', 'next', 'vm1', 'install', '--power-cycle');
    assert.equal(next.code, 0, next.out);
    assert.match(next.out, /vm1: next boot install; power cycle done \(ipmi, /);
    await until(starts, 2, 'the machine started again after the cycle');
    await until(chassis, 'on', 'after the cycle');
    const shown = await bootherd('machines', 'show', 'vm1');
    assert.deepEqual(JSON.parse(shown.out).nextAction, { action: 'install' });

    const off = await bootherd('power', 'vm1', 'off');
    assert.equal(off.code, 0, off.out);
    await until(chassis, 'off', 'after power off');
    assert.match((await bootherd('power', 'vm1', 'status')).out, /vm1: power off/);

    const events = await bootherd('machines', 'events', 'vm1', '--json');
    const power = (JSON.parse(events.out) as { stage: string; decision: { kind: string; outcome: string } }[])
      .filter((e) => e.stage === 'power')
      .map((e) => `${e.decision.kind}:${e.decision.outcome}`);
    assert.deepEqual(power, ['off:ok', 'cycle:ok', 'on:ok'], 'actions are events; status reads are not');
  });

  it('a wrong password and an unreachable BMC: own messages, own exit codes, no password shown', {
    timeout: 120_000,
  }, async () => {
    const bad = await run(
      [...net.exec, process.execPath, ...ENTRY, 'power', 'badpw', 'status', '--config', join(dir, 'bootherd.yaml')],
      {
        BMC_WRONG: 'not-the-password',
      },
    );
    assert.equal(bad.code, 14, bad.out);
    assert.match(bad.out, /refused the user name or password/);
    assert.ok(!bad.out.includes('not-the-password'));
    const gone = await bootherd('power', 'gone', 'on');
    assert.equal(gone.code, 13, gone.out);
    assert.match(gone.out, /no answer from the BMC/);
    const exported = await bootherd('export');
    assert.equal(exported.code, 0, exported.out);
    assert.match(exported.out, /file: vm1-bmc/);
    for (const text of [exported.out, bad.out, gone.out, (await bootherd('machines', 'events', 'vm1', '--json')).out])
      assert.ok(!text.includes(PASSWORD));
  });
});
