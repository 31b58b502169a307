/** The shared pcap reader (test/lib/pcap.ts) on our captures, in both byte orders and timestamp resolutions. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPcap } from '../../lib/pcap.ts';
import { CAPTURES_DIR } from './fixtures.ts';

const LE = readFileSync(join(CAPTURES_DIR, 'bios-ipxe-rom.pcap'));

/** Rewrites a little-endian pcap big-endian (optionally with nanosecond timestamps). */
function toBigEndian(le: Buffer, nano: boolean): Buffer {
  const be = Buffer.from(le);
  be.writeUInt32BE(nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  be.writeUInt16BE(le.readUInt16LE(4), 4);
  be.writeUInt16BE(le.readUInt16LE(6), 6);
  for (const off of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(off), off);
  for (let off = 24; off < le.length; ) {
    const incl = le.readUInt32LE(off + 8);
    be.writeUInt32BE(le.readUInt32LE(off), off);
    be.writeUInt32BE(le.readUInt32LE(off + 4) * (nano ? 1000 : 1), off + 4);
    be.writeUInt32BE(incl, off + 8);
    be.writeUInt32BE(le.readUInt32LE(off + 12), off + 12);
    off += 16 + incl;
  }
  return be;
}

test('little-endian capture: UDP datagrams with addresses, ports and payloads', () => {
  const d = readPcap(LE);
  const dhcp = d.filter((x) => x.dport === 67);
  assert.ok(dhcp.length >= 3);
  assert.equal(dhcp[0]!.src, '0.0.0.0');
  assert.equal(dhcp[0]!.dst, '255.255.255.255');
  assert.equal(dhcp[0]!.sport, 68);
  assert.equal(dhcp[0]!.payload.length, 400);
  assert.equal(dhcp[0]!.payload.readUInt32BE(236), 0x63825363);
  assert.ok(d.every((x, i) => i === 0 || x.ts >= d[i - 1]!.ts));
  assert.ok(d[0]!.ts > 1.7e9);
});

test('big-endian, µs and ns: the same datagrams', () => {
  const want = readPcap(LE);
  for (const nano of [false, true]) {
    const got = readPcap(toBigEndian(LE, nano));
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const w = want[i]!;
      assert.deepEqual({ ...g, ts: undefined }, { ...w, ts: undefined });
      assert.ok(Math.abs(g.ts - w.ts) < 1e-6);
    });
  }
});

test('not a pcap, or not Ethernet: a clear error', () => {
  assert.throws(() => readPcap(Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), Buffer.alloc(28)])), /unknown magic/);
  const raw = Buffer.from(LE);
  raw.writeUInt32LE(101, 20); // LINKTYPE_RAW
  assert.throws(() => readPcap(raw), /not Ethernet/);
  assert.throws(() => readPcap(LE.subarray(0, LE.length - 1)), /runs past the end/);
});
