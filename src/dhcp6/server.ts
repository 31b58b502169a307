/**
 * The DHCPv6 server (RFC 8415, full mode): the socket loop (net/udp6.ts), message validation and answers (answer.ts),
 * the address pool (pool.ts), the same boot policy as DHCPv4 (the boot file as RFC 5970 option 59), durable bindings
 * before a REPLY that gives them. Every client message ends in one exchange report (the boot timeline, the metrics),
 * every message that gets no reply in one drop with its reason, as on the IPv4 side.
 *
 * The loop is DHCPv4's: the same intake (REQUEST-class messages before SOLICITs, bounded queues, shedding; see
 * dhcp/intake.ts) and the same group commit (all bindings decided in one turn of the event loop made durable
 * together, their REPLYs held until they are; see dhcp/group-commit.ts). The commit is a claim, as DHCPv4's is
 * (Store.claimLeases): with several servers on one store, an address another server's client holds is refused, the
 * pool learns the holder, and the reply that would have given it is withheld (`lease-conflict`); the client's
 * retransmission gets another address.
 */
import { performance } from 'node:perf_hooks';
import type { DhcpDecision } from '../boot/decide.ts';
import type { DhcpDropReason } from '../dhcp/exchange.ts';
import { GroupCommit } from '../dhcp/group-commit.ts';
import { INTAKE_BOUNDS, Intake, type IntakeClass } from '../dhcp/intake.ts';
import type { ClientFacts } from '../model/types.ts';
import { interfaceAddress6, openDhcp6Socket, zoneOf } from '../net/udp6.ts';
import type { StoredLease } from '../store/types.ts';
import { answer, type Dhcp6Exchange } from './answer.ts';
import { factsFromMessage, macOf } from './facts.ts';
import { decodeMessage, encodeMessage, Msg } from './packet.ts';
import type { Lease6Pool } from './pool.ts';
import { buildReply } from './reply.ts';

export type { Dhcp6Exchange } from './answer.ts';

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

/** A client message as the intake queues it. */
export interface Datagram6 {
  msg: Buffer;
  /** The client's link-local source address with its zone, and port. */
  from: string;
  port: number;
  /** performance.now() when it was read. */
  at: number;
}

const URGENT = new Set<number>([
  Msg.Request,
  Msg.Renew,
  Msg.Rebind,
  Msg.Confirm,
  Msg.Release,
  Msg.Decline,
  Msg.InformationRequest,
]);

/**
 * RFC 8415 §8: "msg-type: Identifies the DHCP message type", the first octet of the message, read without a decode.
 * A SOLICIT starts an exchange and waits behind the messages that finish or keep one, as a DHCPv4 DISCOVER does;
 * anything else (garbage, a server's message) is the rest.
 */
export function classifyDhcp6(d: Datagram6): IntakeClass {
  const type = d.msg[0];
  return type !== undefined && URGENT.has(type) ? 'urgent' : 'discover';
}

export interface Dhcp6ServerOptions {
  interfaces: string[];
  port: number;
  pool: Lease6Pool;
  /** Our DUID (RFC 8415 §11), stable across restarts: clients RENEW with it. */
  serverId: Buffer;
  /** Claims the leases (Store.claimLeases); resolves once the rest are durable, with the holders of those refused. */
  claimLeases(changes: StoredLease[]): Promise<StoredLease[]>;
  decide(facts: ClientFacts): Promise<DhcpDecision>;
  onExchange?(e: Dhcp6Exchange): void;
  onDrop?(reason: DhcpDropReason, detail: string): void;
  warn(message: string): void;
  now?: () => number;
  /** Where the TFTP boot files are: our global address on the interface (tests give it). */
  serverAddress?: (iface: string) => string | undefined;
}

/** Hands an encoded reply to the socket; `done` once the kernel took it or with why not. */
export type Transmit = (reply: Buffer, port: number, address: string, done: (err: Error | null) => void) => void;

export interface Dhcp6Loop {
  push(d: Datagram6): void;
  /** Stops reading; commits and sends what is pending. */
  close(): Promise<void>;
}

/** A REPLY (or ADVERTISE) decided, waiting for the commit of its bindings. */
interface Pending {
  reply: Buffer;
  d: Datagram6;
  /** The address the reply gives (ADVERTISE, REPLY binding it): withheld if its claim is refused. */
  gives?: string;
  /** Reports the exchange once the reply left, or with why it did not. */
  settle(err?: { reason: DhcpDropReason; detail?: string }): void;
}

/** The server without its socket: the intake, the answers, the group commit; replies leave through `transmit`. */
export function dhcp6Loop(o: Dhcp6ServerOptions, transmit: Transmit): Dhcp6Loop {
  const now = o.now ?? Date.now;
  const served = new Set(o.interfaces);
  const ctx = { ...o, now, serverAddress: o.serverAddress ?? interfaceAddress6 };
  const drop = (reason: DhcpDropReason, detail: string) => {
    try {
      o.onDrop?.(reason, detail);
    } catch (err) {
      o.warn(`DHCPv6: drop handler failed: ${(err as Error).message}`);
    }
  };

  // The one place a reply is handed to the socket: back to the client's link-local source address and port, whose
  // zone sends it out of the interface it came in on.
  const send = (p: Pending): void => {
    try {
      transmit(p.reply, p.d.port, p.d.from, (err) => p.settle(err ? { reason: 'send-failed' } : undefined));
    } catch {
      // A socket closed under a late group commit throws instead of calling back.
      p.settle({ reason: 'send-failed' });
    }
  };
  const group = new GroupCommit<StoredLease, Pending, StoredLease[]>({
    commit: (changes) => o.claimLeases(changes),
    release: (sends, refused) => {
      if (refused.length) o.pool.restore(refused);
      const held = new Map(refused.map((l) => [l.ip, l]));
      for (const p of sends) {
        const holder = p.gives === undefined ? undefined : held.get(p.gives);
        if (!holder) send(p);
        else
          p.settle({
            reason: 'lease-conflict',
            detail: `${p.gives} is held by ${holder.mac} (server ${holder.server ?? '?'})`,
          });
      }
    },
    fail: (sends, err) => {
      // Not durable, so not given: the clients retransmit.
      o.warn(`DHCPv6: lease commit failed, ${sends.length} replies withheld: ${err.message}`);
      for (const p of sends) p.settle({ reason: 'commit-failed' });
    },
  });

  /** Decides one message's answer; its reply leaves now, or with the group commit of its bindings. */
  async function handle(d: Datagram6): Promise<void> {
    const { from } = d;
    const iface = zoneOf(from);
    if (!iface || !served.has(iface))
      return drop('no-subnet', `from ${from}: not a link-local source on a served interface`);
    const decoded = decodeMessage(d.msg);
    if (!decoded.ok) return drop('malformed', `from ${from}: ${decoded.error.code} ${decoded.error.message}`);
    const m = decoded.message;
    const mac = macOf(m, from);
    if (!mac) return drop('invalid-request', `${messageName(m.type)} from ${from}: no MAC in its DUID or address`);
    const facts = factsFromMessage(m, mac, iface);
    const base = { facts, message: messageName(m.type), port: o.port };
    const report = (e: Omit<Dhcp6Exchange, 'facts' | 'message' | 'port'>, detail?: string) => {
      if (e.outcome === 'ignored') {
        drop(
          (e.reason ?? 'error') as DhcpDropReason,
          `${base.message} from ${mac} on ${iface}${detail ? `: ${detail}` : ''}`,
        );
      }
      try {
        o.onExchange?.({ ...base, ...e });
      } catch (err) {
        o.warn(`DHCPv6: exchange handler failed: ${(err as Error).message}`);
      }
    };
    const v = await answer(ctx, m, facts, iface);
    if (!v.reply) return report({ outcome: v.outcome, ...(v.reason ? { reason: v.reason } : {}) });
    const reply = buildReply({ ...v.reply, request: m, serverId: o.serverId, now: now() });
    const pending: Pending = {
      reply: encodeMessage(reply),
      d,
      ...(v.reply.lease ? { gives: v.reply.lease.ip } : {}),
      settle: (err) => {
        if (err) return report({ outcome: 'ignored', reason: err.reason }, err.detail);
        report({
          outcome: v.outcome,
          reply: reply.type === Msg.Advertise ? 'ADVERTISE' : 'REPLY',
          ...(v.reply?.lease ? { yiaddr: v.reply.lease.ip } : {}),
          ...(reply.options.bootfileUrl ? { bootfile: reply.options.bootfileUrl } : {}),
          ...(v.reason ? { reason: v.reason } : {}),
        });
      },
    };
    if (v.changes?.length) group.add(v.changes, pending);
    else send(pending);
  }

  const intake = new Intake<Datagram6>({
    ...INTAKE_BOUNDS,
    classify: classifyDhcp6,
    handle: (d) => handle(d).catch((err: Error) => o.warn(`DHCPv6: message from ${d.from} failed: ${err.message}`)),
    shed: (reason, d) => drop(reason, `from ${d.from}: overloaded (queue full or waited too long)`),
  });
  return {
    push: (d) => intake.push(d),
    async close() {
      intake.close();
      await group.close();
    },
  };
}

export interface Dhcp6Server {
  close(): Promise<void>;
}

export async function startDhcp6Server(o: Dhcp6ServerOptions): Promise<Dhcp6Server> {
  const socket = await openDhcp6Socket(o.interfaces, o.port);
  const loop = dhcp6Loop(o, (reply, port, address, done) => socket.send(reply, port, address, done));
  socket.on('message', (msg, rinfo) =>
    loop.push({ msg, from: rinfo.address, port: rinfo.port, at: performance.now() }),
  );
  socket.on('error', (err) => o.warn(`DHCPv6: socket error: ${err.message}`));
  return {
    async close() {
      await loop.close();
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}
