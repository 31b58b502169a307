import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DhcpDecision } from '../../../src/boot/decide.ts';
import { encodePacket, maxDhcpPayload } from '../../../src/dhcp/encode.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { BOOTREPLY, BROADCAST_FLAG, type DhcpPacket, decodePacket } from '../../../src/dhcp/packet.ts';
import { type Lease, LeasePool, type NetworkParameters } from '../../../src/dhcp/pool.ts';
import {
  buildAck,
  buildInformAck,
  buildNak,
  buildOffer,
  buildProxyAck4011,
  buildProxyOffer,
  PXE_DISCOVERY_DIRECT,
  replyDestination,
  replyEncodeOptions,
  requestState,
} from '../../../src/dhcp/reply.ts';
import { type Capture, clientPackets, dhcpDatagrams } from './fixtures.ts';

const SERVER = '192.0.2.1';
const MAC = '52:54:00:c0:02:64';

function decodeOk(buf: Buffer): DhcpPacket {
  const r = decodePacket(buf);
  if (!r.ok) assert.fail(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.packet;
}

/** The n-th client packet of a capture with the given message type. */
function captured(capture: Capture, messageType: number, n = 0): DhcpPacket {
  const all = clientPackets(capture)
    .map(decodeOk)
    .filter((p) => p.options.messageType === messageType);
  const p = all[n];
  assert.ok(p, `${capture}: no client packet #${n} of type ${messageType}`);
  return p;
}

/** The server replies dnsmasq sent in a capture. */
function dnsmasqReplies(capture: Capture): DhcpPacket[] {
  return dhcpDatagrams(capture)
    .filter((d) => d.sport === 67)
    .map((d) => decodeOk(d.payload));
}

/** Encodes as the server would (option 57 of the request) and decodes again. */
function wire(request: DhcpPacket, reply: DhcpPacket): { buf: Buffer; decoded: DhcpPacket } {
  const r = encodePacket(reply, replyEncodeOptions(request));
  if (!r.ok) assert.fail(`encode failed: ${r.error.code} ${r.error.message}`);
  assert.ok(r.buffer.length <= maxDhcpPayload(request.options.maxMessageSize));
  return { buf: r.buffer, decoded: decodeOk(r.buffer) };
}

/** Option codes in the order they sit in the options field. */
function optionCodes(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 240; i < buf.length; ) {
    const c = buf[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255) break;
    out.push(c);
    i += 2 + buf[i + 1]!;
  }
  return out;
}

const TFTP: DhcpDecision = { kind: 'ipxe-binary', file: 'ipxe.efi', transport: 'tftp', reason: 'firmware PXE' };
const HTTP_BIN: DhcpDecision = {
  kind: 'ipxe-binary',
  file: 'http://192.0.2.1:8080/ipxe-bin/ipxe.efi',
  transport: 'http',
  reason: 'UEFI HTTP boot',
};
const SCRIPT: DhcpDecision = { kind: 'script', url: 'http://192.0.2.1:8080/boot.ipxe', reason: 'capable iPXE' };
const IGNORE: DhcpDecision = { kind: 'ignore', reason: 'unknown machine' };

/** OVMF firmware PXE: broadcast flag, no 61, 97 present. */
const OVMF_DISCOVER = captured('uefi-chainload.pcap', MessageType.Discover);
const OVMF_REQUEST = captured('uefi-chainload.pcap', MessageType.Request);
/** iPXE ROM: no broadcast flag, 61 + 175 + 77 iPXE. */
const IPXE_DISCOVER = captured('bios-ipxe-rom.pcap', MessageType.Discover);
const IPXE_REQUEST = captured('bios-ipxe-rom.pcap', MessageType.Request);
/** A first-stage BIOS PXE ROM (user class PXE-ROM). */
const BIOS_PXE_DISCOVER = captured('bios-chainload-undionly.pcap', MessageType.Discover);

const PARAMS: NetworkParameters = {
  subnetMask: '255.255.255.0',
  leaseSeconds: 3600,
  routers: ['192.0.2.1'],
  dnsServers: ['192.0.2.1', '192.0.2.2'],
  domainName: 'lab.example',
  ntpServers: ['192.0.2.3'],
  mtu: 1500,
};

const LEASE: Lease = { ip: '192.0.2.192', mac: MAC, state: 'offered', expiresAt: 0 };

function withHeader(p: DhcpPacket, h: Partial<DhcpPacket>): DhcpPacket {
  return { ...p, ...h, options: { ...p.options } };
}

describe('the captured requests', () => {
  test('are what the tests assume', () => {
    assert.equal(OVMF_DISCOVER.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    assert.equal(IPXE_DISCOVER.flags & BROADCAST_FLAG, 0);
    assert.equal(OVMF_DISCOVER.options.clientIdentifier, undefined);
    assert.ok(IPXE_DISCOVER.options.clientIdentifier);
    assert.ok(IPXE_DISCOVER.options.ipxe);
    assert.equal(OVMF_REQUEST.options.maxMessageSize, 65280);
  });
});

describe('replyDestination (RFC 2131 §4.1)', () => {
  const offerTo = { yiaddr: '192.0.2.192' };

  test('giaddr set: to the relay agent, server port 67 (OFFER, ACK and NAK alike)', () => {
    const relayed = withHeader(IPXE_DISCOVER, { giaddr: '198.51.100.1', flags: BROADCAST_FLAG });
    const expected = { address: '198.51.100.1', port: 67, broadcast: false };
    assert.deepEqual(replyDestination(relayed, offerTo), expected);
    assert.deepEqual(replyDestination(relayed, offerTo, { nak: true }), expected);
    const relayedRenew = withHeader(relayed, { ciaddr: '192.0.2.192' });
    assert.deepEqual(replyDestination(relayedRenew, offerTo), expected);
  });

  test('giaddr 0, ciaddr set: unicast to ciaddr (port 68, or the client’s source port)', () => {
    const renew = withHeader(IPXE_REQUEST, { ciaddr: '192.0.2.192', flags: BROADCAST_FLAG });
    assert.deepEqual(replyDestination(renew, offerTo), { address: '192.0.2.192', port: 68, broadcast: false });
    assert.deepEqual(replyDestination(renew, { yiaddr: '0.0.0.0' }, { clientPort: 4011 }), {
      address: '192.0.2.192',
      port: 4011,
      broadcast: false,
    });
  });

  test('a DISCOVER with a ciaddr (RFC 2131 table 5: 0) is answered as if it had none, not unicast there', () => {
    const odd = withHeader(OVMF_DISCOVER, { ciaddr: '143.0.0.0' });
    assert.deepEqual(replyDestination(odd, offerTo), { address: '255.255.255.255', port: 68, broadcast: true });
    const oddIpxe = withHeader(IPXE_DISCOVER, { ciaddr: '143.0.0.0' });
    assert.equal(replyDestination(oddIpxe, offerTo).address, '192.0.2.192');
  });

  test('giaddr 0, ciaddr 0, broadcast bit: broadcast to 255.255.255.255:68 (OVMF)', () => {
    assert.deepEqual(replyDestination(OVMF_DISCOVER, offerTo), {
      address: '255.255.255.255',
      port: 68,
      broadcast: true,
    });
  });

  test('giaddr 0, ciaddr 0, no broadcast bit: unicast to chaddr + yiaddr, reported for the socket layer (iPXE)', () => {
    assert.deepEqual(replyDestination(IPXE_DISCOVER, offerTo), {
      address: '192.0.2.192',
      port: 68,
      broadcast: false,
      unicastToChaddr: true,
    });
    // dnsmasq did the same on the wire: the captured OFFER went to yiaddr.
    const d = dhcpDatagrams('bios-ipxe-rom.pcap').find((x) => x.sport === 67)!;
    assert.equal(d.dst, '192.0.2.192');
  });

  test('a proxyDHCP offer has no yiaddr to unicast to: broadcast', () => {
    assert.deepEqual(replyDestination(IPXE_DISCOVER, { yiaddr: '0.0.0.0' }), {
      address: '255.255.255.255',
      port: 68,
      broadcast: true,
    });
  });

  test('NAK with giaddr 0 is always broadcast, even to a client with ciaddr', () => {
    const bcast = { address: '255.255.255.255', port: 68, broadcast: true };
    assert.deepEqual(replyDestination(IPXE_REQUEST, { yiaddr: '0.0.0.0' }, { nak: true }), bcast);
    const renew = withHeader(IPXE_REQUEST, { ciaddr: '192.0.2.192' });
    assert.deepEqual(replyDestination(renew, { yiaddr: '0.0.0.0' }, { nak: true }), bcast);
  });
});

describe('requestState (RFC 2131 §4.3.2)', () => {
  test('captured REQUESTs are SELECTING; the other states from their fields', () => {
    assert.equal(requestState(OVMF_REQUEST), 'selecting');
    assert.equal(requestState(IPXE_REQUEST), 'selecting');
    const initReboot = withHeader(IPXE_REQUEST, {});
    delete initReboot.options.serverIdentifier;
    assert.equal(requestState(initReboot), 'init-reboot');
    const renewing = withHeader(IPXE_REQUEST, { ciaddr: '192.0.2.192' });
    delete renewing.options.serverIdentifier;
    delete renewing.options.requestedIpAddress;
    assert.equal(requestState(renewing), 'renewing');
    assert.equal(requestState(IPXE_DISCOVER), 'invalid');
  });
});

describe('proxyDHCP replies', () => {
  test('OFFER to OVMF firmware: no address, 54, 60 PXEClient, 43.6 = 8, 97 echoed, boot file from the decision', () => {
    const reply = buildProxyOffer(OVMF_DISCOVER, TFTP, SERVER);
    assert.ok(reply);
    const { decoded: d } = wire(OVMF_DISCOVER, reply);
    assert.equal(d.op, BOOTREPLY);
    assert.equal(d.xid, OVMF_DISCOVER.xid);
    assert.equal(d.flags, OVMF_DISCOVER.flags);
    assert.equal(d.mac, MAC);
    assert.equal(d.yiaddr, '0.0.0.0');
    assert.equal(d.ciaddr, '0.0.0.0');
    assert.equal(d.siaddr, SERVER);
    assert.equal(d.file, 'ipxe.efi');
    assert.equal(d.options.messageType, MessageType.Offer);
    assert.equal(d.options.serverIdentifier, SERVER);
    assert.equal(d.options.vendorClassIdentifier, 'PXEClient');
    assert.equal(d.options.vendorSpecific?.discoveryControl, PXE_DISCOVERY_DIRECT);
    assert.equal(PXE_DISCOVERY_DIRECT, 8);
    assert.equal(d.options.tftpServerName, SERVER);
    assert.equal(d.options.bootfileName, 'ipxe.efi');
    assert.deepEqual(d.options.clientMachineIdentifier, OVMF_DISCOVER.options.clientMachineIdentifier);
    // No lease: a proxy never hands out addresses or network options.
    assert.equal(d.options.leaseTime, undefined);
    assert.equal(d.options.subnetMask, undefined);
    assert.deepEqual(replyDestination(OVMF_DISCOVER, reply), {
      address: '255.255.255.255',
      port: 68,
      broadcast: true,
    });
  });

  test('OFFER to a BIOS PXE ROM and to a capable iPXE (script URL in 67 and file)', () => {
    const bios = buildProxyOffer(BIOS_PXE_DISCOVER, { ...TFTP, file: 'undionly.kpxe' }, SERVER);
    assert.ok(bios);
    assert.equal(wire(BIOS_PXE_DISCOVER, bios).decoded.file, 'undionly.kpxe');
    const ipxe = buildProxyOffer(IPXE_DISCOVER, SCRIPT, SERVER);
    assert.ok(ipxe);
    const { decoded: d } = wire(IPXE_DISCOVER, ipxe);
    assert.equal(d.file, SCRIPT.kind === 'script' ? SCRIPT.url : '');
    assert.equal(d.options.bootfileName, 'http://192.0.2.1:8080/boot.ipxe');
    assert.equal(d.options.tftpServerName, undefined, '66 only for a TFTP file');
    // RFC 6842: 61 comes back unaltered.
    assert.deepEqual(d.options.clientIdentifier, IPXE_DISCOVER.options.clientIdentifier);
  });

  test('UEFI HTTP boot client: 60 HTTPClient back, no PXE option 43', () => {
    const req = withHeader(OVMF_DISCOVER, {});
    req.options.vendorClassIdentifier = 'HTTPClient:Arch:00016:UNDI:003000';
    const reply = buildProxyOffer(req, HTTP_BIN, SERVER);
    assert.ok(reply);
    const { decoded: d } = wire(req, reply);
    assert.equal(d.options.vendorClassIdentifier, 'HTTPClient');
    assert.equal(d.options.vendorSpecific, undefined);
    assert.equal(d.options.raw?.get(43), undefined);
    assert.equal(d.options.bootfileName, 'http://192.0.2.1:8080/ipxe-bin/ipxe.efi');
  });

  test('a boot file longer than the 128-octet file field rides in option 67 only', () => {
    const url = `http://192.0.2.1:8080/boot.ipxe?${'x'.repeat(200)}`;
    const reply = buildProxyOffer(IPXE_DISCOVER, { kind: 'script', url, reason: 'long' }, SERVER);
    assert.ok(reply);
    const { decoded: d } = wire(IPXE_DISCOVER, reply);
    assert.equal(d.options.bootfileName, url);
  });

  test('ACK on port 4011: ciaddr echoed, yiaddr 0, 43 boot item returned, unicast to the client port', () => {
    const req = withHeader(OVMF_REQUEST, { ciaddr: '192.0.2.192', flags: 0 });
    req.options.vendorSpecific = { bootItem: { type: 0, layer: 0 } };
    delete req.options.requestedIpAddress;
    const reply = buildProxyAck4011(req, TFTP, SERVER);
    assert.ok(reply);
    const { decoded: d } = wire(req, reply);
    assert.equal(d.options.messageType, MessageType.Ack);
    assert.equal(d.ciaddr, '192.0.2.192');
    assert.equal(d.yiaddr, '0.0.0.0');
    assert.equal(d.options.vendorClassIdentifier, 'PXEClient');
    assert.deepEqual(d.options.vendorSpecific?.bootItem, { type: 0, layer: 0 });
    assert.equal(d.options.vendorSpecific?.discoveryControl, 8);
    assert.equal(d.file, 'ipxe.efi');
    assert.deepEqual(d.options.clientMachineIdentifier, req.options.clientMachineIdentifier);
    assert.deepEqual(replyDestination(req, reply, { clientPort: 4011 }), {
      address: '192.0.2.192',
      port: 4011,
      broadcast: false,
    });
  });

  test('a decision of kind ignore: no reply', () => {
    assert.equal(buildProxyOffer(OVMF_DISCOVER, IGNORE, SERVER), undefined);
    assert.equal(buildProxyAck4011(OVMF_REQUEST, IGNORE, SERVER), undefined);
  });
});

describe('full-mode replies', () => {
  test('OFFER to iPXE: yiaddr, lease/T1/T2, network options, 175.176, and the header dnsmasq sent', () => {
    const reply = buildOffer(IPXE_DISCOVER, { ...LEASE, hostname: 'node-1' }, PARAMS, SCRIPT, SERVER);
    const { buf, decoded: d } = wire(IPXE_DISCOVER, reply);
    assert.equal(d.options.messageType, MessageType.Offer);
    assert.equal(d.yiaddr, '192.0.2.192');
    assert.equal(d.ciaddr, '0.0.0.0');
    assert.equal(d.options.leaseTime, 3600);
    assert.equal(d.options.renewalTime, 1800);
    assert.equal(d.options.rebindingTime, 3150);
    assert.equal(d.options.subnetMask, '255.255.255.0');
    assert.deepEqual(d.options.routers, ['192.0.2.1']);
    assert.deepEqual(d.options.domainNameServers, ['192.0.2.1', '192.0.2.2']);
    assert.equal(d.options.domainName, 'lab.example');
    assert.deepEqual(d.options.ntpServers, ['192.0.2.3']);
    assert.deepEqual(d.options.raw?.get(26), Buffer.from([0x05, 0xdc]));
    assert.equal(d.options.hostName, 'node-1');
    assert.equal(d.options.ipxe?.noPxeDhcp, true);
    assert.equal(d.options.bootfileName, 'http://192.0.2.1:8080/boot.ipxe');
    // 53 and 54 first, then the client's option 55 order (1 3 6 … 12 15 … 26 …).
    const codes = optionCodes(buf);
    assert.deepEqual(codes.slice(0, 2), [53, 54]);
    assert.ok(codes.indexOf(1) < codes.indexOf(3) && codes.indexOf(3) < codes.indexOf(6));
    assert.ok(codes.indexOf(6) < codes.indexOf(12) && codes.indexOf(12) < codes.indexOf(15));
    // The header matches what dnsmasq answered the same DISCOVER with.
    const theirs = dnsmasqReplies('bios-ipxe-rom.pcap')[0]!;
    for (const k of ['op', 'htype', 'hlen', 'xid', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr', 'mac'] as const) {
      assert.deepEqual(d[k], theirs[k], k);
    }
    assert.deepEqual(d.chaddr, theirs.chaddr);
  });

  test('OFFER to OVMF firmware with a TFTP binary: siaddr/file/66/67, no 175', () => {
    const reply = buildOffer(OVMF_DISCOVER, LEASE, PARAMS, TFTP, SERVER);
    const { decoded: d } = wire(OVMF_DISCOVER, reply);
    assert.equal(d.siaddr, SERVER);
    assert.equal(d.file, 'ipxe.efi');
    assert.equal(d.options.tftpServerName, SERVER);
    assert.equal(d.options.bootfileName, 'ipxe.efi');
    assert.equal(d.options.ipxe, undefined);
    assert.equal(d.options.hostName, undefined, '12 only for reservations');
    assert.deepEqual(replyDestination(OVMF_DISCOVER, reply), {
      address: '255.255.255.255',
      port: 68,
      broadcast: true,
    });
  });

  test('a machine that is not netbooted still gets an address, without boot fields', () => {
    const { decoded: d } = wire(OVMF_DISCOVER, buildOffer(OVMF_DISCOVER, LEASE, PARAMS, IGNORE, SERVER));
    assert.equal(d.yiaddr, '192.0.2.192');
    assert.equal(d.file, '');
    assert.equal(d.siaddr, '0.0.0.0');
    assert.equal(d.options.bootfileName, undefined);
  });

  test('ACK to the captured REQUEST: option 57 of 65280 still gives a ≤ 1472-octet reply', () => {
    const reply = buildAck(OVMF_REQUEST, { ...LEASE, state: 'bound' }, PARAMS, TFTP, SERVER);
    const { buf, decoded: d } = wire(OVMF_REQUEST, reply);
    assert.ok(buf.length <= 1472);
    assert.equal(d.options.messageType, MessageType.Ack);
    assert.equal(d.yiaddr, '192.0.2.192');
    assert.equal(d.options.leaseTime, 3600);
  });

  test('ACK in RENEWING echoes ciaddr (Table 3)', () => {
    const renew = withHeader(IPXE_REQUEST, { ciaddr: '192.0.2.192' });
    const { decoded: d } = wire(renew, buildAck(renew, LEASE, PARAMS, SCRIPT, SERVER));
    assert.equal(d.ciaddr, '192.0.2.192');
  });

  test('ACK to DHCPINFORM: no lease time, no yiaddr', () => {
    const inform = withHeader(IPXE_REQUEST, { ciaddr: '192.0.2.77' });
    inform.options.messageType = MessageType.Inform;
    const { decoded: d } = wire(inform, buildInformAck(inform, PARAMS, SCRIPT, SERVER));
    assert.equal(d.options.leaseTime, undefined);
    assert.equal(d.options.renewalTime, undefined);
    assert.equal(d.yiaddr, '0.0.0.0');
    assert.equal(d.ciaddr, '192.0.2.77');
    assert.equal(d.options.subnetMask, '255.255.255.0');
  });

  test('a 576-octet client: everything still fits', () => {
    const req = withHeader(IPXE_DISCOVER, {});
    delete req.options.maxMessageSize;
    const big: NetworkParameters = {
      ...PARAMS,
      dnsServers: Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 10}`),
      domainSearch: ['a.lab.example', 'b.lab.example', 'c.lab.example'],
    };
    const { buf, decoded: d } = wire(req, buildOffer(req, LEASE, big, SCRIPT, SERVER));
    assert.ok(buf.length <= 548);
    assert.equal(d.options.domainNameServers?.length, 20);
  });
});

describe('DHCPNAK', () => {
  test('giaddr 0: no address, option 56 message, broadcast', () => {
    const nak = buildNak(IPXE_REQUEST, SERVER, 'address 192.0.2.192 is not yours\n');
    const { decoded: d } = wire(IPXE_REQUEST, nak);
    assert.equal(d.options.messageType, MessageType.Nak);
    assert.equal(d.options.serverIdentifier, SERVER);
    assert.equal(d.yiaddr, '0.0.0.0');
    assert.equal(d.siaddr, '0.0.0.0');
    assert.equal(d.ciaddr, '0.0.0.0');
    assert.equal(d.file, '');
    assert.equal(d.options.leaseTime, undefined);
    assert.equal(d.options.raw?.get(56)?.toString('latin1'), 'address 192.0.2.192 is not yours?');
    assert.equal(d.flags, IPXE_REQUEST.flags);
    assert.deepEqual(replyDestination(IPXE_REQUEST, nak, { nak: true }), {
      address: '255.255.255.255',
      port: 68,
      broadcast: true,
    });
  });

  test('via a relay: the broadcast bit is set so the relay broadcasts it', () => {
    const relayed = withHeader(IPXE_REQUEST, { giaddr: '198.51.100.1', flags: 0 });
    const nak = buildNak(relayed, SERVER, 'wrong network');
    const { decoded: d } = wire(relayed, nak);
    assert.equal(d.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    assert.equal(d.giaddr, '198.51.100.1');
    assert.deepEqual(replyDestination(relayed, nak, { nak: true }), {
      address: '198.51.100.1',
      port: 67,
      broadcast: false,
    });
  });
});

describe('option 82 (RFC 3046)', () => {
  const agentInfo = [
    { code: 1, data: Buffer.from('eth0/1/7', 'latin1') },
    { code: 2, data: Buffer.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]) },
  ];
  const relayed = withHeader(OVMF_DISCOVER, { giaddr: '198.51.100.1', hops: 1 });
  relayed.options.relayAgentInformation = agentInfo;

  test('echoed unchanged, last, in every kind of reply', () => {
    const replies = [
      buildProxyOffer(relayed, TFTP, SERVER)!,
      buildOffer(relayed, LEASE, PARAMS, TFTP, SERVER),
      buildAck(relayed, LEASE, PARAMS, TFTP, SERVER),
      buildNak(relayed, SERVER, 'no'),
    ];
    for (const reply of replies) {
      const { buf, decoded: d } = wire(relayed, reply);
      assert.deepEqual(d.options.relayAgentInformation, agentInfo);
      assert.equal(optionCodes(buf).at(-1), 82);
      assert.equal(d.giaddr, '198.51.100.1');
      assert.equal(d.hops, 0);
    }
  });

  test('absent when the request had none', () => {
    const { decoded: d } = wire(OVMF_DISCOVER, buildOffer(OVMF_DISCOVER, LEASE, PARAMS, TFTP, SERVER));
    assert.equal(d.options.relayAgentInformation, undefined);
  });
});

describe('pool + replies', () => {
  test('two captured clients (different MACs) get different offers that encode', () => {
    const pool = new LeasePool({ subnets: [{ subnet: '192.0.2.0/24', range: ['192.0.2.100', '192.0.2.199'] }] });
    const subnet = pool.subnetFor(SERVER)!;
    const other = withHeader(OVMF_DISCOVER, { chaddr: Buffer.from(OVMF_DISCOVER.chaddr) });
    other.chaddr[5] = 0x65;
    other.mac = '52:54:00:c0:02:65';
    const ips = [IPXE_DISCOVER, other].map((req) => {
      const o = pool.offer(subnet, { mac: req.mac!, clientId: req.options.clientIdentifier }, 0);
      assert.ok(o);
      const { decoded } = wire(req, buildOffer(req, o.lease, o.subnet.params, TFTP, SERVER));
      assert.equal(decoded.mac, req.mac);
      return decoded.yiaddr;
    });
    assert.deepEqual(ips, ['192.0.2.100', '192.0.2.101']);
  });
});
