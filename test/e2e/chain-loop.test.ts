/**
 * A weak iPXE without a loop: with `boot.required_features: [http, https]` Debian's 2019 iPXE builds (the e1000 ROM
 * and undionly.kpxe, neither with HTTPS) are never "capable", so bootherd chains the ROM to undionly.kpxe, and that
 * binary asks again as the same weak iPXE. The loop guard notices the machine loaded bootherd's own binary and serves
 * the script: the VM boots after one load of undionly.kpxe. Control: with `boot.loop_guard: false` the VM loads
 * undionly.kpxe again and again and never boots.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet } from './lib/netns.ts';
import { linkPayload, MARKER, tinyLinuxInventory } from './lib/payload.ts';
import { startVm } from './lib/qemu.ts';

const MAC = '52:54:00:e2:e0:17';

/** Completed TFTP loads of undionly.kpxe so far, from the boot log (read-only beside the running server). */
function undionlyLoads(server: RunningBootherd): number {
  const db = new SQLite(`${server.dir}/data/bootherd.db`, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("select decision from boot_events where stage = 'tftp'").all() as { decision: string }[];
    return rows
      .map((r) => JSON.parse(r.decision) as { file?: string; outcome?: string })
      .filter((d) => d.file === 'undionly.kpxe' && d.outcome === 'done').length;
  } finally {
    db.close();
  }
}

async function run(loopGuard: boolean, t: { diagnostic(s: string): void }): Promise<void> {
  const net = createTestNet();
  let server: RunningBootherd | undefined;
  try {
    net.addTap('tap0');
    server = await startFull(
      net,
      tinyLinuxInventory('vm', MAC),
      `tftp: { enabled: true, listen: ${net.serverIp}, port: 69, roots: [/usr/lib/ipxe] }
boot: { required_features: [http, https], loop_guard: ${loopGuard} }
`,
    );
    linkPayload(server.dir);
    const started = Date.now();
    const vm = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac: MAC,
      romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
      deadlineMs: 240_000,
    });
    try {
      if (loopGuard) {
        await vm.waitFor(new RegExp(`${MARKER} cmdline=`)).catch((err: Error) => {
          throw new Error(`${err.message}\n--- bootherd log ---\n${server?.log().slice(-4000)}`);
        });
        t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        assert.equal(undionlyLoads(server), 1, 'undionly.kpxe loaded once: two iPXE loads in all (ROM, undionly)');
        assert.match(server.log(), /loop guard: the iPXE binary this machine just loaded from bootherd lacks https/);
      } else {
        // Bounded: three loads of the same binary are a loop; the VM never reaches the payload meanwhile.
        for (let i = 0; i < 180 && undionlyLoads(server) < 3; i++) await sleep(1000);
        const loads = undionlyLoads(server);
        t.diagnostic(
          `without the guard: ${loads} loads of undionly.kpxe in ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
        assert.ok(loads >= 3, `undionly.kpxe loaded ${loads} times`);
        assert.ok(!vm.console().includes(MARKER), 'no boot without the guard');
      }
    } finally {
      vm.kill();
      await vm.exited;
    }
  } finally {
    await server?.stop();
    net.destroy();
  }
}

describe('chainload loop guard (Debian 2019 iPXE, required_features: [http, https])', () => {
  it('boots after one load of bootherd’s weak undionly.kpxe', { timeout: 300_000 }, (t) => run(true, t));
  it('control: without the guard the VM loads undionly.kpxe over and over', { timeout: 300_000 }, (t) => run(false, t));
});
