import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodePacket,
  encodeRequest,
  negotiateReadOptions,
  Opcode,
  type TftpPacket,
} from '../../../src/tftp/packet.ts';
import { readPcapFile, type UdpDatagram } from '../../lib/pcap.ts';

const CAPTURES = join(import.meta.dirname, '../../fixtures/captures');

/** TFTP packets of a capture: the RRQs to port 69 and everything on the ephemeral ports that follow. */
function tftpDatagrams(name: string): UdpDatagram[] {
  const all = readPcapFile(join(CAPTURES, `${name}.pcap`));
  return all.filter((d) => d.dport === 69 || (d.sport > 1023 && d.dport > 1023));
}

function decodeOk(buf: Buffer): TftpPacket {
  const r = decodePacket(buf);
  if (!r.ok) assert.fail(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.packet;
}

const limits = { maxBlksize: 1468, maxWindowsize: 64 };

describe('golden packets from real firmware', () => {
  test("OVMF's size probe: RRQ tsize=0 blksize=1468 windowsize=4, OACK, ERROR 8, second RRQ", () => {
    const d = tftpDatagrams('uefi-chainload');
    assert.equal(d.length, 6);
    const [rrq1, oack1, err, rrq2, oack2, ack0] = d.map((x) => x.payload) as [
      Buffer,
      Buffer,
      Buffer,
      Buffer,
      Buffer,
      Buffer,
    ];
    const p = decodeOk(rrq1);
    assert.deepEqual(p, {
      op: Opcode.RRQ,
      filename: 'snponly.efi',
      mode: 'octet',
      options: new Map([
        ['tsize', '0'],
        ['blksize', '1468'],
        ['windowsize', '4'],
      ]),
    });
    // Re-encoding gives the client's exact bytes.
    assert.deepEqual(encodePacket(p), rrq1);

    // dnsmasq's OACK (no windowsize support) round-trips byte for byte.
    const o = decodeOk(oack1);
    assert.deepEqual(o, {
      op: Opcode.OACK,
      options: new Map([
        ['blksize', '1468'],
        ['tsize', '173792'],
      ]),
    });
    assert.deepEqual(encodeOack(new Map([...(o as { options: Map<string, string> }).options])), oack1);

    const e = decodeOk(err);
    assert.deepEqual(e, { op: Opcode.ERROR, code: 8, message: 'User aborted the transfer' });
    assert.deepEqual(encodePacket(e), err);

    const p2 = decodeOk(rrq2);
    assert.equal(p2.op, Opcode.RRQ);
    assert.deepEqual(
      (p2 as unknown as { options: Map<string, string> }).options,
      new Map([
        ['blksize', '1468'],
        ['windowsize', '4'],
      ]),
    );
    assert.deepEqual(decodeOk(oack2), { op: Opcode.OACK, options: new Map([['blksize', '1468']]) });
    assert.deepEqual(decodeOk(ack0), { op: Opcode.ACK, block: 0 });
    assert.deepEqual(encodeAck(0), ack0);
  });

  test('our negotiation for the OVMF RRQ grants windowsize and answers tsize, in the order asked', () => {
    const rrq = tftpDatagrams('uefi-chainload')[0]!.payload;
    const p = decodeOk(rrq);
    assert.equal(p.op, Opcode.RRQ);
    if (p.op !== Opcode.RRQ) return;
    const n = negotiateReadOptions(p.options, 173792, limits);
    assert.equal(n.blksize, 1468);
    assert.equal(n.windowsize, 4);
    assert.deepEqual(
      encodeOack(n.oack),
      Buffer.from('\x00\x06tsize\x00173792\x00blksize\x001468\x00windowsize\x004\x00', 'latin1'),
    );
  });

  test("iPXE's RRQ blksize=1432 tsize=0 and dnsmasq's OACK", () => {
    const [rrq, oack, ack0] = tftpDatagrams('bios-chainload-undionly').map((x) => x.payload) as [
      Buffer,
      Buffer,
      Buffer,
    ];
    assert.deepEqual(rrq, Buffer.from('\x00\x01undionly.kpxe\x00octet\x00blksize\x001432\x00tsize\x000\x00', 'latin1'));
    const p = decodeOk(rrq);
    assert.deepEqual(p, {
      op: Opcode.RRQ,
      filename: 'undionly.kpxe',
      mode: 'octet',
      options: new Map([
        ['blksize', '1432'],
        ['tsize', '0'],
      ]),
    });
    assert.deepEqual(encodePacket(p), rrq);
    if (p.op !== Opcode.RRQ) return;
    const n = negotiateReadOptions(p.options, 74213, limits);
    // The same answer dnsmasq gave, byte for byte.
    assert.deepEqual(encodeOack(n.oack), oack);
    assert.deepEqual(decodeOk(ack0), { op: Opcode.ACK, block: 0 });
  });
});

describe('codec', () => {
  test('DATA, ACK, ERROR round-trip; blocks are 16-bit', () => {
    const data = Buffer.from('hello');
    assert.deepEqual(decodeOk(encodeData(7, data)), { op: Opcode.DATA, block: 7, data });
    assert.deepEqual(encodeData(0x10001, Buffer.alloc(0)), Buffer.from([0, 3, 0, 1]));
    assert.deepEqual(decodeOk(encodeAck(65535)), { op: Opcode.ACK, block: 65535 });
    assert.deepEqual(encodeError(1, 'nope'), Buffer.from('\x00\x05\x00\x01nope\x00', 'latin1'));
  });

  test('mode and option names are case-insensitive; values kept', () => {
    const p = decodeOk(Buffer.from('\x00\x01F\x00OCTET\x00BlkSize\x00512\x00', 'latin1'));
    assert.deepEqual(p, { op: Opcode.RRQ, filename: 'F', mode: 'octet', options: new Map([['blksize', '512']]) });
  });

  test('trailing NUL padding after the options is tolerated', () => {
    const p = decodeOk(Buffer.from('\x00\x01f\x00octet\x00tsize\x000\x00\x00\x00\x00', 'latin1'));
    assert.deepEqual((p as unknown as { options: Map<string, string> }).options, new Map([['tsize', '0']]));
  });

  test('WRQ decodes (the server refuses it, the codec does not)', () => {
    const b = encodeRequest({ op: Opcode.WRQ, filename: 'up', mode: 'octet' });
    assert.deepEqual(decodeOk(b), { op: Opcode.WRQ, filename: 'up', mode: 'octet', options: new Map() });
  });

  const malformed: [string, string, string][] = [
    ['empty', '', 'TOO_SHORT'],
    ['one byte', '\x00', 'TOO_SHORT'],
    ['opcode 0', '\x00\x00', 'BAD_OPCODE'],
    ['opcode 7', '\x00\x07x\x00', 'BAD_OPCODE'],
    ['RRQ without NUL', '\x00\x01file', 'UNTERMINATED'],
    ['RRQ without mode', '\x00\x01file\x00', 'TOO_SHORT'],
    ['RRQ with empty name', '\x00\x01\x00octet\x00', 'BAD_STRING'],
    ['option without value', '\x00\x01f\x00octet\x00tsize\x00', 'BAD_OPTIONS'],
    ['option twice', '\x00\x01f\x00octet\x00tsize\x000\x00TSIZE\x000\x00', 'BAD_OPTIONS'],
    ['option value unterminated', '\x00\x01f\x00octet\x00tsize\x000', 'UNTERMINATED'],
    ['short ACK', '\x00\x04\x00', 'TOO_SHORT'],
    ['short DATA', '\x00\x03\x00', 'TOO_SHORT'],
    ['short ERROR', '\x00\x05\x00', 'TOO_SHORT'],
  ];
  for (const [name, bytes, code] of malformed) {
    test(`malformed: ${name} → ${code}`, () => {
      const r = decodePacket(Buffer.from(bytes, 'latin1'));
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, code);
    });
  }
  test('control: the well-formed neighbour of each malformed case decodes', () => {
    assert.equal(decodePacket(Buffer.from('\x00\x01f\x00octet\x00tsize\x000\x00', 'latin1')).ok, true);
    assert.equal(decodePacket(Buffer.from('\x00\x04\x00\x01', 'latin1')).ok, true);
  });
});

describe('negotiateReadOptions', () => {
  const neg = (o: Record<string, string>, ...rest: [size?: number | undefined, l?: typeof limits]) =>
    negotiateReadOptions(new Map(Object.entries(o)), rest.length > 0 ? rest[0] : 1000, rest[1] ?? limits);

  test('no options: RFC 1350 defaults and no OACK', () => {
    const n = neg({});
    assert.deepEqual([n.blksize, n.windowsize, n.timeoutMs, n.oack.size], [512, 1, undefined, 0]);
  });
  test('blksize is capped by the configured maximum and by 65464; below 8 or junk is ignored', () => {
    assert.equal(neg({ blksize: '9000' }).blksize, 1468);
    assert.equal(neg({ blksize: '9000' }).oack.get('blksize'), '1468');
    assert.equal(neg({ blksize: '70000' }, 1, { maxBlksize: 100000, maxWindowsize: 1 }).blksize, 65464);
    assert.equal(neg({ blksize: '8' }).blksize, 8);
    for (const bad of ['7', '0', '-1', '1e3', ' 512', '', '0x200']) {
      const n = neg({ blksize: bad });
      assert.equal(n.blksize, 512, bad);
      assert.equal(n.oack.has('blksize'), false, bad);
    }
  });
  test('tsize answered with the size when known, left out when not', () => {
    assert.equal(neg({ tsize: '0' }, 70000).oack.get('tsize'), '70000');
    assert.equal(neg({ tsize: '0' }, 0).oack.get('tsize'), '0');
    assert.equal(neg({ tsize: '0' }, undefined).oack.has('tsize'), false);
  });
  test('timeout 1..255 echoed and used; others ignored', () => {
    assert.equal(neg({ timeout: '3' }).timeoutMs, 3000);
    assert.equal(neg({ timeout: '3' }).oack.get('timeout'), '3');
    assert.equal(neg({ timeout: '0' }).oack.has('timeout'), false);
    assert.equal(neg({ timeout: '256' }).timeoutMs, undefined);
  });
  test('windowsize granted up to the maximum; 0 ignored', () => {
    assert.equal(neg({ windowsize: '16' }).windowsize, 16);
    assert.equal(neg({ windowsize: '1000' }).oack.get('windowsize'), '64');
    assert.equal(neg({ windowsize: '0' }).oack.has('windowsize'), false);
  });
  test('unknown options are left out of the OACK', () => {
    const n = neg({ multicast: '', foo: 'bar', tsize: '0' });
    assert.deepEqual([...n.oack.keys()], ['tsize']);
  });
});
