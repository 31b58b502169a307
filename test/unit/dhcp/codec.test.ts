import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { encodePacket, maxDhcpPayload } from '../../../src/dhcp/encode.ts';
import { type DhcpOptions, MessageType } from '../../../src/dhcp/option-types.ts';
import {
  BOOTP_MIN_SIZE,
  BOOTREPLY,
  BOOTREQUEST,
  type DhcpPacket,
  decodePacket,
  isBroadcast,
  macToChaddr,
} from '../../../src/dhcp/packet.ts';
import { guidToUuid, uuidToGuid } from '../../../src/dhcp/wire.ts';
import { CAPTURES, clientPackets, dhcpDatagrams } from './fixtures.ts';

function decodeOk(buf: Buffer): DhcpPacket {
  const r = decodePacket(buf);
  if (!r.ok) assert.fail(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.packet;
}

function encodeOk(p: DhcpPacket, maxMessageSize?: number): Buffer {
  const r = encodePacket(p, maxMessageSize === undefined ? {} : { maxMessageSize });
  if (!r.ok) assert.fail(`encode failed: ${r.error.code} ${r.error.message}`);
  return r.buffer;
}

/** Option instances of the options field, as [code, length] pairs (no overload handling: a raw view for asserts). */
function optionInstances(buf: Buffer, start = 240, end = buf.length): [number, number][] {
  const out: [number, number][] = [];
  for (let i = start; i < end; ) {
    const c = buf[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255) break;
    out.push([c, buf[i + 1]!]);
    i += 2 + buf[i + 1]!;
  }
  return out;
}

const MAC = '52:54:00:c0:02:64';

function request(options: DhcpOptions, extra: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x12345678,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(MAC)!,
    sname: '',
    file: '',
    options,
    ...extra,
  };
}

function reply(options: DhcpOptions, extra: Partial<DhcpPacket> = {}): DhcpPacket {
  return request(options, { op: BOOTREPLY, yiaddr: '192.0.2.192', siaddr: '192.0.2.1', ...extra });
}

/** A captured iPXE ROM DISCOVER, the base for hand-made malformed variants. */
const IPXE_DISCOVER = clientPackets('bios-ipxe-rom.pcap')[0]!;

describe('captured packets', () => {
  for (const capture of CAPTURES) {
    test(`${capture}: every DHCP packet decodes, and re-encodes to the same bytes`, () => {
      const datagrams = dhcpDatagrams(capture);
      assert.ok(datagrams.length >= 6, 'a DISCOVER/OFFER/REQUEST/ACK exchange at least');
      for (const d of datagrams) {
        const p = decodeOk(d.payload);
        assert.equal(p.op, d.sport === 68 ? BOOTREQUEST : BOOTREPLY);
        assert.equal(p.mac, MAC);
        const again = encodeOk(p, 1500);
        // decode → encode → decode is the identity on the typed packet ...
        assert.deepEqual(decodeOk(again), p);
        // ... and the bytes come back identical: these firmware (and dnsmasq) send no Pad options between options,
        // end with End, and zero-fill the rest up to 300 octets exactly as the encoder does (see the control test).
        assert.ok(again.equals(d.payload), `${capture}: re-encoded bytes differ`);
      }
    });
  }

  test('control: Pad options and junk after End are a quirk the encoder does not reproduce', () => {
    const p = decodeOk(IPXE_DISCOVER);
    // Insert two Pad octets after option 53 and put junk after End: same options, different bytes.
    const padded = Buffer.concat([IPXE_DISCOVER.subarray(0, 243), Buffer.from([0, 0]), IPXE_DISCOVER.subarray(243)]);
    const withJunk = Buffer.concat([padded, Buffer.from('junk')]);
    const q = decodeOk(withJunk);
    assert.deepEqual(q, p);
    const again = encodeOk(q, 1500);
    assert.ok(!again.equals(withJunk));
    assert.ok(again.equals(IPXE_DISCOVER));
  });

  test('iPXE ROM DISCOVER and REQUEST: every field clients.md lists', () => {
    const packets = clientPackets('bios-ipxe-rom.pcap').map(decodeOk);
    const d = packets[0]!;
    assert.deepEqual(d.optionOrder, [53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
    assert.equal(d.options.messageType, MessageType.Discover);
    assert.equal(isBroadcast(d), false);
    assert.deepEqual(d.options.maxMessageSize, 1472);
    assert.deepEqual(d.options.clientSystemArchitecture, [0]);
    assert.deepEqual(d.options.clientNetworkInterfaceIdentifier, { type: 1, major: 2, minor: 1 });
    assert.equal(d.options.vendorClassIdentifier, 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual(d.options.userClass, { format: 'string', value: 'iPXE' });
    assert.deepEqual(
      d.options.parameterRequestList,
      [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203],
    );
    assert.deepEqual(d.options.clientIdentifier, Buffer.from('015254' + '00c00264', 'hex'));
    assert.deepEqual(d.options.clientMachineIdentifier, { type: 0, uuid: '00000000-0000-0000-0000-000000000000' });
    assert.deepEqual(d.options.ipxe?.busId, Buffer.from('018086100e', 'hex'));
    assert.equal(d.options.ipxe?.version, '1.0.0');
    assert.deepEqual(d.options.ipxe?.features, {
      dns: 1,
      http: 1,
      iscsi: 1,
      aoe: 1,
      tftp: 1,
      nfs: 1,
      elf: 1,
      multiboot: 1,
      bzimage: 1,
      pxe: 1,
      pxeext: 2,
      menu: 1,
    });
    assert.equal(Object.hasOwn(d.options.ipxe?.features ?? {}, 'https'), false, 'this build has no HTTPS');
    assert.equal(d.options.raw, undefined, 'every option the client sent has a typed value');

    assert.equal(packets[1]!.options.messageType, MessageType.Discover, 'retransmitted after 1 s');
    const r = packets.find((p) => p.options.messageType === MessageType.Request)!;
    assert.equal(r.xid, d.xid);
    assert.deepEqual(r.optionOrder, [53, 57, 93, 94, 60, 77, 55, 175, 61, 97, 54, 50]);
    assert.equal(r.options.serverIdentifier, '192.0.2.1');
    assert.equal(r.options.requestedIpAddress, '192.0.2.192');
  });

  test('OVMF firmware PXE: option order, broadcast flag, 57 differs between DISCOVER and REQUEST', () => {
    const [discover, req] = clientPackets('uefi-chainload.pcap').map(decodeOk);
    assert.deepEqual(discover!.optionOrder, [53, 57, 55, 97, 94, 93, 60]);
    assert.equal(isBroadcast(discover!), true);
    assert.equal(discover!.secs, 0);
    assert.equal(discover!.options.maxMessageSize, 1472);
    assert.equal(req!.options.messageType, MessageType.Request);
    assert.equal(req!.options.maxMessageSize, 65280);
    assert.deepEqual(discover!.options.clientNetworkInterfaceIdentifier, { type: 1, major: 3, minor: 0 });
    for (const p of [discover!, req!]) {
      assert.equal(p.options.clientIdentifier, undefined);
      assert.equal(p.options.userClass, undefined);
      assert.equal(p.options.ipxe, undefined);
    }
    const e1000 = decodeOk(clientPackets('uefi-chainload-e1000-menu.pcap')[0]!);
    assert.deepEqual(e1000.options.clientNetworkInterfaceIdentifier, { type: 1, major: 3, minor: 1 });
  });

  test('dnsmasq replies decode: bootfile with its trailing NUL, lease times, addresses', () => {
    const offer = decodeOk(dhcpDatagrams('uefi-chainload.pcap').find((d) => d.sport === 67)!.payload);
    assert.equal(offer.options.messageType, MessageType.Offer);
    assert.equal(offer.options.bootfileName, 'snponly.efi\0');
    assert.equal(offer.yiaddr, '192.0.2.192');
    assert.equal(offer.options.subnetMask, '255.255.255.0');
    assert.equal(offer.options.leaseTime, 3600);
  });
});

/** Builds options-field bytes from [code, bytes] pairs, then End. */
function withOptions(...opts: (number[] | Buffer)[]): Buffer {
  return Buffer.concat([IPXE_DISCOVER.subarray(0, 240), ...opts.map((o) => Buffer.from(o)), Buffer.from([255])]);
}

describe('malformed input gives a stable error code', () => {
  const cases: [string, Buffer, string][] = [
    ['empty', Buffer.alloc(0), 'TRUNCATED_HEADER'],
    ['235 octets', IPXE_DISCOVER.subarray(0, 235), 'TRUNCATED_HEADER'],
    ['header without cookie', IPXE_DISCOVER.subarray(0, 236), 'BAD_COOKIE'],
    ['wrong cookie', Buffer.concat([IPXE_DISCOVER.subarray(0, 236), Buffer.from('63825364', 'hex')]), 'BAD_COOKIE'],
    ['op 3', Buffer.concat([Buffer.from([3]), IPXE_DISCOVER.subarray(1)]), 'BAD_OP'],
    [
      'hlen 17',
      Buffer.concat([IPXE_DISCOVER.subarray(0, 2), Buffer.from([17]), IPXE_DISCOVER.subarray(3)]),
      'BAD_HLEN',
    ],
    ['option past the end', IPXE_DISCOVER.subarray(0, 250), 'OPTION_OVERRUN'],
    ['code without length', Buffer.concat([IPXE_DISCOVER.subarray(0, 240), Buffer.from([53])]), 'OPTION_OVERRUN'],
    ['53 of length 0', withOptions([53, 0]), 'ZERO_LENGTH'],
    ['60 of length 0', withOptions([53, 1, 1], [60, 0]), 'ZERO_LENGTH'],
    ['54 of length 3', withOptions([53, 1, 1], [54, 3, 1, 2, 3]), 'BAD_LENGTH'],
    ['93 of odd length', withOptions([53, 1, 1], [93, 3, 0, 0, 7]), 'BAD_LENGTH'],
    ['61 of length 1', withOptions([53, 1, 1], [61, 1, 1]), 'BAD_LENGTH'],
    ['52 = 4', withOptions([53, 1, 1], [52, 1, 4]), 'BAD_OVERLOAD'],
    ['52 of length 2', withOptions([53, 1, 1], [52, 2, 1, 1]), 'BAD_OVERLOAD'],
    ['175 sub-option past its end', withOptions([53, 1, 1], [175, 3, 0x13, 5, 1]), 'SUBOPTION_OVERRUN'],
    ['82 sub-option past its end', withOptions([53, 1, 1], [82, 2, 1, 9]), 'SUBOPTION_OVERRUN'],
    ['119 pointer forwards', withOptions([53, 1, 1], [119, 4, 0xc0, 2, 0, 0]), 'BAD_DOMAIN_NAME'],
    ['119 pointer to itself', withOptions([53, 1, 1], [119, 2, 0xc0, 0]), 'BAD_DOMAIN_NAME'],
    ['119 label past the end', withOptions([53, 1, 1], [119, 3, 5, 0x61, 0x62]), 'BAD_DOMAIN_NAME'],
  ];
  for (const [name, buf, code] of cases) {
    test(name, () => {
      const r = decodePacket(buf);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, code);
    });
  }

  test('52 inside an overloaded field', () => {
    const buf = withOptions([53, 1, 1], [52, 1, 1]);
    Buffer.from([52, 1, 1, 255]).copy(buf, 108);
    const r = decodePacket(buf);
    assert.equal(!r.ok && r.error.code, 'BAD_OVERLOAD');
  });

  test('control: the well-formed variants decode', () => {
    assert.ok(decodePacket(withOptions([53, 1, 1], [54, 4, 192, 0, 2, 1], [93, 2, 0, 7], [61, 2, 1, 2])).ok);
    // The option field may end without End (the field simply runs out).
    assert.ok(decodePacket(Buffer.concat([IPXE_DISCOVER.subarray(0, 240), Buffer.from([53, 1, 1])])).ok);
    // An unknown option may be empty (e.g. 80 rapid commit) and is kept as bytes.
    const p = decodeOk(withOptions([53, 1, 1], [80, 0]));
    assert.deepEqual(p.options.raw, new Map([[80, Buffer.alloc(0)]]));
  });
});

describe('option values', () => {
  test('chaddr: all 16 octets kept; a MAC only for Ethernet (htype 1, hlen 6)', () => {
    const p = decodeOk(IPXE_DISCOVER);
    assert.equal(p.mac, MAC);
    assert.deepEqual(p.chaddr, macToChaddr(MAC));
    const long = Buffer.from(IPXE_DISCOVER);
    long[2] = 8; // hlen 8: not an Ethernet MAC
    assert.equal(decodeOk(long).mac, undefined);
    const ib = Buffer.from(IPXE_DISCOVER);
    ib[1] = 32; // InfiniBand
    assert.equal(decodeOk(ib).mac, undefined);
  });

  test('97: a GUID reads in SMBIOS byte order (the first three fields little-endian) and round-trips', () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    assert.equal(guidToUuid(guid), '33221100-5544-7766-8899-aabbccddeeff');
    for (let i = 0; i < 500; i++) {
      const g = randomBytes(16);
      const uuid = guidToUuid(g);
      assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(uuidToGuid(uuid), g);
    }
  });

  test('77: the bare string of iPXE and the RFC 3004 instances are told apart', () => {
    const bare = decodeOk(withOptions([53, 1, 1], [77, 4, ...Buffer.from('iPXE')]));
    assert.deepEqual(bare.options.userClass, { format: 'string', value: 'iPXE' });
    const rfc = decodeOk(withOptions([53, 1, 1], [77, 9, 4, ...Buffer.from('iPXE'), 3, ...Buffer.from('foo')]));
    assert.deepEqual(rfc.options.userClass, { format: 'rfc3004', instances: ['iPXE', 'foo'] });
    for (const p of [bare, rfc]) assert.deepEqual(decodeOk(encodeOk(p)).options.userClass, p.options.userClass);
    // Length prefix that does not use the data exactly: a bare string after all.
    const odd = decodeOk(withOptions([53, 1, 1], [77, 3, 5, 0x61, 0x62]));
    assert.deepEqual(odd.options.userClass, { format: 'string', value: '\x05ab' });
  });

  test('97: a type 0 GUID is a UUID with its first three fields little-endian', () => {
    const guid = Buffer.from('78563412bc9af0de1122334455667788', 'hex');
    const p = decodeOk(withOptions([53, 1, 1], [97, 17, 0, ...guid]));
    assert.deepEqual(p.options.clientMachineIdentifier, { type: 0, uuid: '12345678-9abc-def0-1122-334455667788' });
    const bytes = encodeOk(p);
    assert.ok(bytes.includes(Buffer.concat([Buffer.from([97, 17, 0]), guid])));
    // Another type, or a wrong length, is kept as bytes.
    const other = decodeOk(withOptions([53, 1, 1], [97, 3, 1, 0xaa, 0xbb]));
    assert.deepEqual(other.options.clientMachineIdentifier, { type: 1, id: Buffer.from('aabb', 'hex') });
  });

  test('119: compressed names (the RFC 3397 §2 example) decode; encoding round-trips', () => {
    const data = Buffer.concat([
      Buffer.from([3, ...Buffer.from('eng'), 5, ...Buffer.from('apple'), 3, ...Buffer.from('com'), 0]),
      Buffer.from([9, ...Buffer.from('marketing'), 0xc0, 4]),
    ]);
    const p = decodeOk(withOptions([53, 1, 1], [119, data.length, ...data]));
    assert.deepEqual(p.options.domainSearch, ['eng.apple.com', 'marketing.apple.com']);
    assert.deepEqual(decodeOk(encodeOk(p)).options.domainSearch, p.options.domainSearch);
  });

  test('43: PXE sub-options typed when option 60 says PXEClient, bytes otherwise', () => {
    const pxe: DhcpOptions['vendorSpecific'] = {
      discoveryControl: 7,
      bootServers: [{ type: 0x8000, addresses: ['192.0.2.1', '192.0.2.2'] }],
      bootMenu: [{ type: 0x8000, description: 'bootherd' }],
      menuPrompt: { timeout: 0, prompt: 'PXE' },
      bootItem: { type: 0x8000, layer: 0 },
    };
    const p = reply({ messageType: MessageType.Offer, vendorClassIdentifier: 'PXEClient', vendorSpecific: pxe });
    const bytes = encodeOk(p);
    assert.deepEqual(decodeOk(bytes).options.vendorSpecific, pxe);
    // PXE 2.1: the sub-options end with 255.
    const at = bytes.indexOf(Buffer.from([43]), 240);
    assert.equal(bytes[at + 2 + bytes[at + 1]! - 1], 255);

    const notPxe = decodeOk(withOptions([53, 1, 1], [60, 3, ...Buffer.from('MSF')], [43, 2, 1, 2]));
    assert.equal(notPxe.options.vendorSpecific, undefined);
    assert.deepEqual(notPxe.options.raw?.get(43), Buffer.from([1, 2]));
  });

  test('175.176 no-pxedhcp is sent as 175 len 3: b0 01 01', () => {
    const bytes = encodeOk(reply({ messageType: MessageType.Offer, ipxe: { noPxeDhcp: true } }));
    assert.ok(bytes.includes(Buffer.from([175, 3, 0xb0, 1, 1])));
    assert.deepEqual(decodeOk(bytes).options.ipxe, { noPxeDhcp: true });
  });

  test('typed values that cannot be encoded are a BAD_VALUE error, not a throw', () => {
    const bad: [string, DhcpPacket][] = [
      ['server id', reply({ messageType: 2, serverIdentifier: '192.0.2.256' })],
      ['yiaddr', reply({ messageType: 2 }, { yiaddr: 'nope' })],
      ['sname of 64 octets', reply({ messageType: 2 }, { sname: 'x'.repeat(64) })],
      ['lease time', reply({ messageType: 2, leaseTime: 2 ** 32 })],
      ['uuid', reply({ messageType: 2, clientMachineIdentifier: { type: 0, uuid: 'not-a-uuid' } })],
      ['feature', reply({ messageType: 2, ipxe: { features: { teleport: 1 } } })],
      ['raw 52', reply({ messageType: 2, raw: new Map([[52, Buffer.from([1])]]) })],
    ];
    for (const [name, p] of bad) {
      const r = encodePacket(p);
      assert.equal(!r.ok && r.error.code, 'BAD_VALUE', name);
    }
    assert.ok(encodePacket(reply({ messageType: 2, serverIdentifier: '192.0.2.255' })).ok, 'control');
  });
});

describe('encoding', () => {
  test('a short reply is padded with zeros to the 300-octet BOOTP minimum, after End', () => {
    const bytes = encodeOk(reply({ messageType: MessageType.Offer, serverIdentifier: '192.0.2.1' }));
    assert.equal(bytes.length, BOOTP_MIN_SIZE);
    assert.deepEqual([...bytes.subarray(240, 250)], [53, 1, 2, 54, 4, 192, 0, 2, 1, 255]);
    assert.ok(bytes.subarray(250).every((b) => b === 0));
  });

  test('default order: 53, 54, then by code, 82 last', () => {
    const p = reply({
      relayAgentInformation: [{ code: 1, data: Buffer.from('eth0') }],
      bootfileName: 'undionly.kpxe',
      subnetMask: '255.255.255.0',
      serverIdentifier: '192.0.2.1',
      messageType: MessageType.Offer,
    });
    assert.deepEqual(
      optionInstances(encodeOk(p)).map(([c]) => c),
      [53, 54, 1, 67, 82],
    );
  });

  test('RFC 3396: an option over 255 octets is split into instances and concatenated back', () => {
    const long = Buffer.alloc(600, 0x61);
    const p = reply({ messageType: MessageType.Ack, raw: new Map([[224, long]]) });
    const bytes = encodeOk(p, 1500);
    assert.deepEqual(
      optionInstances(bytes).filter(([c]) => c === 224),
      [
        [224, 255],
        [224, 255],
        [224, 90],
      ],
    );
    assert.deepEqual(decodeOk(bytes).options.raw?.get(224), long);
  });

  test('RFC 3396: repeated instances are concatenated on decode, at the first instance position', () => {
    const p = decodeOk(
      withOptions([53, 1, 1], [60, 3, ...Buffer.from('PXE')], [93, 2, 0, 7], [60, 6, ...Buffer.from('Client')]),
    );
    assert.equal(p.options.vendorClassIdentifier, 'PXEClient');
    assert.deepEqual(p.optionOrder, [53, 60, 93]);
  });

  test('options that do not fit overload the file field, then sname (option 52)', () => {
    // 576-octet client: 308 octets of options field; these 437 octets of options need file and sname too.
    const options: DhcpOptions = {
      messageType: MessageType.Ack,
      serverIdentifier: '192.0.2.1',
      bootfileName: `http://192.0.2.1/boot.ipxe?${'x'.repeat(200)}`,
      domainSearch: ['a.example.org', 'b.example.org', 'c.example.org', 'd.example.org', 'e.example.org'],
      routers: Array.from({ length: 30 }, (_, i) => `192.0.2.${i + 1}`),
    };
    const bytes = encodeOk(reply(options));
    assert.ok(bytes.length <= 548);
    assert.deepEqual([...bytes.subarray(240, 246)], [53, 1, 5, 52, 1, 3], '52 right after 53; file and sname used');
    const p = decodeOk(bytes);
    assert.equal(p.options.overload, 3);
    const { overload: _, ...rest } = p.options;
    assert.deepEqual(rest, options);
    assert.equal(p.file, '');
    assert.equal(p.sname, '');

    // With a larger client limit no overload is needed.
    const big = decodeOk(encodeOk(reply(options), 1500));
    assert.equal(big.options.overload, undefined);

    // A file field that is in use is not overloaded: sname only, then too large.
    const withFile = encodePacket(reply(options, { file: 'undionly.kpxe' }));
    assert.equal(!withFile.ok && withFile.error.code, 'TOO_LARGE');
    const smaller = { ...options, routers: options.routers!.slice(0, 10) };
    const snameOnly = decodeOk(encodeOk(reply(smaller, { file: 'undionly.kpxe' })));
    assert.equal(snameOnly.options.overload, 2);
    assert.equal(snameOnly.file, 'undionly.kpxe');
    assert.deepEqual(snameOnly.options.routers, smaller.routers);
  });

  test("never larger than the client's max message size: TOO_LARGE when even overload cannot fit it", () => {
    assert.equal(maxDhcpPayload(undefined), 548);
    assert.equal(maxDhcpPayload(300), 548, 'below the legal minimum of 576');
    assert.equal(maxDhcpPayload(1472), 1444);
    assert.equal(maxDhcpPayload(65280), 1472, 'capped at the Ethernet MTU');
    const options: DhcpOptions = { messageType: MessageType.Ack, raw: new Map([[224, Buffer.alloc(700, 1)]]) };
    const r = encodePacket(reply(options));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'TOO_LARGE');
    const fits = encodeOk(reply(options), 1472);
    assert.ok(fits.length <= 1444);
    assert.deepEqual(decodeOk(fits).options.raw?.get(224), Buffer.alloc(700, 1));
  });

  test('82 from a relay is echoed byte for byte, as the last option', () => {
    const agent = Buffer.from([1, 4, ...Buffer.from('eth7'), 2, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    // A relay appends 82 to the client's DISCOVER: the encoded DISCOVER up to its End, then 82, then End.
    const discover = encodeOk(request({ messageType: MessageType.Discover }, { giaddr: '198.51.100.1', hops: 1 }));
    const relayed = Buffer.concat([
      discover.subarray(0, 243),
      Buffer.from([82, agent.length]),
      agent,
      Buffer.from([255]),
    ]);
    const d = decodeOk(relayed);
    assert.deepEqual(d.options.relayAgentInformation, [
      { code: 1, data: Buffer.from('eth7') },
      { code: 2, data: Buffer.from('001122334455', 'hex') },
    ]);
    const offer = encodeOk(
      reply(
        {
          messageType: MessageType.Offer,
          relayAgentInformation: d.options.relayAgentInformation!,
          serverIdentifier: '198.51.100.2',
        },
        { giaddr: d.giaddr, xid: d.xid },
      ),
    );
    const instances = optionInstances(offer);
    assert.deepEqual(instances.at(-1), [82, agent.length]);
    assert.ok(offer.includes(Buffer.concat([Buffer.from([82, agent.length]), agent, Buffer.from([255])])));
  });
});
