/**
 * What one client packet came to: the message, the reply (if any) and why not. The DHCP server reports one per
 * packet; the boot timeline and the per-message metrics are built from these. Types and naming only, no sockets.
 */
import type { ClientFacts } from '../model/types.ts';
import { MessageType } from './option-types.ts';
import type { DhcpPacket } from './packet.ts';
import type { NakReason } from './pool.ts';

const ZERO = '0.0.0.0';

/** RFC 2132 §9.6 option 53 names; `BOOTP` for a request without option 53, `UNKNOWN` for codes past 8. */
export type DhcpMessageName =
  | 'DISCOVER'
  | 'OFFER'
  | 'REQUEST'
  | 'DECLINE'
  | 'ACK'
  | 'NAK'
  | 'RELEASE'
  | 'INFORM'
  | 'BOOTP'
  | 'UNKNOWN';

const MESSAGE_NAMES: readonly DhcpMessageName[] = [
  'UNKNOWN',
  'DISCOVER',
  'OFFER',
  'REQUEST',
  'DECLINE',
  'ACK',
  'NAK',
  'RELEASE',
  'INFORM',
];

export function dhcpMessageName(type: number | undefined): DhcpMessageName {
  return type === undefined ? 'BOOTP' : (MESSAGE_NAMES[type] ?? 'UNKNOWN');
}

export type DhcpOutcome = 'offered' | 'acked' | 'nak' | 'ignored' | 'released' | 'declined' | 'informed';

/** Why a packet got no reply. Stable: dashboards and the UI key on these. */
export type DhcpIgnoreReason =
  /** Proxy mode: no PXEClient/HTTPClient vendor class, the site's DHCP server serves it. */
  | 'not-boot-client'
  /** Proxy mode: a message proxyDHCP does not answer on this port (a REQUEST on 67, a DISCOVER on 4011). */
  | 'not-for-proxy'
  /** Proxy mode: the boot policy ignores this client, so there is nothing to offer. */
  | 'boot-policy'
  | 'no-server-address'
  | 'no-pool'
  | 'no-subnet'
  | 'pool-exhausted'
  | 'invalid-request'
  /** A SELECTING REQUEST naming another server: that server won. */
  | 'other-server'
  /** RFC 2131 §4.3.2 INIT-REBOOT: "If the DHCP server has no record of this client, then it MUST remain silent". */
  | 'no-record'
  /** RELEASE or DECLINE of an address this client does not hold. */
  | 'no-lease'
  | 'unsupported-message'
  | 'encode-failed'
  | 'send-failed'
  /** The socket's send queue was full (the kernel not taking replies as fast as they come): the reply is dropped
   * rather than queued without bound; the client retransmits. */
  | 'send-queue-full'
  /** The lease could not be made durable, so the ACK was withheld (the client retries). */
  | 'commit-failed'
  /** Several servers on one store: another server's client holds the address (the store refused the claim), so the
   * reply was withheld; the pool knows the holder now and the client's retransmission gets another answer. */
  | 'lease-conflict'
  | 'error';

/** Why a received datagram got no reply: an ignored message, or one never decoded or handled. */
export type DhcpDropReason =
  | DhcpIgnoreReason
  | 'malformed'
  /** A BOOTREPLY, or a request without a hardware address. */
  | 'not-request'
  /** Shed under load: its queue was full (see intake.ts); the client retransmits. */
  | 'shed-request'
  | 'shed-discover'
  /** Load balancing (balance.ts): another live server answers this client. Not an exchange of ours. */
  | 'not-our-share';

export interface DhcpExchange {
  /** `ip` is the client's address when known: ciaddr, the source of an unrelayed packet, or the address acked. */
  facts: ClientFacts;
  message: DhcpMessageName;
  /** The server port it came in on: the DHCP port (67) or proxyDHCP's boot-server port (4011). */
  port: number;
  xid: number;
  reply?: 'OFFER' | 'ACK' | 'NAK';
  /** The address offered or acknowledged (full mode). */
  yiaddr?: string;
  outcome: DhcpOutcome;
  /** Set for `ignored` and `nak`. */
  reason?: DhcpIgnoreReason | NakReason;
  /** Free text for people (a NAK's message, the policy's reason); not for matching. */
  detail?: string;
  bootfile?: string;
  /** From the datagram's arrival to its reply handed to the kernel (or to being ignored): queueing, the decision,
   * the lease commit an ACK waits for. */
  seconds: number;
}

export type ExchangeResult = Omit<DhcpExchange, 'facts' | 'message' | 'port' | 'xid' | 'seconds'> & {
  /** performance.now() when the reply was given to the socket (the end of `seconds`); else the exchange's end. */
  handedAt?: number;
};

const REPLY_NAMES = { [MessageType.Offer]: 'OFFER', [MessageType.Ack]: 'ACK', [MessageType.Nak]: 'NAK' } as const;

/** What a sent reply says, for the exchange. */
export function replied(reply: DhcpPacket, outcome: DhcpOutcome): ExchangeResult {
  const type = reply.options.messageType;
  const r: ExchangeResult = { outcome };
  if (type === MessageType.Offer || type === MessageType.Ack || type === MessageType.Nak) r.reply = REPLY_NAMES[type];
  if (reply.yiaddr !== ZERO) r.yiaddr = reply.yiaddr;
  if (reply.options.bootfileName) r.bootfile = reply.options.bootfileName;
  return r;
}
