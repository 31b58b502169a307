/** DHCPv6 replies and the boot file URL each boot decision gives (RFC 5970 option 59). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Subnet6Config } from '../../../src/config/dhcp6.ts';
import { type Dhcp6Message, decodeMessage, encodeMessage, Msg, Status } from '../../../src/dhcp6/packet.ts';
import { bootfileUrl, buildReply } from '../../../src/dhcp6/reply.ts';

const SERVER_ID = Buffer.from('00030001aac853841161', 'hex');
const SUBNET: Subnet6Config = {
  prefix: '2001:db8::/64',
  range: ['2001:db8::100', '2001:db8::1ff'],
  preferredSeconds: 3600,
  validSeconds: 7200,
  dnsServers: ['2001:db8::53'],
};
const SOLICIT: Dhcp6Message = {
  type: Msg.Solicit,
  xid: 0x123456,
  options: {
    clientId: Buffer.from('000300015254 00e2e601'.replace(/ /g, ''), 'hex'),
    iaNa: [
      { iaid: 7, t1: 0, t2: 0, addresses: [] },
      { iaid: 8, t1: 0, t2: 0, addresses: [] },
    ],
  },
};
const T = 1_800_000_000_000;

describe('bootfileUrl', () => {
  test('a TFTP binary is named by our address in brackets; HTTP decisions are URLs already', () => {
    assert.equal(
      bootfileUrl({ kind: 'ipxe-binary', file: 'snponly.efi', transport: 'tftp', reason: '' }, '2001:db8::1'),
      'tftp://[2001:db8::1]/snponly.efi',
    );
    assert.equal(
      bootfileUrl({ kind: 'ipxe-binary', file: 'snponly.efi', transport: 'tftp', reason: '' }, undefined),
      undefined,
    );
    const http = 'http://[2001:db8::1]:8080/ipxe-bin/snponly.efi';
    assert.equal(bootfileUrl({ kind: 'ipxe-binary', file: http, transport: 'http', reason: '' }, '2001:db8::1'), http);
    assert.equal(
      bootfileUrl({ kind: 'shim', file: 'shimx64.efi', transport: 'tftp', reason: '' }, '2001:db8::1'),
      'tftp://[2001:db8::1]/shimx64.efi',
    );
    assert.equal(
      bootfileUrl({ kind: 'script', url: 'http://[2001:db8::1]:8080/boot.ipxe', reason: '' }, undefined),
      'http://[2001:db8::1]:8080/boot.ipxe',
    );
    assert.equal(bootfileUrl({ kind: 'ignore', reason: 'unknown' }, '2001:db8::1'), undefined);
  });
});

describe('buildReply', () => {
  const roundTrip = (m: Dhcp6Message) => {
    const r = decodeMessage(encodeMessage(m));
    assert.ok(r.ok);
    return r.message;
  };

  test('ADVERTISE: the address in the first IA_NA with T1/T2 at .5/.8, NoAddrsAvail in the second, preference 255', () => {
    const m = roundTrip(
      buildReply({
        request: SOLICIT,
        type: Msg.Advertise,
        serverId: SERVER_ID,
        subnet: SUBNET,
        lease: { ip: '2001:db8::100', mac: '52:54:00:e2:e6:01', state: 'offered', expiresAt: T + 60_000 },
        bootfile: 'tftp://[2001:db8::1]/snponly.efi',
        now: T,
      }),
    );
    assert.equal(m.type, Msg.Advertise);
    assert.equal(m.xid, 0x123456);
    assert.ok(m.options.clientId?.equals(SOLICIT.options.clientId!));
    assert.ok(m.options.serverId?.equals(SERVER_ID));
    assert.equal(m.options.preference, 255);
    assert.deepEqual(m.options.iaNa, [
      { iaid: 7, t1: 1800, t2: 2880, addresses: [{ address: '2001:db8::100', preferred: 3600, valid: 7200 }] },
      {
        iaid: 8,
        t1: 0,
        t2: 0,
        addresses: [],
        status: { code: Status.NoAddrsAvail, message: 'one address per client' },
      },
    ]);
    assert.deepEqual(m.options.dnsServers, ['2001:db8::53']);
    assert.equal(m.options.bootfileUrl, 'tftp://[2001:db8::1]/snponly.efi');
    assert.equal(m.options.vendorClass, undefined);
  });

  test('REPLY to a bound lease counts its lifetimes down; an HTTP boot client gets the HTTPClient vendor class', () => {
    const m = roundTrip(
      buildReply({
        request: { ...SOLICIT, type: Msg.Request },
        type: Msg.Reply,
        serverId: SERVER_ID,
        subnet: SUBNET,
        lease: { ip: '2001:db8::100', mac: '52:54:00:e2:e6:01', state: 'bound', expiresAt: T + 1000_000 },
        httpClient: true,
        now: T,
      }),
    );
    assert.equal(m.options.preference, undefined);
    assert.deepEqual(m.options.iaNa[0]?.addresses, [{ address: '2001:db8::100', preferred: 1000, valid: 1000 }]);
    assert.deepEqual(m.options.vendorClass, [{ enterprise: 343, data: ['HTTPClient'] }]);
  });

  test('RELEASE gets a bare Success; no IA_NA echoed', () => {
    const m = roundTrip(
      buildReply({
        request: { ...SOLICIT, type: Msg.Release },
        type: Msg.Reply,
        serverId: SERVER_ID,
        status: { code: Status.Success, message: 'released' },
        now: T,
      }),
    );
    assert.deepEqual(m.options.iaNa, []);
    assert.deepEqual(m.options.status, { code: 0, message: 'released' });
  });
});
