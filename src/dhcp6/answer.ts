/**
 * What the DHCPv6 server answers one client message with (RFC 8415 §16 validation, §18.3 the server's side of each
 * exchange): a verdict naming the reply, the outcome and the lease changes the reply must wait for. No sockets.
 */
import type { DhcpDecision } from '../boot/decide.ts';
import type { Subnet6Config } from '../config/dhcp6.ts';
import type { DhcpDropReason } from '../dhcp/exchange.ts';
import type { ClientFacts } from '../model/types.ts';
import type { StoredLease } from '../store/types.ts';
import { isHttpClient } from './facts.ts';
import { type Dhcp6Message, Msg, Opt, Status } from './packet.ts';
import type { Client6, Lease6Pool } from './pool.ts';
import { bootfileUrl, type ReplyInput } from './reply.ts';

/** What one client message came to (the shape the boot service and the metrics take for DHCPv4 too). */
export interface Dhcp6Exchange {
  facts: ClientFacts;
  message: string;
  port: number;
  reply?: 'ADVERTISE' | 'REPLY';
  /** The address advertised or bound. */
  yiaddr?: string;
  outcome: 'offered' | 'acked' | 'nak' | 'ignored' | 'released' | 'declined' | 'informed';
  reason?: DhcpDropReason | 'no-binding' | 'not-on-link';
  bootfile?: string;
}

export interface Verdict {
  reply?: Omit<ReplyInput, 'request' | 'serverId' | 'now'>;
  outcome: Dhcp6Exchange['outcome'];
  reason?: Dhcp6Exchange['reason'];
  changes?: StoredLease[];
}

export interface AnswerContext {
  pool: Lease6Pool;
  serverId: Buffer;
  decide(facts: ClientFacts): Promise<DhcpDecision>;
  serverAddress(iface: string): string | undefined;
  now(): number;
}

/**
 * The boot file for this client, or undefined: not asked for (option 59 not in its Option Request option: a host's
 * own DHCPv6, EDK2's IP6 configuration after its HTTP boot exchange), the policy says ignore, or no address to name
 * a TFTP server by.
 */
async function bootfile(
  o: AnswerContext,
  m: Dhcp6Message,
  facts: ClientFacts,
  iface: string,
): Promise<string | undefined> {
  if (!m.options.oro?.includes(Opt.BootfileUrl)) return undefined;
  return bootfileUrl(await o.decide(facts), o.serverAddress(iface));
}

/** The verdict on one message: §16's checks of its identifiers, then the server's part of its §18.3 exchange. */
export async function answer(o: AnswerContext, m: Dhcp6Message, facts: ClientFacts, iface: string): Promise<Verdict> {
  const op = m.options;
  const ignore = (reason: DhcpDropReason): Verdict => ({ outcome: 'ignored', reason });
  const subnet: Subnet6Config | undefined = o.pool.subnetFor(iface);
  const ours = op.serverId?.equals(o.serverId) ?? false;
  // §16: which messages must and must not carry a Server Identifier, and a Client Identifier.
  if (m.type === Msg.InformationRequest) {
    if (op.serverId && !ours) return ignore('other-server');
    return {
      outcome: 'informed',
      reply: {
        type: Msg.Reply,
        bootfile: await bootfile(o, m, facts, iface),
        httpClient: isHttpClient(facts),
        ...(subnet ? { subnet } : {}),
      },
    };
  }
  if (!op.clientId) return ignore('invalid-request');
  const client: Client6 = { duid: op.clientId.toString('hex'), mac: facts.mac };
  const needsServerId = [Msg.Request, Msg.Renew, Msg.Release, Msg.Decline] as number[];
  if (needsServerId.includes(m.type) && !ours) return ignore(op.serverId ? 'other-server' : 'invalid-request');
  if ((m.type === Msg.Solicit || m.type === Msg.Rebind || m.type === Msg.Confirm) && op.serverId) {
    return ignore('invalid-request');
  }
  if (!subnet) return ignore('no-subnet');
  const t = o.now();
  const ia = op.iaNa[0];
  switch (m.type) {
    case Msg.Solicit:
    case Msg.Request: {
      // RFC 8415 §18.3.1: with Rapid Commit (§21.14) the server answers a SOLICIT with a REPLY that binds.
      const rapid = m.type === Msg.Solicit && op.rapidCommit === true;
      const bind = m.type === Msg.Request || rapid;
      const given = ia ? o.pool.assign(subnet, client, bind, t) : undefined;
      const file = await bootfile(o, m, facts, iface);
      const reply: Verdict['reply'] = {
        type: m.type === Msg.Solicit && !rapid ? Msg.Advertise : Msg.Reply,
        subnet,
        ...(given ? { lease: given.lease } : { iaStatus: { code: Status.NoAddrsAvail, message: 'no address free' } }),
        ...(file ? { bootfile: file } : {}),
        httpClient: isHttpClient(facts),
        ...(rapid ? { rapidCommit: true } : {}),
      };
      const outcome = bind ? 'acked' : 'offered';
      return { outcome, reply, changes: given?.changes ?? [], ...(ia && !given ? { reason: 'pool-exhausted' } : {}) };
    }
    case Msg.Renew:
    case Msg.Rebind: {
      const address = ia?.addresses[0]?.address;
      const lease = address ? o.pool.renew(subnet, client, address, t) : undefined;
      const file = await bootfile(o, m, facts, iface);
      const common = { type: Msg.Reply, subnet, ...(file ? { bootfile: file } : {}) } as const;
      if (!lease) {
        // RFC 8415 §18.3.4: an IA the server has no binding for comes back with no addresses and NoBinding.
        return {
          outcome: 'nak',
          reason: 'no-binding',
          reply: { ...common, iaStatus: { code: Status.NoBinding, message: 'no binding for this address' } },
        };
      }
      return { outcome: 'acked', reply: { ...common, lease }, changes: [lease] };
    }
    case Msg.Release:
    case Msg.Decline: {
      const how = m.type === Msg.Release ? 'released' : 'declined';
      const changes = op.iaNa.flatMap((i) =>
        i.addresses.flatMap((a) => o.pool.giveUp(client, a.address, how, t) ?? []),
      );
      // §18.3.7/§18.3.8: a REPLY with a Status Code of Success.
      return { outcome: how, reply: { type: Msg.Reply, status: { code: Status.Success, message: how } }, changes };
    }
    case Msg.Confirm: {
      const addresses = op.iaNa.flatMap((i) => i.addresses.map((a) => a.address));
      // RFC 8415 §18.3.3: with no addresses in any IA the server sends no Reply.
      if (!addresses.length) return ignore('invalid-request');
      const fine = addresses.every((a) => o.pool.onLink(subnet, a));
      const status = fine
        ? { code: Status.Success, message: 'on link' }
        : { code: Status.NotOnLink, message: 'not on this link' };
      return {
        outcome: fine ? 'acked' : 'nak',
        reply: { type: Msg.Reply, status },
        ...(fine ? {} : { reason: 'not-on-link' }),
      };
    }
    default:
      return ignore('unsupported-message');
  }
}
