/**
 * Two bootherd servers on one PostgreSQL (a private cluster): A has no DHCP, TFTP or VMs — it is where the operator
 * works; B serves a test network in full DHCP mode. A next action set through A (the CLI on A's config) is what a
 * QEMU VM gets when it boots from B. Without it the machine's profile is the local disk, so the payload's marker with
 * the installer's command line proves B served A's change. B reaches the cluster through its unix socket (files
 * cross network namespaces).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli } from '../lib/cli.ts';
import { startCluster } from '../lib/postgres.ts';
import { type RunningBootherd, startBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { startVm } from './lib/qemu.ts';

const MAC = '52:54:00:e2:e0:21';
const INSTALLER = 'console=ttyS0 panic=-1 installer=through-server-a';

const inventory = `
profiles:
  - name: installer
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: ${INSTALLER}
  - name: disk
    local: true
machines:
  - id: vm
    macs: ["${MAC}"]
    profile: disk
`;

describe('several servers, one PostgreSQL', () => {
  it('a VM boots from server B what was set through server A', { timeout: 300_000 }, async (t) => {
    const cluster = await startCluster();
    const net = createTestNet();
    let a: RunningBootherd | undefined;
    let b: RunningBootherd | undefined;
    try {
      const db = new URL(await cluster.createDatabase()).pathname.slice(1);
      const store = cluster.socketUrl(db);
      a = await startBootherd({
        exec: [],
        config: `data_dir: data\ninventory: inventory.yaml\nstore: "${store}"\nhttp: { enabled: false }\n`,
        inventory,
        readyPattern: /server \S+; store/,
      });
      net.addTap('tap0');
      b = await startFull(net, inventory, `store: "${store}"\n`);
      linkPayload(b.dir);

      const config = join(mkdtempSync(join(tmpdir(), 'bh-e2e-cli-')), 'a.yaml');
      writeFileSync(config, `data_dir: ${join(a.dir, 'data')}\nstore: "${store}"\n`);
      const set = await cli(['machines', 'next', 'vm', 'install:installer', '-c', config]);
      assert.equal(set.code, 0, set.stderr);

      const started = Date.now();
      const vm = startVm({
        exec: net.exec,
        tap: 'tap0',
        mac: MAC,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      try {
        const console = await vm.waitFor(new RegExp(`${MARKER} cmdline=`)).catch((err: Error) => {
          throw new Error(`${err.message}\n--- server B ---\n${b?.log().slice(-4000)}`);
        });
        assert.ok(console.includes('installer=through-server-a'), 'the installer set through A');
        t.diagnostic(`VM start to kernel marker from server B: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        vm.kill();
        await vm.exited;
      }
      // Consumed once, by B, and A sees it.
      const shown = await cli(['machines', 'show', 'vm', '-c', config]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.notDeepEqual((JSON.parse(shown.stdout) as { nextAction?: unknown }).nextAction, {
        action: 'install',
        profile: 'installer',
      });
    } finally {
      await b?.stop();
      await a?.stop();
      net.destroy();
      await cluster.stop();
    }
  });
});
