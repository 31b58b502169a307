/**
 * A real iPXE client against the real `bootherd serve`: QEMU (TCG) boots ipxe.lkrn with a script as initrd that sets
 * a static address (no DHCP), chains bootherd's boot.ipxe, gets its per-machine script, loads the kernel and initrd
 * from bootherd's assets, and the booted kernel prints a marker with its command line on the serial console.
 * The machine is set to `install` once: after the boot bootherd must have switched it to the local disk.
 * A label with `&&` and `#` goes through the real iPXE parser and must reach the kernel command line intact.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { startVm } from './lib/qemu.ts';

const MAC = '52:54:00:e2:e0:01';
const CLIENT_IP = '192.0.2.50';

describe('QEMU + iPXE: static address, chain boot.ipxe, kernel and initrd from bootherd', () => {
  let net: TestNet;
  let server: RunningBootherd;

  before(async () => {
    net = createTestNet();
    net.addTap('tap0');
    const config = `
data_dir: data
inventory: inventory.yaml
log: { level: info }
http:
  listen: ${net.serverIp}
  port: 8080
  advertise: http://${net.serverIp}:8080
  assets: assets
boot:
  unknown: local
`;
    const inventory = `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: console=ttyS0 panic=-1 host={{hostname}} role={{label_role}}
machines:
  - id: vm1
    macs: ["${MAC}"]
    hostname: vm1
    labels: { role: "web && reboot #x" }
    profile: tiny-linux
    next: install
`;
    server = await startBootherd({ exec: net.exec, config, inventory });
    linkPayload(server.dir);
  });

  after(async () => {
    await server?.stop();
    net?.destroy();
  });

  it('boots the installer once, with the hostile label intact on the kernel command line, then local', {
    timeout: 300_000,
  }, async (t) => {
    const script = join(server.dir, 'static.ipxe');
    // The seeds' "machine3": no DHCP on this network, the address is set by hand.
    writeFileSync(
      script,
      [
        '#!ipxe',
        'ifopen net0',
        `set net0/ip ${CLIENT_IP}`,
        'set net0/netmask 255.255.255.0',
        `chain http://${net.serverIp}:8080/boot.ipxe`,
        '',
      ].join('\n'),
    );
    const started = Date.now();
    const vm = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac: MAC,
      kernel: '/usr/lib/ipxe/ipxe.lkrn',
      initrd: script,
      deadlineMs: 240_000,
    });
    try {
      const out = await vm.waitFor(new RegExp(`${MARKER} cmdline=\\[[^\\]]*\\]`));
      const cmdline = new RegExp(`${MARKER} cmdline=\\[([^\\]]*)\\]`).exec(out)?.[1] ?? '';
      assert.match(cmdline, /host=vm1 role=web && reboot #x/, `kernel command line: ${cmdline}`);
      assert.match(cmdline, /initrd=initrd\.gz/);
      assert.doesNotMatch(out, /^Rebooting/m);
      t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      vm.kill();
      await vm.exited;
    }
    // Second boot of the same machine: the installer was consumed, so the script now boots the local disk.
    const again = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac: MAC,
      kernel: '/usr/lib/ipxe/ipxe.lkrn',
      initrd: script,
      deadlineMs: 120_000,
    });
    try {
      const out = await again.waitFor(/bootherd: booting from the local disk/);
      assert.doesNotMatch(out, new RegExp(MARKER));
    } finally {
      again.kill();
      await again.exited;
    }
    await server.stop();
    const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
    try {
      const m = await store.getMachine('vm1');
      assert.deepEqual(
        m?.nextAction,
        { action: 'local' },
        'install was consumed: the next boot goes to the local disk',
      );
      assert.equal(m?.lastSeen?.ip, CLIENT_IP);
      const events = await store.listEvents({ machineId: 'vm1' });
      const http = events.filter((e) => e.stage === 'http').reverse();
      assert.deepEqual(
        http.filter((e) => e.decision.kind !== 'asset').map((e) => e.decision.kind),
        ['profile', 'local'],
        JSON.stringify(events),
      );
      // The kernel and initrd fetches are steps of the same machine's timeline, placed by the client's address.
      const assets = http.filter((e) => e.decision.kind === 'asset').map((e) => e.decision.file);
      assert.ok(assets.includes('linux/vmlinuz') && assets.includes('linux/initrd.gz'), JSON.stringify(assets));
    } finally {
      await store.close();
    }
  });
});
