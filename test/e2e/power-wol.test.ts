/**
 * Wake-on-LAN on the wire: `bootherd power <id> on` sends the magic packet out of the named interface (the test
 * bridge) and a host on the other end of a veth receives it on UDP port 9. Its bytes are checked against the
 * AMD Magic Packet format: 6 × 0xFF, then the MAC 16 times. Status and off are refused with their own exit code.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENTRY, ROOT } from '../lib/cli.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';

const MAC = '52:54:00:e2:e2:01';
/** The sleeping machine's NIC: a different MAC from the one woken, so the packet is judged by its payload. */
const RX_MAC = '52:54:00:e2:e2:99';

/** Receives one UDP datagram on port 9 and prints it as hex with its source address. */
const RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log('GOT ' + r.address + ' ' + m.toString('hex')); process.exit(0); });
s.bind(9, '0.0.0.0', () => console.log('READY'));
setTimeout(() => process.exit(2), 60000);
`;

describe('Wake-on-LAN: the magic packet on a namespace interface', () => {
  let net: TestNet;
  let dir: string;
  let rx: ChildProcess | undefined;
  let rxOut = '';
  const bootherd = (...args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      const argv = [...net.exec, process.execPath, ...ENTRY, ...args, '--config', join(dir, 'bootherd.yaml')];
      execFile(argv[0] as string, argv.slice(1), { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? -1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      });
    });

  before(async () => {
    net = createTestNet();
    const client = net.addClient('rx', RX_MAC);
    execFileSync(client[0] as string, [...client.slice(1), 'ip', 'addr', 'add', '192.0.2.77/24', 'dev', 'eth0']);
    dir = mkdtempSync(join(tmpdir(), 'bh-wol-'));
    writeFileSync(join(dir, 'bootherd.yaml'), 'data_dir: data\n');
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `machines:\n  - id: sleeper\n    macs: ["${MAC}"]\n    power: { wol: { interface: br0 } }\n`,
    );
    const applied = await bootherd('apply', '-f', join(dir, 'inventory.yaml'));
    assert.equal(applied.code, 0, applied.out);
    rx = spawn(client[0] as string, [...client.slice(1), process.execPath, '-e', RECEIVER], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    rx.stdout?.on('data', (c: Buffer) => {
      rxOut += c.toString();
    });
    rx.stderr?.on('data', (c: Buffer) => {
      rxOut += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (rxOut.includes('READY')) {
          clearInterval(t);
          resolve();
        }
      }, 50);
      rx?.once('exit', (code) => {
        clearInterval(t);
        reject(new Error(`receiver exited (${code}): ${rxOut}`));
      });
    });
  });

  after(() => {
    if (rx?.pid !== undefined && rx.exitCode === null) process.kill(rx.pid, 'SIGKILL');
    net?.destroy();
  });

  it('on: 6 × 0xFF and the MAC 16 times, broadcast to port 9 out of br0', { timeout: 60_000 }, async () => {
    const on = await bootherd('power', 'sleeper', 'on');
    assert.equal(on.code, 0, on.out);
    assert.match(on.out, /sleeper: power on done \(wol\)/);
    const exited = new Promise((r) => (rx?.exitCode === null ? rx.once('exit', r) : r(null)));
    await exited;
    const got = /GOT (\S+) ([0-9a-f]+)/.exec(rxOut);
    assert.ok(got, rxOut);
    assert.equal(got[1], net.serverIp, 'sent from the bridge, the interface the record names');
    const mac = MAC.replace(/:/g, '');
    assert.equal(got[2], `${'ff'.repeat(6)}${mac.repeat(16)}`);
    assert.equal(got[2]?.length, 102 * 2);
  });

  it('status and off are refused: Wake-on-LAN can only switch on', async () => {
    for (const action of ['status', 'off', 'cycle']) {
      const r = await bootherd('power', 'sleeper', action);
      assert.equal(r.code, 11, r.out);
      assert.match(r.out, /Wake-on-LAN can only switch a machine on/);
    }
    // Refused before anything changed: no install is left behind for a cycle that could not happen.
    const next = await bootherd('machines', 'next', 'sleeper', 'install', '--power-cycle');
    assert.equal(next.code, 11, next.out);
    const shown = await bootherd('machines', 'show', 'sleeper');
    assert.equal(JSON.parse(shown.out.slice(shown.out.indexOf('{'))).nextAction, undefined);
  });
});
