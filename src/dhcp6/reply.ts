/**
 * DHCPv6 replies, pure: what an ADVERTISE or REPLY carries for one client message, the lease the pool gave it and the
 * boot decision. The boot file goes in RFC 5970 §3.1 OPTION_BOOTFILE_URL ("the URL for the boot file. It MUST comply
 * with STD 66"); a TFTP one names the server by its address in brackets (RFC 3986 §3.2.2 IP-literal).
 */
import type { DhcpDecision } from '../boot/decide.ts';
import type { Subnet6Config } from '../config/dhcp6.ts';
import type { StoredLease } from '../store/types.ts';
import { type Dhcp6Message, type Dhcp6Options, type IaNa, Msg, Status } from './packet.ts';

/** IANA enterprise number 343 (Intel): the PXE and UEFI HTTP boot vendor class. */
export const PXE_ENTERPRISE = 343;

/**
 * The boot file URL a decision gives over IPv6, or undefined when it gives none. TFTP names become
 * `tftp://[server]/name` (`server`: our global address on the client's link); HTTP decisions are URLs already.
 */
export function bootfileUrl(decision: DhcpDecision, server: string | undefined): string | undefined {
  switch (decision.kind) {
    case 'ignore':
      return undefined;
    case 'script':
      return decision.url;
    case 'ipxe-binary':
    case 'shim':
      if (decision.transport === 'http') return decision.file;
      return server ? `tftp://[${server}]/${decision.file}` : undefined;
  }
}

export interface ReplyInput {
  request: Dhcp6Message;
  type: typeof Msg.Advertise | typeof Msg.Reply;
  serverId: Buffer;
  subnet?: Subnet6Config;
  /** The address given to the client's first IA_NA, when one was. */
  lease?: StoredLease;
  /** Status for the IA_NA when no address was given (NoAddrsAvail, NoBinding, …). */
  iaStatus?: { code: number; message: string };
  /** A message-level status (RELEASE, DECLINE, CONFIRM replies). */
  status?: { code: number; message: string };
  bootfile?: string;
  /** UEFI HTTP boot clients need the vendor class `HTTPClient` back, as over IPv4 (option 60). */
  httpClient?: boolean;
  rapidCommit?: boolean;
  now: number;
}

/** RFC 8415 §21.4: "Recommended values for T1 and T2 are 0.5 and 0.8 times the shortest preferred lifetime". */
function iaFor(ia: IaNa, input: ReplyInput, first: boolean): IaNa {
  const { lease, subnet } = input;
  if (first && lease && subnet) {
    const valid = Math.max(0, Math.round((lease.expiresAt - input.now) / 1000));
    const bound = lease.state === 'bound';
    const preferred = bound ? Math.min(subnet.preferredSeconds, valid) : subnet.preferredSeconds;
    const lifetime = bound ? valid : subnet.validSeconds;
    return {
      iaid: ia.iaid,
      t1: Math.floor(preferred * 0.5),
      t2: Math.floor(preferred * 0.8),
      addresses: [{ address: lease.ip, preferred, valid: lifetime }],
    };
  }
  return {
    iaid: ia.iaid,
    t1: 0,
    t2: 0,
    addresses: [],
    status: first && input.iaStatus ? input.iaStatus : { code: Status.NoAddrsAvail, message: 'one address per client' },
  };
}

export function buildReply(input: ReplyInput): Dhcp6Message {
  const { request } = input;
  const options: Dhcp6Options = { iaNa: [], serverId: input.serverId };
  // The reply carries the Client Identifier the client sent (RFC 8415 §18.3).
  if (request.options.clientId) options.clientId = request.options.clientId;
  const withIa = [Msg.Solicit, Msg.Request, Msg.Renew, Msg.Rebind] as number[];
  if (withIa.includes(request.type)) options.iaNa = request.options.iaNa.map((ia, i) => iaFor(ia, input, i === 0));
  // §18.2.1: on a Preference of 255 "the client immediately begins a client-initiated message exchange".
  if (input.type === Msg.Advertise) options.preference = 255;
  if (input.status) options.status = input.status;
  if (input.rapidCommit) options.rapidCommit = true;
  if (input.httpClient) options.vendorClass = [{ enterprise: PXE_ENTERPRISE, data: ['HTTPClient'] }];
  if (input.subnet?.dnsServers?.length) options.dnsServers = input.subnet.dnsServers;
  if (input.bootfile) options.bootfileUrl = input.bootfile;
  return { type: input.type, xid: request.xid, options };
}
