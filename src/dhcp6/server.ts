/**
 * The DHCPv6 server (RFC 8415, full mode): the socket loop (net/udp6.ts), message validation (§16), the address pool
 * (pool.ts), the same boot policy as DHCPv4 (the boot file as RFC 5970 option 59), durable bindings before a REPLY
 * that gives them. Every client message ends in one exchange report (the boot timeline, the metrics), every message
 * that gets no reply in one drop with its reason, as on the IPv4 side.
 */
import type { Socket } from 'node:dgram';
import type { DhcpDecision } from '../boot/decide.ts';
import type { DhcpDropReason } from '../dhcp/exchange.ts';
import type { ClientFacts } from '../model/types.ts';
import { interfaceAddress6, openDhcp6Socket, zoneOf } from '../net/udp6.ts';
import type { StoredLease } from '../store/types.ts';
import { factsFromMessage, isHttpClient, macOf } from './facts.ts';
import { type Dhcp6Message, decodeMessage, encodeMessage, Msg, Opt, Status } from './packet.ts';
import type { Client6, Lease6Pool, Subnet6Config } from './pool.ts';
import { bootfileUrl, buildReply, type ReplyInput } from './reply.ts';

const NAMES: Record<number, string> = {
  [Msg.Solicit]: 'SOLICIT',
  [Msg.Advertise]: 'ADVERTISE',
  [Msg.Request]: 'REQUEST',
  [Msg.Confirm]: 'CONFIRM',
  [Msg.Renew]: 'RENEW',
  [Msg.Rebind]: 'REBIND',
  [Msg.Reply]: 'REPLY',
  [Msg.Release]: 'RELEASE',
  [Msg.Decline]: 'DECLINE',
  [Msg.Reconfigure]: 'RECONFIGURE',
  [Msg.InformationRequest]: 'INFORMATION-REQUEST',
};

function messageName(type: number): string {
  return NAMES[type] ?? 'UNKNOWN';
}

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

export interface Dhcp6ServerOptions {
  interfaces: string[];
  port: number;
  pool: Lease6Pool;
  /** Our DUID (RFC 8415 §11), stable across restarts: clients RENEW with it. */
  serverId: Buffer;
  commitLeases(changes: StoredLease[]): Promise<void>;
  decide(facts: ClientFacts): Promise<DhcpDecision>;
  onExchange?(e: Dhcp6Exchange): void;
  onDrop?(reason: DhcpDropReason, detail: string): void;
  warn(message: string): void;
  now?: () => number;
  /** Where the TFTP boot files are: our global address on the interface (tests give it). */
  serverAddress?: (iface: string) => string | undefined;
}

export interface Dhcp6Server {
  close(): Promise<void>;
}

interface Verdict {
  reply?: Omit<ReplyInput, 'request' | 'serverId' | 'now'>;
  outcome: Dhcp6Exchange['outcome'];
  reason?: Dhcp6Exchange['reason'];
  changes?: StoredLease[];
}

export async function startDhcp6Server(o: Dhcp6ServerOptions): Promise<Dhcp6Server> {
  const now = o.now ?? Date.now;
  const socket: Socket = await openDhcp6Socket(o.interfaces, o.port);
  const served = new Set(o.interfaces);
  const serverAddress = o.serverAddress ?? interfaceAddress6;
  const drop = (reason: DhcpDropReason, detail: string) => o.onDrop?.(reason, detail);

  async function handle(msg: Buffer, from: string, port: number): Promise<void> {
    const iface = zoneOf(from);
    if (!iface || !served.has(iface))
      return drop('no-subnet', `from ${from}: not a link-local source on a served interface`);
    const decoded = decodeMessage(msg);
    if (!decoded.ok) return drop('malformed', `from ${from}: ${decoded.error.code} ${decoded.error.message}`);
    const m = decoded.message;
    const mac = macOf(m, from);
    if (!mac) return drop('invalid-request', `${messageName(m.type)} from ${from}: no MAC in its DUID or address`);
    const facts = factsFromMessage(m, mac, iface);
    const base = { facts, message: messageName(m.type), port: o.port };
    const report = (e: Omit<Dhcp6Exchange, 'facts' | 'message' | 'port'>) => {
      if (e.outcome === 'ignored') {
        drop((e.reason ?? 'error') as DhcpDropReason, `${base.message} from ${mac} on ${iface}`);
      }
      try {
        o.onExchange?.({ ...base, ...e });
      } catch (err) {
        o.warn(`DHCPv6: exchange handler failed: ${(err as Error).message}`);
      }
    };
    const v = await answer(m, facts, iface);
    if (!v.reply) return report({ outcome: v.outcome, ...(v.reason ? { reason: v.reason } : {}) });
    if (v.changes?.length) {
      try {
        await o.commitLeases(v.changes);
      } catch (err) {
        o.warn(`DHCPv6: lease commit failed: ${(err as Error).message}`);
        return report({ outcome: 'ignored', reason: 'commit-failed' });
      }
    }
    const reply = buildReply({ ...v.reply, request: m, serverId: o.serverId, now: now() });
    // Back to the client's link-local source address and port: its zone sends it out of the interface it came in on.
    socket.send(encodeMessage(reply), port, from, (err) => {
      if (err) return report({ outcome: 'ignored', reason: 'send-failed' });
      report({
        outcome: v.outcome,
        reply: reply.type === Msg.Advertise ? 'ADVERTISE' : 'REPLY',
        ...(v.reply?.lease ? { yiaddr: v.reply.lease.ip } : {}),
        ...(reply.options.bootfileUrl ? { bootfile: reply.options.bootfileUrl } : {}),
        ...(v.reason ? { reason: v.reason } : {}),
      });
    });
  }

  /**
   * The boot file for this client, or undefined: not asked for (option 59 not in its Option Request option: a host's
   * own DHCPv6, EDK2's IP6 configuration after its HTTP boot exchange), the policy says ignore, or no address to name
   * a TFTP server by.
   */
  async function bootfile(m: Dhcp6Message, facts: ClientFacts, iface: string): Promise<string | undefined> {
    if (!m.options.oro?.includes(Opt.BootfileUrl)) return undefined;
    return bootfileUrl(await o.decide(facts), serverAddress(iface));
  }

  async function answer(m: Dhcp6Message, facts: ClientFacts, iface: string): Promise<Verdict> {
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
          bootfile: await bootfile(m, facts, iface),
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
    const t = now();
    const ia = op.iaNa[0];
    switch (m.type) {
      case Msg.Solicit:
      case Msg.Request: {
        // RFC 8415 §18.3.1: with Rapid Commit (§21.14) the server answers a SOLICIT with a REPLY that binds.
        const rapid = m.type === Msg.Solicit && op.rapidCommit === true;
        const bind = m.type === Msg.Request || rapid;
        const given = ia ? o.pool.assign(subnet, client, bind, t) : undefined;
        const file = await bootfile(m, facts, iface);
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
        const file = await bootfile(m, facts, iface);
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

  let closed = false;
  socket.on('message', (msg, rinfo) => {
    if (closed) return;
    handle(msg, rinfo.address, rinfo.port).catch((err: Error) =>
      o.warn(`DHCPv6: message from ${rinfo.address} failed: ${err.message}`),
    );
  });
  socket.on('error', (err) => o.warn(`DHCPv6: socket error: ${err.message}`));
  return {
    async close() {
      closed = true;
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}
