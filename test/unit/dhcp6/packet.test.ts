/**
 * The DHCPv6 codec on real bytes: OVMF's PXEv6 SOLICIT (dhcpv6-ovmf-pxe-solicit.pcap, EDK2 2022.11 on a virtio NIC)
 * and iPXE's SOLICIT/REQUEST with bootherd's ADVERTISE/REPLY (dhcpv6-ipxe.pcap), OVMF's UEFI HTTPv6 boot with
 * bootherd's answers (dhcpv6-ovmf-http.pcap), both from the IPv6 boot test.
 * Malformed input is a typed error, never a throw.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { macFromDuid, macFromEui64 } from '../../../src/dhcp6/addr.ts';
import { factsFromMessage, macOf } from '../../../src/dhcp6/facts.ts';
import { type Dhcp6Message, decodeMessage, encodeMessage, Msg, Opt } from '../../../src/dhcp6/packet.ts';
import { bytesToIpv6, ipv6ToBytes, parsePrefix } from '../../../src/net/ipv6.ts';
import { CAPTURES_DIR } from '../dhcp/fixtures.ts';
import { readPcap6 } from './pcap6.ts';

const OVMF = readPcap6(join(CAPTURES_DIR, 'dhcpv6-ovmf-pxe-solicit.pcap'));
const IPXE = readPcap6(join(CAPTURES_DIR, 'dhcpv6-ipxe.pcap'));
const HTTP = readPcap6(join(CAPTURES_DIR, 'dhcpv6-ovmf-http.pcap'));

function decode(buf: Buffer): Dhcp6Message {
  const r = decodeMessage(buf);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.message;
}

describe('OVMF PXEv6 SOLICIT (EDK2)', () => {
  const d = OVMF[0]!;
  const m = decode(d.payload);

  test('header and the options EDK2 sends', () => {
    assert.equal(d.dst, 'ff02::1:2');
    assert.equal(d.dport, 547);
    assert.equal(m.type, Msg.Solicit);
    assert.equal(m.xid, 0x2190a7);
    assert.equal(m.options.elapsed, 0);
    assert.deepEqual(m.options.oro, [Opt.BootfileUrl, Opt.BootfileParam, Opt.DnsServers, Opt.VendorClass]);
    assert.deepEqual(m.options.clientArch, [7]);
    assert.deepEqual(m.options.nii, { type: 1, major: 3, minor: 0 });
    assert.deepEqual(m.options.vendorClass, [{ enterprise: 343, data: ['PXEClient:Arch:00007:UNDI:003000'] }]);
    assert.equal(m.options.iaNa.length, 1);
    assert.equal(m.options.iaNa[0]?.iaid, 4201504767);
    assert.equal(m.options.iaNa[0]?.addresses.length, 0);
    assert.equal(m.options.rapidCommit, undefined);
  });

  test('the DUID is DUID-LLT with the NIC MAC; the facts are an x64 UEFI PXE client', () => {
    assert.equal(m.options.clientId?.readUInt16BE(0), 1);
    assert.equal(macOf(m, d.src), '52:54:00:e2:e6:01');
    assert.deepEqual(factsFromMessage(m, '52:54:00:e2:e6:01', 'br0'), {
      mac: '52:54:00:e2:e6:01',
      dhcp6: true,
      arch: 7,
      platform: 'efi',
      buildarch: 'x86_64',
      vendorClass: 'PXEClient:Arch:00007:UNDI:003000',
      iface: 'br0',
    });
  });

  test('retransmissions differ only in elapsed time (hundredths of a second)', () => {
    const all = OVMF.map((x) => decode(x.payload));
    assert.deepEqual(
      all.map((x) => x.options.elapsed),
      [0, 500, 1400, 3100],
    );
    for (const x of all) assert.deepEqual({ ...x, options: { ...x.options, elapsed: 0 } }, m);
  });

  test('decode(encode(m)) is m', () => {
    assert.deepEqual(decode(encodeMessage(m)), m);
  });
});

describe("iPXE's DHCPv6 and bootherd's answers", () => {
  const messages = IPXE.map((d) => ({ d, m: decode(d.payload) }));
  const solicit = messages.find((x) => x.m.type === Msg.Solicit)!;

  test('iPXE sends user class iPXE and a DUID-UUID: its MAC comes from the EUI-64 link-local source', () => {
    assert.deepEqual(solicit.m.options.userClass, ['iPXE']);
    assert.equal(solicit.m.options.clientId?.readUInt16BE(0), 4);
    assert.equal(macFromDuid(solicit.m.options.clientId!), undefined);
    assert.equal(macOf(solicit.m, `${solicit.d.src}%br0`), '52:54:00:e2:e6:01');
    assert.ok(solicit.m.options.oro?.includes(Opt.BootfileUrl));
    const facts = factsFromMessage(solicit.m, '52:54:00:e2:e6:01');
    assert.equal(facts.userClass, 'iPXE');
    assert.equal(facts.platform, 'efi');
  });

  test('ADVERTISE: same xid, preference 255, an address from the range, the script URL', () => {
    const adv = messages.find((x) => x.m.type === Msg.Advertise)!.m;
    assert.equal(adv.xid, solicit.m.xid);
    assert.equal(adv.options.preference, 255);
    assert.ok(adv.options.clientId?.equals(solicit.m.options.clientId!));
    assert.equal(adv.options.serverId?.readUInt16BE(0), 3);
    assert.match(adv.options.iaNa[0]?.addresses[0]?.address ?? '', /^2001:db8::1[0-9a-f]{2}$/);
    assert.equal(adv.options.bootfileUrl, 'http://[2001:db8::1]:8080/boot.ipxe');
  });

  test('REQUEST names the server; REPLY binds the same address', () => {
    const req = messages.find((x) => x.m.type === Msg.Request)!.m;
    const adv = messages.find((x) => x.m.type === Msg.Advertise)!.m;
    const rep = messages.filter((x) => x.m.type === Msg.Reply).pop()!.m;
    assert.ok(req.options.serverId?.equals(adv.options.serverId!));
    assert.equal(rep.options.iaNa[0]?.addresses[0]?.address, adv.options.iaNa[0]?.addresses[0]?.address);
    assert.equal(rep.options.iaNa[0]?.addresses[0]?.valid, 7200);
  });

  test('every captured message round-trips through the encoder', () => {
    for (const { m } of messages) assert.deepEqual(decode(encodeMessage(m)), m);
  });
});

describe('OVMF UEFI HTTPv6 boot (EDK2)', () => {
  const messages = HTTP.map((d) => ({ d, m: decode(d.payload) }));

  test('SOLICIT: arch 16 and vendor class HTTPClient; bootherd answers with HTTPClient and the binary by URL', () => {
    const solicit = messages.find((x) => x.m.type === Msg.Solicit)!.m;
    assert.deepEqual(solicit.options.clientArch, [16]);
    assert.deepEqual(solicit.options.vendorClass, [{ enterprise: 343, data: ['HTTPClient:Arch:00016:UNDI:003000'] }]);
    assert.ok(solicit.options.oro?.includes(Opt.BootfileUrl));
    const adv = messages.find((x) => x.m.type === Msg.Advertise && x.m.xid === solicit.xid)!.m;
    assert.deepEqual(adv.options.vendorClass, [{ enterprise: 343, data: ['HTTPClient'] }]);
    assert.equal(adv.options.bootfileUrl, 'http://[2001:db8::1]:8080/ipxe-bin/snponly.efi');
  });

  test('then its IP6 configuration solicits again, same DUID, another IAID, asking for DNS only', () => {
    const solicits = messages.filter((x) => x.m.type === Msg.Solicit).map((x) => x.m);
    const again = solicits[1]!;
    assert.ok(again.options.clientId?.equals(solicits[0]!.options.clientId!));
    assert.notEqual(again.options.iaNa[0]?.iaid, solicits[0]!.options.iaNa[0]?.iaid);
    assert.deepEqual(again.options.oro, [Opt.DnsServers]);
    assert.equal(again.options.clientArch, undefined);
  });
});

describe('malformed input is a typed error', () => {
  const good = OVMF[0]!.payload;

  test('every truncation decodes or fails with a code, never throws', () => {
    for (let n = 0; n < good.length; n++) {
      const r = decodeMessage(good.subarray(0, n));
      if (!r.ok) assert.match(r.error.code, /^(TOO_SHORT|OPTION_TRUNCATED|OPTION_LENGTH)$/);
    }
  });

  test('every single-byte corruption decodes or fails with a code', () => {
    for (let i = 0; i < good.length; i++) {
      for (const v of [0x00, 0xff, 0x3d]) {
        const bad = Buffer.from(good);
        bad[i] = v;
        const r = decodeMessage(bad);
        assert.ok(r.ok || typeof r.error.code === 'string');
      }
    }
  });

  test('codes: short, relay, duplicate client id, bad lengths', () => {
    const code = (b: Buffer) => {
      const r = decodeMessage(b);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(code(Buffer.from([1, 0, 0])), 'TOO_SHORT');
    assert.equal(code(Buffer.from([12, 0, 0, 0])), 'RELAY');
    const duid = Buffer.from('000100010203', 'hex');
    const opt = (c: number, d: Buffer) =>
      Buffer.concat([Buffer.from([c >> 8, c & 255, d.length >> 8, d.length & 255]), d]);
    assert.equal(code(Buffer.concat([Buffer.from([1, 0, 0, 1]), opt(1, duid), opt(1, duid)])), 'DUPLICATE_OPTION');
    assert.equal(code(Buffer.concat([Buffer.from([1, 0, 0, 1]), opt(8, Buffer.from([0]))])), 'OPTION_LENGTH');
    assert.equal(code(Buffer.concat([Buffer.from([1, 0, 0, 1]), opt(3, Buffer.alloc(11))])), 'OPTION_LENGTH');
    assert.equal(code(Buffer.concat([Buffer.from([1, 0, 0, 1]), opt(61, Buffer.alloc(0))])), 'OPTION_LENGTH');
    assert.equal(code(Buffer.from([1, 0, 0, 1, 0, 1, 0, 9, 0])), 'OPTION_TRUNCATED');
  });
});

describe('addresses', () => {
  test('RFC 5952 text and back', () => {
    for (const a of ['2001:db8::1', '::', '::1', 'fe80::5054:ff:fee2:e601', '2001:db8:0:1:1:1:1:1', '2001:0:0:1::1']) {
      assert.equal(bytesToIpv6(ipv6ToBytes(a)), a);
    }
    assert.equal(bytesToIpv6(ipv6ToBytes('2001:DB8:0:0:0:0:0:1')), '2001:db8::1');
    assert.equal(bytesToIpv6(ipv6ToBytes('::ffff:192.0.2.1')), '::ffff:c000:201');
  });

  test('prefixes and EUI-64', () => {
    assert.deepEqual(parsePrefix('2001:db8::7/64'), { network: 0x20010db8n << 96n, length: 64 });
    assert.equal(parsePrefix('192.0.2.0/24'), undefined);
    assert.equal(parsePrefix('2001:db8::/129'), undefined);
    assert.equal(macFromEui64('fe80::5054:ff:fee2:e601%br0'), '52:54:00:e2:e6:01');
    assert.equal(macFromEui64('fe80::1'), undefined);
  });
});
