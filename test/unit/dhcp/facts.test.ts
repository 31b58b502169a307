import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { archFromVendorClass, factsFromPacket, isHttpClient, isPxeClient } from '../../../src/dhcp/facts.ts';
import { type DhcpOptions, MessageType } from '../../../src/dhcp/option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, isBroadcast, macToChaddr } from '../../../src/dhcp/packet.ts';
import { type Capture, clientPackets } from './fixtures.ts';

const MAC = '52:54:00:c0:02:64';

function firstDiscover(capture: Capture, nth = 0): DhcpPacket {
  const packets = clientPackets(capture).map((b) => {
    const r = decodePacket(b);
    if (!r.ok) assert.fail(r.error.message);
    return r.packet;
  });
  // Each DHCP exchange starts with a DISCOVER; iPXE retransmits one, so keep only those with a new xid.
  const starts = packets.filter(
    (p, i) => p.options.messageType === MessageType.Discover && packets.findIndex((q) => q.xid === p.xid) === i,
  );
  return starts[nth] ?? assert.fail(`no exchange ${nth} in ${capture}`);
}

function packet(options: DhcpOptions, extra: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 1,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(MAC)!,
    mac: MAC,
    sname: '',
    file: '',
    options: { messageType: MessageType.Discover, ...options },
    ...extra,
  };
}

const IPXE_ROM_FEATURES = [
  'dns',
  'http',
  'iscsi',
  'aoe',
  'tftp',
  'nfs',
  'elf',
  'multiboot',
  'bzimage',
  'pxe',
  'pxeext',
  'menu',
];
const SNPONLY_FEATURES = ['dns', 'efi', 'http', 'iscsi', 'menu', 'nfs', 'tftp', 'aoe'];

describe('facts from captured DISCOVERs', () => {
  test('iPXE ROM (SeaBIOS): iPXE user class, features with http, arch 0 → pcbios/i386, zero UUID dropped', () => {
    const p = firstDiscover('bios-ipxe-rom.pcap');
    const facts = factsFromPacket(p, 'br0');
    assert.deepEqual(
      { ...facts, ipxeFeatures: [...(facts.ipxeFeatures ?? [])].sort() },
      {
        mac: MAC,
        arch: 0,
        platform: 'pcbios',
        buildarch: 'i386',
        vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
        userClass: 'iPXE',
        ipxeFeatures: [...IPXE_ROM_FEATURES].sort(),
        iface: 'br0',
      },
    );
    assert.equal(p.options.clientMachineIdentifier && 'uuid' in p.options.clientMachineIdentifier, true);
    assert.equal(facts.uuid, undefined, "QEMU's all-zero UUID is a placeholder");
    assert.equal(isPxeClient(p), true);
    assert.equal(isHttpClient(p), false);
  });

  test('OVMF firmware PXE: arch 7 → efi/x86_64, broadcast, no user class or iPXE features', () => {
    // UNDI 3.0 on virtio, 3.1 on e1000 (option 94 says the same).
    const cases = [
      ['uefi-chainload.pcap', 'PXEClient:Arch:00007:UNDI:003000'],
      ['uefi-chainload-e1000-menu.pcap', 'PXEClient:Arch:00007:UNDI:003001'],
    ] as const;
    for (const [capture, vendorClass] of cases) {
      const p = firstDiscover(capture);
      assert.equal(isBroadcast(p), true);
      assert.deepEqual(factsFromPacket(p), {
        mac: MAC,
        arch: 7,
        platform: 'efi',
        buildarch: 'x86_64',
        vendorClass,
      });
      assert.equal(isPxeClient(p), true);
    }
  });

  test('snponly.efi (second stage after OVMF): iPXE on efi/x86_64 with its own feature set', () => {
    const p = firstDiscover('uefi-chainload.pcap', 1);
    const facts = factsFromPacket(p);
    assert.equal(facts.userClass, 'iPXE');
    assert.equal(facts.arch, 7);
    assert.equal(facts.platform, 'efi');
    assert.equal(facts.buildarch, 'x86_64');
    assert.equal(facts.vendorClass, 'PXEClient:Arch:00007:UNDI:003010');
    assert.deepEqual([...(facts.ipxeFeatures ?? [])].sort(), [...SNPONLY_FEATURES].sort());
    for (const absent of ['pxe', 'pxeext', 'bzimage', 'elf']) assert.ok(!facts.ipxeFeatures?.includes(absent));
    assert.equal(p.xid, firstDiscover('uefi-chainload-e1000-menu.pcap', 1).xid, 'same xid on every boot of the build');
  });

  test('undionly.kpxe: the first stage is not iPXE (user class PXE-ROM), the second is, with the broadcast flag', () => {
    const first = firstDiscover('bios-chainload-undionly.pcap');
    const second = firstDiscover('bios-chainload-undionly.pcap', 1);
    assert.equal(factsFromPacket(first).userClass, 'PXE-ROM');
    assert.equal(isBroadcast(first), false);
    const facts = factsFromPacket(second);
    assert.equal(facts.userClass, 'iPXE');
    assert.equal(facts.arch, 0);
    assert.equal(facts.platform, 'pcbios');
    assert.ok(facts.ipxeFeatures?.includes('http'));
    assert.equal(isBroadcast(second), true);
    // A first stage sends 175 too: only 77 tells the stages apart.
    assert.ok(first.options.ipxe?.features);
  });
});

describe('facts from synthetic packets', () => {
  test('UUID from option 97 in the byte order clients.md shows; placeholders dropped', () => {
    const p = packet({ clientMachineIdentifier: { type: 0, uuid: '12345678-9abc-def0-1122-334455667788' } });
    assert.equal(factsFromPacket(p).uuid, '12345678-9abc-def0-1122-334455667788');
    for (const placeholder of ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']) {
      const q = packet({ clientMachineIdentifier: { type: 0, uuid: placeholder } });
      assert.equal(factsFromPacket(q).uuid, undefined, placeholder);
    }
  });

  test('arch from option 60 when 93 is absent: the field is decimal', () => {
    assert.equal(archFromVendorClass('PXEClient:Arch:00016:UNDI:003016'), 16);
    assert.equal(archFromVendorClass('PXEClient:Arch:00007:UNDI:003000'), 7);
    assert.equal(archFromVendorClass('HTTPClient:Arch:00019'), 19);
    assert.equal(archFromVendorClass('MSFT 5.0'), undefined);
    const http = packet({ vendorClassIdentifier: 'HTTPClient:Arch:00016:UNDI:003001' });
    assert.equal(isHttpClient(http), true);
    assert.equal(isPxeClient(http), false);
    const facts = factsFromPacket(http);
    assert.equal(facts.arch, 16, 'decimal 16, not 0x16');
    assert.equal(facts.platform, 'efi');
    assert.equal(facts.buildarch, 'x86_64');
  });

  test('option 93 wins over option 60; arch table per RFC 4578 and the IANA registry', () => {
    const p = packet({ clientSystemArchitecture: [11], vendorClassIdentifier: 'PXEClient:Arch:00007:UNDI:003000' });
    assert.equal(factsFromPacket(p).arch, 11);
    const table: [number, string | undefined, string | undefined][] = [
      [0, 'pcbios', 'i386'],
      [6, 'efi', 'i386'],
      [7, 'efi', 'x86_64'],
      [9, 'efi', 'x86_64'],
      [11, 'efi', 'arm64'],
      [16, 'efi', 'x86_64'],
      [19, 'efi', 'arm64'],
      [2, undefined, undefined], // Itanium: no iPXE build
    ];
    for (const [arch, platform, buildarch] of table) {
      const f = factsFromPacket(packet({ clientSystemArchitecture: [arch] }));
      assert.equal(f.arch, arch);
      assert.equal(f.platform, platform, `arch ${arch}`);
      assert.equal(f.buildarch, buildarch, `arch ${arch}`);
    }
  });

  test('RFC 3004 user class instances are joined; trailing NULs trimmed; ciaddr is the ip; hostname', () => {
    const p = packet(
      {
        userClass: { format: 'rfc3004', instances: ['iPXE'] },
        vendorClassIdentifier: 'PXEClient\0',
        hostName: 'Node7',
      },
      { ciaddr: '192.0.2.50' },
    );
    const facts = factsFromPacket(p);
    assert.equal(facts.userClass, 'iPXE');
    assert.equal(facts.vendorClass, 'PXEClient');
    assert.equal(facts.ip, '192.0.2.50');
    assert.equal(facts.hostname, 'node7');
    assert.equal(isPxeClient(p), true);
    const two = packet({ userClass: { format: 'rfc3004', instances: ['a', 'b'] } });
    assert.equal(factsFromPacket(two).userClass, 'a,b');
  });

  test('a non-Ethernet chaddr still gives an identifier from hlen octets', () => {
    const chaddr = Buffer.alloc(16);
    chaddr.set([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = packet({}, { htype: 32, hlen: 8, chaddr, mac: undefined });
    assert.equal(factsFromPacket(p).mac, '01:02:03:04:05:06:07:08');
  });
});
