/**
 * The Router Advertisement bootherd sends beside DHCPv6, against the one captured in the IPv6 boot test
 * (dhcpv6-ipxe.pcap): router lifetime 0, M = O = 1, one Prefix Information option, on-link, A as configured.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ipv6ToBytes } from '../../../src/net/ipv6.ts';
import { bareRouterAdvertisement, routerAdvertisement } from '../../../src/net/ra.ts';
import { CAPTURES_DIR } from '../dhcp/fixtures.ts';
import { readIcmp6 } from './pcap6.ts';

const PREFIX = { bytes: ipv6ToBytes('2001:db8::'), length: 64, validSeconds: 7200, preferredSeconds: 3600 };

test('the RA on the wire is the one built here (checksum aside: the kernel fills it in)', () => {
  const ra = readIcmp6(join(CAPTURES_DIR, 'dhcpv6-ipxe.pcap')).find((m) => m.message[0] === 134);
  assert.ok(ra);
  assert.equal(ra.dst, 'ff02::1');
  const built = routerAdvertisement({ managed: true, other: true, prefix: { ...PREFIX, autonomous: false } });
  const wire = Buffer.from(ra.message);
  wire.writeUInt16BE(0, 2);
  assert.deepEqual(wire, built);
});

test('fields: M and O, router lifetime 0, prefix length, L always and A only for SLAAC', () => {
  const slaac = routerAdvertisement({ managed: true, other: false, prefix: { ...PREFIX, autonomous: true } });
  assert.equal(slaac.length, 16 + 32);
  assert.equal(slaac[5], 0x80);
  assert.equal(slaac.readUInt16BE(6), 0, 'router lifetime 0: not a default router');
  assert.deepEqual([...slaac.subarray(16, 20)], [3, 4, 64, 0xc0]);
  assert.equal(slaac.readUInt32BE(20), 7200);
  assert.equal(slaac.readUInt32BE(24), 3600);
  assert.deepEqual(slaac.subarray(32, 48), PREFIX.bytes);
  assert.deepEqual(routerAdvertisement({ managed: false, other: false }), bareRouterAdvertisement());
});
