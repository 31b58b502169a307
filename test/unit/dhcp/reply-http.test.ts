/**
 * UEFI HTTP boot replies, byte for byte. The requests are OVMF's own (test/fixtures/captures/uefi-http-boot.pcap: a
 * virtio NIC booting through bootherd in full mode, its "UEFI PXEv4" option first, then "UEFI HTTPv4", then the
 * snponly.efi it loaded); the ARM64 ones are the same packets with option 93 = 19 and the arch in option 60 set as
 * EDK2 sets it on AArch64. The boot policy decides, the reply builders encode: the firmware must find option 60
 * `HTTPClient` and an absolute http:// URL of its binary in option 67, or it takes the offer as address-only.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type BootPolicyConfig, type DhcpDecision, decideDhcp } from '../../../src/boot/decide.ts';
import { encodePacket } from '../../../src/dhcp/encode.ts';
import { factsFromPacket } from '../../../src/dhcp/facts.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { type DhcpPacket, decodePacket } from '../../../src/dhcp/packet.ts';
import type { Lease, NetworkParameters } from '../../../src/dhcp/pool.ts';
import { buildAck, buildOffer, buildProxyOffer, replyEncodeOptions } from '../../../src/dhcp/reply.ts';
import { readPcapFile } from '../../lib/pcap.ts';
import { CAPTURES_DIR } from './fixtures.ts';

const SERVER = '192.0.2.1';
const BASE = `http://${SERVER}:8080`;
const POLICY: BootPolicyConfig = {
  baseUrl: BASE,
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi', 'arm64-uefi': 'snponly-arm64.efi' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};
const PARAMS: NetworkParameters = { subnetMask: '255.255.255.0', leaseSeconds: 3600 };
const LEASE: Lease = { ip: '192.0.2.100', mac: '52:54:00:e2:e0:21', state: 'offered', expiresAt: 0 };

function decoded(buf: Buffer): DhcpPacket {
  const r = decodePacket(buf);
  if (!r.ok) assert.fail(`decode failed: ${r.error.code}`);
  return r.packet;
}

const CLIENT = readPcapFile(join(CAPTURES_DIR, 'uefi-http-boot.pcap'))
  .filter((d) => d.sport === 68 && d.dport === 67)
  .map((d) => decoded(d.payload));

function captured(vendorPrefix: string, messageType: number): DhcpPacket {
  const p = CLIENT.find(
    (c) => c.options.messageType === messageType && c.options.vendorClassIdentifier?.startsWith(vendorPrefix),
  );
  assert.ok(p, `no captured ${vendorPrefix} packet of type ${messageType}`);
  return p;
}

/** The same request as an AArch64 EDK2 sends it: option 93 = 19, `Arch:00019` in option 60. */
function asArm64(p: DhcpPacket): DhcpPacket {
  return {
    ...p,
    options: {
      ...p.options,
      clientSystemArchitecture: [19],
      vendorClassIdentifier: 'HTTPClient:Arch:00019:UNDI:003000',
    },
  };
}

const HTTP_DISCOVER = captured('HTTPClient', MessageType.Discover);
const HTTP_REQUEST = captured('HTTPClient', MessageType.Request);
const PXE_DISCOVER = captured('PXEClient:Arch:00007:UNDI:003000', MessageType.Discover);
const PXE_REQUEST = captured('PXEClient:Arch:00007:UNDI:003000', MessageType.Request);

function decide(request: DhcpPacket): DhcpDecision {
  return decideDhcp(factsFromPacket(request), { groups: [], profiles: new Map() }, POLICY);
}

/** The reply on the wire, encoded as the server encodes it (option 57 of the request bounds it). */
function wire(request: DhcpPacket, reply: DhcpPacket | undefined): Buffer {
  assert.ok(reply, 'a reply');
  const r = encodePacket(reply, replyEncodeOptions(request));
  if (!r.ok) assert.fail(`encode failed: ${r.error.code}`);
  return r.buffer;
}

/** The bytes of option `code` (code, length, data) in the options field, or undefined. */
function tlv(buf: Buffer, code: number): Buffer | undefined {
  for (let i = 240; i < buf.length; ) {
    const c = buf[i]!;
    if (c === 255) return undefined;
    if (c === 0) {
      i++;
      continue;
    }
    const len = buf[i + 1]!;
    if (c === code) return buf.subarray(i, i + 2 + len);
    i += 2 + len;
  }
  return undefined;
}

const option = (code: number, data: string): Buffer =>
  Buffer.concat([Buffer.from([code, data.length]), Buffer.from(data, 'latin1')]);

/** The 128-octet file field (RFC 2131: offset 108), up to its NUL. */
const fileField = (buf: Buffer): string => buf.subarray(108, 236).toString('latin1').replace(/\0.*$/s, '');

describe('the captured OVMF HTTP boot requests', () => {
  test('are what the tests assume: arch 16 in 93 and 60, HTTPClient, same MAC as the PXE attempt', () => {
    for (const p of [HTTP_DISCOVER, HTTP_REQUEST]) {
      assert.deepEqual(p.options.clientSystemArchitecture, [16]);
      assert.equal(p.options.vendorClassIdentifier, 'HTTPClient:Arch:00016:UNDI:003000');
      assert.equal(p.mac, PXE_DISCOVER.mac);
    }
    assert.equal(HTTP_REQUEST.options.serverIdentifier, SERVER, 'it sent a REQUEST: it took bootherd’s offer');
  });
});

const CASES = [
  { name: 'x64 (arch 16)', arch: 16, binary: 'snponly.efi', discover: HTTP_DISCOVER, request: HTTP_REQUEST },
  {
    name: 'ARM64 (arch 19)',
    arch: 19,
    binary: 'snponly-arm64.efi',
    discover: asArm64(HTTP_DISCOVER),
    request: asArm64(HTTP_REQUEST),
  },
] as const;

for (const c of CASES) {
  describe(`UEFI HTTP boot, ${c.name}`, () => {
    const url = `${BASE}/ipxe-bin/${c.binary}`;

    test('the policy gives the binary by URL, over HTTP', () => {
      assert.equal(factsFromPacket(c.discover).arch, c.arch);
      assert.deepEqual(decide(c.discover), {
        kind: 'ipxe-binary',
        file: url,
        transport: 'http',
        reason: 'UEFI HTTP boot',
      });
      assert.equal(new URL(url).protocol, 'http:');
    });

    const replies = {
      'full-mode OFFER': () => wire(c.discover, buildOffer(c.discover, LEASE, PARAMS, decide(c.discover), SERVER)),
      'full-mode ACK': () => wire(c.request, buildAck(c.request, LEASE, PARAMS, decide(c.request), SERVER)),
      'proxy OFFER': () => wire(c.discover, buildProxyOffer(c.discover, decide(c.discover), SERVER)),
    };
    for (const [kind, build] of Object.entries(replies)) {
      test(`${kind}: 60 = "HTTPClient", 67 = the URL (and the file field), no TFTP server, no PXE 43`, () => {
        const buf = build();
        assert.deepEqual(tlv(buf, 60), option(60, 'HTTPClient'));
        assert.deepEqual(tlv(buf, 67), option(67, url));
        assert.equal(fileField(buf), url);
        assert.equal(tlv(buf, 66), undefined, 'no TFTP server name: nothing is fetched over TFTP');
        assert.equal(tlv(buf, 43), undefined, 'PXE vendor options mean nothing to an HTTP client');
        // The address: a full-mode reply leases one, a proxy offer never does (EDK2: yiaddr 0 is a proxy offer).
        assert.equal(buf.subarray(16, 20).join('.'), kind.startsWith('proxy') ? '0.0.0.0' : LEASE.ip);
      });
    }
  });
}

describe('control: the same NIC’s PXE attempt is still PXE', () => {
  test('full-mode OFFER and ACK: a TFTP file name and 66, no 60 HTTPClient', () => {
    for (const [req, build] of [
      [PXE_DISCOVER, buildOffer],
      [PXE_REQUEST, buildAck],
    ] as const) {
      const d = decide(req);
      assert.deepEqual(d, { kind: 'ipxe-binary', file: 'snponly.efi', transport: 'tftp', reason: 'firmware PXE' });
      const buf = wire(req, build(req, LEASE, PARAMS, d, SERVER));
      assert.equal(tlv(buf, 60), undefined);
      assert.deepEqual(tlv(buf, 67), option(67, 'snponly.efi'));
      assert.deepEqual(tlv(buf, 66), option(66, SERVER));
      assert.equal(fileField(buf), 'snponly.efi');
    }
  });

  test('proxy OFFER: 60 = "PXEClient", 43 with discovery control, a TFTP file name', () => {
    const buf = wire(PXE_DISCOVER, buildProxyOffer(PXE_DISCOVER, decide(PXE_DISCOVER), SERVER));
    assert.deepEqual(tlv(buf, 60), option(60, 'PXEClient'));
    assert.ok(tlv(buf, 43));
    assert.deepEqual(tlv(buf, 67), option(67, 'snponly.efi'));
    assert.equal(fileField(buf), 'snponly.efi');
  });
});

describe('golden: the replies OVMF booted from', () => {
  // The capture's OFFER and ACK to the HTTPClient are the ones OVMF took: it sent its REQUEST for that OFFER and,
  // after the ACK, fetched the URL and booted it. Same lease, same subnet parameters: the same bytes.
  const sent = readPcapFile(join(CAPTURES_DIR, 'uefi-http-boot.pcap'))
    .filter((d) => d.sport === 67)
    .map((d) => d.payload)
    .filter((b) => tlv(b, 60)?.equals(option(60, 'HTTPClient')));

  test('full-mode OFFER and ACK to the x64 HTTPClient, byte for byte', () => {
    assert.equal(sent.length, 2);
    const offer = wire(HTTP_DISCOVER, buildOffer(HTTP_DISCOVER, LEASE, PARAMS, decide(HTTP_DISCOVER), SERVER));
    const ack = wire(HTTP_REQUEST, buildAck(HTTP_REQUEST, LEASE, PARAMS, decide(HTTP_REQUEST), SERVER));
    assert.equal(offer.toString('hex'), sent[0]?.toString('hex'));
    assert.equal(ack.toString('hex'), sent[1]?.toString('hex'));
  });
});
