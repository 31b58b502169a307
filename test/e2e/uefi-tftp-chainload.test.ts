/**
 * UEFI chainload with bootherd's TFTP and HTTP beside an existing DHCP server (dnsmasq, DHCP only, configured with
 * the snippet `bootherd dhcp-config --for dnsmasq` prints): OVMF's own
 * firmware PXE (virtio NIC, no option ROM) gets snponly.efi from bootherd over TFTP — with its tsize probe and
 * windowsize 4 —, that iPXE asks DHCP again as `iPXE` and gets boot.ipxe over HTTP, then the kernel boots through
 * its EFI stub and prints the marker.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dhcpSnippet } from '../../src/dhcp/snippets.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { type RunningDnsmasq, startDnsmasq } from './lib/dnsmasq.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER, tinyLinuxInventory } from './lib/payload.ts';
import { startVm } from './lib/qemu.ts';

const MAC = '52:54:00:e2:e0:02';

describe('UEFI: OVMF firmware PXE → TFTP snponly.efi from bootherd → iPXE → HTTP → kernel (EFI stub)', () => {
  let net: TestNet;
  let server: RunningBootherd;
  let dhcp: RunningDnsmasq;

  before(async () => {
    net = createTestNet();
    net.addTap('tap0');
    server = await startBootherd({
      exec: net.exec,
      config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets }
tftp: { enabled: true, listen: ${net.serverIp}, port: 69, roots: [/usr/lib/ipxe] }
boot: { unknown: local }
`,
      inventory: tinyLinuxInventory('uefi1', MAC),
      readyPattern: /TFTP\s+listening/,
    });
    linkPayload(server.dir);
    const snippet = join(server.dir, 'bootherd-dnsmasq.conf');
    writeFileSync(
      snippet,
      dhcpSnippet('dnsmasq', {
        baseUrl: `http://${net.serverIp}:8080`,
        tftpServer: net.serverIp,
        bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi' },
        requiredFeatures: ['http'],
      }),
    );
    dhcp = await startDnsmasq({
      exec: net.exec,
      dir: server.dir,
      iface: 'br0',
      range: ['192.0.2.100', '192.0.2.150'],
      // The site's dnsmasq runs exactly what `bootherd dhcp-config --for dnsmasq` prints.
      extra: [`--conf-file=${snippet}`],
    });
  });

  after(async () => {
    await dhcp?.stop();
    await server?.stop();
    net?.destroy();
  });

  it('boots to the kernel marker; bootherd served snponly.efi over TFTP', { timeout: 330_000 }, async (t) => {
    const started = Date.now();
    const vm = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac: MAC,
      nic: 'virtio-net-pci',
      romfile: '',
      ovmfVarsDir: server.dir,
      memoryMb: 512,
      deadlineMs: 300_000,
    });
    try {
      await vm.waitFor(new RegExp(`${MARKER} cmdline=\\[[^\\]]*initrd=initrd\\.gz[^\\]]*\\]`)).catch((err: Error) => {
        throw new Error(
          `${err.message}\n--- bootherd log ---\n${server.log()}\n--- dnsmasq log (tail) ---\n${dhcp.log().slice(-3000)}`,
        );
      });
      t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      vm.kill();
      await vm.exited;
    }
    await server.stop();
    const store = await openSqliteStore(join(server.dir, 'data', 'bootherd.db'));
    try {
      const tftp = (await store.listEvents({ limit: 100 })).filter((e) => e.stage === 'tftp');
      const snp = tftp.filter((e) => e.decision.file === 'snponly.efi');
      assert.ok(
        snp.some((e) => e.decision.outcome === 'done'),
        JSON.stringify(tftp),
      );
      const http = (await store.listEvents({ machineId: 'uefi1' })).filter(
        (e) => e.stage === 'http' && e.decision.kind !== 'asset',
      );
      assert.equal(http[0]?.decision.kind, 'profile', JSON.stringify(http));
      assert.equal(http[0]?.facts.platform, 'efi');
    } finally {
      await store.close();
    }
  });
});
