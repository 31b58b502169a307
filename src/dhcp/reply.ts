/**
 * DHCP replies, pure: where a reply goes (RFC 2131 §4.1) and the reply packets of proxy mode (port 67 OFFER and
 * port 4011 ACK, as dnsmasq and pixiecore send them) and full mode (OFFER, ACK, NAK). The caller encodes with
 * `replyEncodeOptions(request)` so option 57 of the request bounds the size.
 */
import type { DhcpDecision } from '../boot/decide.ts';
import type { EncodeOptions } from './encode.ts';
import { isHttpClient } from './facts.ts';
import { type DhcpOptions, MessageType, OptionCode, type PxeVendorOptions } from './option-types.ts';
import { BOOTREPLY, BROADCAST_FLAG, type DhcpPacket } from './packet.ts';
import type { Lease, NetworkParameters } from './pool.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** PXE 2.1 §2.2.5: the boot server (proxyDHCP REQUEST/ACK) port. */
export const PXE_BOOT_SERVER_PORT = 4011;

const ZERO = '0.0.0.0';
const LIMITED_BROADCAST = '255.255.255.255';

/** PXE 2.1 option 43.6 bit 3: "download boot file directly, no boot server menu/discovery". */
export const PXE_DISCOVERY_DIRECT = 0x08;

export interface ReplyDestination {
  address: string;
  port: number;
  /** Send to the limited broadcast address (needs SO_BROADCAST and the right interface). */
  broadcast: boolean;
  /**
   * RFC 2131 §4.1: "unicasts ... to the client's hardware address and 'yiaddr' address". Node cannot add the ARP
   * entry that takes, so `address` is yiaddr and the socket layer decides: a raw send, or broadcast as a fallback
   * (clients that cannot take a unicast set the broadcast bit, so a broadcast is always safe).
   */
  unicastToChaddr?: boolean;
}

export interface ReplyDestinationOptions {
  /** The reply is a DHCPNAK. */
  nak?: boolean;
  /**
   * The request's UDP source port, for replies to unicast requests from a configured client (port 4011 or
   * RENEWING): PXE clients send from 68 or 4011 and listen where they sent from. Default 68.
   */
  clientPort?: number;
}

export function replyDestination(
  request: DhcpPacket,
  reply: { yiaddr: string },
  opts: ReplyDestinationOptions = {},
): ReplyDestination {
  // "If the 'giaddr' field in a DHCP message from a client is non-zero, the server sends any return messages to the
  // 'DHCP server' port on the BOOTP relay agent whose address appears in 'giaddr'." (NAK too: buildNak sets the
  // broadcast bit so the relay broadcasts it.)
  if (request.giaddr !== ZERO) return { address: request.giaddr, port: DHCP_SERVER_PORT, broadcast: false };
  // "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages to 0xffffffff."
  if (opts.nak) return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT, broadcast: true };
  // "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server unicasts DHCPOFFER and
  // DHCPACK messages to the address in 'ciaddr'." A DISCOVER's ciaddr is 0 (RFC 2131 table 5): one that is not names
  // no address of the client's. Unicast there, the reply waits for an ARP answer that never comes, filling the
  // socket's send buffer until every reply queues behind it (bench/rss's fuzz): the rules below apply instead.
  if (request.ciaddr !== ZERO && request.options.messageType !== MessageType.Discover) {
    return { address: request.ciaddr, port: opts.clientPort ?? DHCP_CLIENT_PORT, broadcast: false };
  }
  // "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then the server broadcasts DHCPOFFER
  // and DHCPACK messages to 0xffffffff."
  if ((request.flags & BROADCAST_FLAG) !== 0) {
    return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT, broadcast: true };
  }
  // "If the broadcast bit is not set and 'giaddr' is zero and 'ciaddr' is zero, then the server unicasts DHCPOFFER
  // and DHCPACK messages to the client's hardware address and 'yiaddr' address." A proxyDHCP offer has no yiaddr
  // to unicast to: broadcast it (as pixiecore does).
  if (reply.yiaddr === ZERO) return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT, broadcast: true };
  return { address: reply.yiaddr, port: DHCP_CLIENT_PORT, broadcast: false, unicastToChaddr: true };
}

/** Encode options for a reply to `request`: RFC 2132 §9.10 option 57 caps the message the client takes. */
export function replyEncodeOptions(request: DhcpPacket): EncodeOptions {
  const max = request.options.maxMessageSize;
  return max === undefined ? {} : { maxMessageSize: max };
}

/** RFC 2131 §4.3.2: the client's state, from how it filled in a DHCPREQUEST. */
export function requestState(request: DhcpPacket): 'selecting' | 'init-reboot' | 'renewing' | 'invalid' {
  const hasServerId = request.options.serverIdentifier !== undefined;
  const requested = request.options.requestedIpAddress;
  // SELECTING: "Client inserts the address of the selected server in 'server identifier', 'ciaddr' MUST be zero,
  // 'requested IP address' MUST be filled in".
  if (hasServerId) return request.ciaddr === ZERO && requested !== undefined ? 'selecting' : 'invalid';
  // INIT-REBOOT: "'server identifier' MUST NOT be filled in, 'requested IP address' option MUST be filled in ...
  // 'ciaddr' MUST be zero."
  if (requested !== undefined && request.ciaddr === ZERO) return 'init-reboot';
  // RENEWING / REBINDING: "'requested IP address' option MUST NOT be filled in, 'ciaddr' MUST be filled in".
  if (request.ciaddr !== ZERO) return 'renewing';
  return 'invalid';
}

// ---------------------------------------------------------------------------------------------------------------
// Packets

/**
 * The fields RFC 2131 Table 3 fixes for every reply: "'xid' from client DHCPREQUEST message", "'flags' from client
 * DHCPDISCOVER message", "'giaddr' from client", "'chaddr' from client", hops and secs 0.
 */
function baseReply(request: DhcpPacket, messageType: number, serverIp: string): DhcpPacket {
  const options: DhcpOptions = { messageType, serverIdentifier: serverIp };
  // RFC 6842 §3: "If the 'client identifier' option is present in a message received from a client, the server
  // MUST return the 'client identifier' option, unaltered, in its response message."
  if (request.options.clientIdentifier) options.clientIdentifier = request.options.clientIdentifier;
  // RFC 3046 §2.2: "the DHCP server MUST copy the Relay Agent Information option as received ... into the
  // response". The codec keeps the sub-options as bytes and writes 82 last.
  if (request.options.relayAgentInformation) {
    options.relayAgentInformation = request.options.relayAgentInformation.map((s) => ({ ...s }));
  }
  return {
    op: BOOTREPLY,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
    sname: '',
    file: '',
    options,
  };
}

/** The file field is 128 octets with a NUL: a longer name (a long URL) rides in option 67 only. */
const FILE_FIELD_MAX = 127;

/** siaddr/file and options 66/67 for a decision. Mutates `p`. */
function applyBoot(p: DhcpPacket, decision: Exclude<DhcpDecision, { kind: 'ignore' }>, serverIp: string): void {
  const file = decision.kind === 'script' ? decision.url : decision.file;
  // RFC 2131 §2: siaddr is the "IP address of next server to use in bootstrap"; PXE ROMs read siaddr + file.
  p.siaddr = serverIp;
  if (Buffer.byteLength(file, 'latin1') <= FILE_FIELD_MAX) p.file = file;
  p.options.bootfileName = file;
  if (decision.kind !== 'script' && decision.transport === 'tftp') p.options.tftpServerName = serverIp;
}

/** PXE 2.1: the reply names the vendor class the client asked with; UEFI HTTP boot needs `HTTPClient` back. */
function vendorClassFor(request: DhcpPacket): string {
  return isHttpClient(request) ? 'HTTPClient' : 'PXEClient';
}

/** PXE 2.1 §2.4: the client's option 97 (UUID/GUID) is returned in proxy replies. */
function echoUuid(request: DhcpPacket, p: DhcpPacket): void {
  const cmi = request.options.clientMachineIdentifier;
  if (cmi) p.options.clientMachineIdentifier = 'uuid' in cmi ? { ...cmi } : { type: cmi.type, id: Buffer.from(cmi.id) };
}

/**
 * Puts the options the client listed in option 55 first, in its order, after 53 and 54. RFC 2131 §4.3.1: the server
 * "MAY" add options beyond 55, so nothing is dropped (PXE needs 43/60/66/67 whether or not they were asked for).
 */
function orderByRequest(request: DhcpPacket, p: DhcpPacket): DhcpPacket {
  const prl = request.options.parameterRequestList;
  if (prl && prl.length > 0) {
    p.optionOrder = [OptionCode.MessageType, OptionCode.ServerIdentifier, ...prl].filter(
      (c, i, a) => c !== OptionCode.RelayAgentInformation && a.indexOf(c) === i,
    );
  }
  return p;
}

/**
 * proxyDHCP OFFER on port 67 (PXE 2.1 §2.2.3; dnsmasq `dhcp-range=…,proxy`, pixiecore): no address (yiaddr 0),
 * option 54, option 60 `PXEClient`, option 43 with discovery control 8 so the client boots the file in this offer
 * without boot-server discovery or a menu, and the boot file from the decision.
 */
export function buildProxyOffer(request: DhcpPacket, decision: DhcpDecision, serverIp: string): DhcpPacket | undefined {
  if (decision.kind === 'ignore') return undefined;
  const p = baseReply(request, MessageType.Offer, serverIp);
  proxyBody(request, p, decision, serverIp);
  return orderByRequest(request, p);
}

/**
 * proxyDHCP ACK to a DHCPREQUEST on port 4011 (PXE 2.1 §2.2.5, the boot server reply). Several UEFI ROMs take the
 * boot file only from here. ciaddr is echoed ("'ciaddr' from DHCPREQUEST"), yiaddr stays 0, and option 43 returns
 * the client's boot item (43.71) as dnsmasq does.
 */
export function buildProxyAck4011(
  request: DhcpPacket,
  decision: DhcpDecision,
  serverIp: string,
): DhcpPacket | undefined {
  if (decision.kind === 'ignore') return undefined;
  const p = baseReply(request, MessageType.Ack, serverIp);
  p.ciaddr = request.ciaddr;
  proxyBody(request, p, decision, serverIp);
  const item = request.options.vendorSpecific?.bootItem;
  if (p.options.vendorSpecific) p.options.vendorSpecific.bootItem = item ? { ...item } : { type: 0, layer: 0 };
  return orderByRequest(request, p);
}

function proxyBody(
  request: DhcpPacket,
  p: DhcpPacket,
  decision: Exclude<DhcpDecision, { kind: 'ignore' }>,
  serverIp: string,
): void {
  const vc = vendorClassFor(request);
  p.options.vendorClassIdentifier = vc;
  if (vc === 'PXEClient') {
    const pxe: PxeVendorOptions = { discoveryControl: PXE_DISCOVERY_DIRECT };
    p.options.vendorSpecific = pxe;
  }
  echoUuid(request, p);
  applyBoot(p, decision, serverIp);
}

/** Options of a full-mode OFFER/ACK from the subnet's parameters (RFC 2132 names). */
function applyNetwork(p: DhcpPacket, params: NetworkParameters, withLease: boolean): void {
  const o = p.options;
  if (withLease) {
    // RFC 2131 §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2 defaults to (0.875 * duration_of_lease)."
    o.leaseTime = params.leaseSeconds;
    o.renewalTime = Math.floor(params.leaseSeconds * 0.5);
    o.rebindingTime = Math.floor(params.leaseSeconds * 0.875);
  }
  o.subnetMask = params.subnetMask;
  if (params.routers?.length) o.routers = [...params.routers];
  if (params.dnsServers?.length) o.domainNameServers = [...params.dnsServers];
  if (params.domainName) o.domainName = params.domainName;
  if (params.domainSearch?.length) o.domainSearch = [...params.domainSearch];
  if (params.ntpServers?.length) o.ntpServers = [...params.ntpServers];
  if (params.broadcastAddress) o.broadcastAddress = params.broadcastAddress;
  if (params.mtu !== undefined) {
    // Option 26 has no typed field in the codec: 2 octets, RFC 2132 §5.1 "minimum legal value for the MTU is 68".
    const mtu = Buffer.alloc(2);
    mtu.writeUInt16BE(Math.max(68, Math.min(0xffff, params.mtu)));
    o.raw = new Map(o.raw ?? []).set(26, mtu);
  }
}

function fullReply(
  request: DhcpPacket,
  messageType: number,
  lease: Lease,
  params: NetworkParameters,
  decision: DhcpDecision,
  serverIp: string,
): DhcpPacket {
  const p = baseReply(request, messageType, serverIp);
  p.yiaddr = lease.ip;
  applyNetwork(p, params, true);
  if (lease.hostname) p.options.hostName = lease.hostname;
  if (decision.kind !== 'ignore') {
    applyBoot(p, decision, serverIp);
    // UEFI HTTP boot: EDK2's HttpBootDhcp4.c, "The offer with "HTTPClient" is a Http offer"; without option 60 the
    // URL is not read and the offer counts as address-only (HttpOfferTypeDhcpOnly), so the firmware has nothing to
    // boot and times out. A PXE client's full-mode offer stays as dnsmasq sends it, without 60.
    if (isHttpClient(request)) p.options.vendorClassIdentifier = 'HTTPClient';
    // clients.md: iPXE waits ~3 s for proxyDHCP offers unless the OFFER carries 175.176 (`no-pxedhcp`) = 1. We are
    // the only DHCP server in full mode, so there is nothing to wait for.
    if (request.options.ipxe) p.options.ipxe = { noPxeDhcp: true };
  }
  return orderByRequest(request, p);
}

/**
 * Full-mode DHCPOFFER for an address the pool picked. A decision of kind `ignore` still gets an address (the
 * machine is not netbooted, it still needs an IP): only the boot fields are left out.
 */
export function buildOffer(
  request: DhcpPacket,
  lease: Lease,
  params: NetworkParameters,
  decision: DhcpDecision,
  serverIp: string,
): DhcpPacket {
  return fullReply(request, MessageType.Offer, lease, params, decision, serverIp);
}

/** Full-mode DHCPACK. Table 3: "'ciaddr' from DHCPREQUEST or 0". */
export function buildAck(
  request: DhcpPacket,
  lease: Lease,
  params: NetworkParameters,
  decision: DhcpDecision,
  serverIp: string,
): DhcpPacket {
  const p = fullReply(request, MessageType.Ack, lease, params, decision, serverIp);
  p.ciaddr = request.ciaddr;
  return p;
}

/**
 * DHCPACK to a DHCPINFORM. RFC 2131 §4.3.5: "The server responds to a DHCPINFORM message by sending a DHCPACK
 * message directly to the address given in the 'ciaddr' field ... The server MUST NOT send a lease expiration time
 * to the client and SHOULD NOT fill in 'yiaddr'."
 */
export function buildInformAck(
  request: DhcpPacket,
  params: NetworkParameters,
  decision: DhcpDecision,
  serverIp: string,
): DhcpPacket {
  const p = baseReply(request, MessageType.Ack, serverIp);
  p.ciaddr = request.ciaddr;
  applyNetwork(p, params, false);
  if (decision.kind !== 'ignore') applyBoot(p, decision, serverIp);
  return orderByRequest(request, p);
}

/**
 * DHCPNAK. Table 3: yiaddr, siaddr, ciaddr 0, no lease time, option 56 message allowed. RFC 2131 §4.3.2: "If
 * 'giaddr' is set in the DHCPREQUEST message, the client is on a different subnet. The server MUST set the
 * broadcast bit in the DHCPNAK, so that the relay agent will broadcast the DHCPNAK to the client".
 */
export function buildNak(request: DhcpPacket, serverIp: string, message: string): DhcpPacket {
  const p = baseReply(request, MessageType.Nak, serverIp);
  if (request.giaddr !== ZERO) p.flags |= BROADCAST_FLAG;
  // Option 56 ("Message") has no typed field: printable ASCII only, one option instance.
  const text = message.replace(/[^\x20-\x7e]/g, '?').slice(0, 255);
  if (text.length > 0) p.options.raw = new Map([[56, Buffer.from(text, 'latin1')]]);
  return p;
}
