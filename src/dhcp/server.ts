/**
 * The DHCP server loop: sockets in, decoded packets to the boot policy and the lease pool, replies out of the
 * interface they came in on. Full mode hands out addresses (full.ts); proxy mode (beside another DHCP server) only
 * answers PXE and HTTP-boot clients with boot information, on port 67 and on the PXE boot-server port 4011 (proxy.ts).
 * Replies leave through sender.ts, ACKs only once their leases are durable (group commit).
 *
 * Every client packet ends in one DhcpExchange (what came, what went back, why not), reported once the reply has
 * left or the packet was given up on: the boot timeline and the per-message metrics are built from these. Every
 * datagram that gets no reply is reported once more through onDrop, with its reason.
 *
 * Under load the sockets are drained into two queues, REQUESTs before DISCOVERs (intake.ts).
 */
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { DhcpDecision } from '../boot/decide.ts';
import type { ClientFacts } from '../model/types.ts';
import { type DhcpSocket, interfaceAddress, openDhcpSockets } from '../net/udp4.ts';
import { DiscoverAdmission, discoverFilter } from './admission.ts';
import type { HandlerContext } from './context.ts';
import {
  type DhcpDropReason,
  type DhcpExchange,
  type DhcpIgnoreReason,
  dhcpMessageName,
  type ExchangeResult,
} from './exchange.ts';
import { factsFromPacket } from './facts.ts';
import { answerFull } from './full.ts';
import { INTAKE_BOUNDS, Intake, type IntakeClass } from './intake.ts';
import { MessageType } from './option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, peekMessageType } from './packet.ts';
import type { Lease, LeasePool } from './pool.ts';
import { answerProxy } from './proxy.ts';
import { ReplySender } from './sender.ts';

export type { DhcpDropReason, DhcpExchange, DhcpIgnoreReason, DhcpMessageName, DhcpOutcome } from './exchange.ts';

export interface DhcpServerOptions {
  mode: 'full' | 'proxy';
  interfaces: string[];
  serverIp?: string;
  port: number;
  proxyPort: number;
  /** Full mode: the address pool (already restored from the store). */
  pool?: LeasePool;
  /** Makes lease changes durable; resolves only when they are. */
  commitLeases(changes: Lease[]): Promise<void>;
  /** Several servers on one store: claims them instead of commitLeases (Store.claimLeases), resolving with the
   * changes refused, as the store holds them; offers are claimed too when `storeOffers`. */
  claimLeases?(changes: Lease[]): Promise<Lease[]>;
  storeOffers?: () => boolean;
  /** Load balancing (balance.ts): false for a client another live server answers; dropped as `not-our-share`. */
  share?(packet: DhcpPacket): boolean;
  /** The boot policy (records the boot event and the decision metric); `receivedAt` is performance.now() when the
   * packet was read. */
  decide(facts: ClientFacts, receivedAt: number): Promise<DhcpDecision>;
  onPacket?(kind: 'received' | 'malformed' | 'replied', detail?: string): void;
  /** Once per client packet, after its reply was sent (an ACK: after its lease was durable and it was sent). */
  onExchange?(e: DhcpExchange): void;
  /** Once per datagram that got no reply (after its exchange, if it had one). */
  onDrop?(reason: DhcpDropReason, detail: string): void;
  /** The share of new DISCOVERs the kernel now lets through (admission.ts): below 1 under overload. */
  onAdmission?(fraction: number): void;
  warn(message: string): void;
  debug?(message: string): void;
  now?: () => number;
}

export interface DhcpServer {
  close(): Promise<void>;
}

const ZERO = '0.0.0.0';
const EXPIRY_SWEEP_MS = 30_000;
/** How often the admitted share of DISCOVERs follows the intake: a few steps a second, to catch a flood early. */
const ADMISSION_TICK_MS = 250;

/** A datagram as the intake queues it. */
export interface Datagram {
  msg: Buffer;
  socket: Socket;
  iface: string | undefined;
  from: { address: string; port: number };
  onProxyPort: boolean;
  /** performance.now() when it was read. */
  at: number;
}

const URGENT = new Set<number>([MessageType.Request, MessageType.Decline, MessageType.Release, MessageType.Inform]);

/** REQUESTs, DECLINEs, RELEASEs, INFORMs and anything on the proxy port first; DISCOVERs and the rest after. */
export function classifyDhcp4(d: Datagram): IntakeClass {
  const type = d.onProxyPort ? MessageType.Request : peekMessageType(d.msg);
  return type !== undefined && URGENT.has(type) ? 'urgent' : 'discover';
}

export async function startDhcpServer(o: DhcpServerOptions): Promise<DhcpServer> {
  const now = o.now ?? Date.now;
  const count = (kind: 'received' | 'malformed' | 'replied', detail?: string) => o.onPacket?.(kind, detail);
  const drop = (reason: DhcpDropReason, detail: string): void => {
    try {
      o.onDrop?.(reason, detail);
    } catch (err) {
      o.warn(`DHCP: drop handler failed: ${(err as Error).message}`);
    }
  };
  const sockets = await openDhcpSockets(o.interfaces, o.port, o.warn);
  const proxySockets = o.mode === 'proxy' ? await openDhcpSockets(o.interfaces, o.proxyPort, o.warn) : [];

  const ourAddress = (iface: string | undefined): string | undefined =>
    o.serverIp ?? (iface ? interfaceAddress(iface) : undefined);

  const claim = o.claimLeases;
  const sender = new ReplySender({
    commitLeases: claim ? (changes) => claim(changes) : (changes) => o.commitLeases(changes).then(() => []),
    storeOffers: o.storeOffers ?? (() => false),
    learn: (holders) => o.pool?.restore(holders),
    onReplied: () => count('replied'),
    warn: (m) => o.warn(m),
  });

  async function handle(
    msg: Buffer,
    socket: Socket,
    iface: string | undefined,
    from: { address: string; port: number },
    onProxyPort: boolean,
    at: number,
  ): Promise<void> {
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      count('malformed', decoded.error.code);
      return drop('malformed', `from ${from.address}: ${decoded.error.code}`);
    }
    const p = decoded.packet;
    if (p.op !== BOOTREQUEST || !p.mac) {
      return drop('not-request', `from ${from.address}: ${p.op !== BOOTREQUEST ? 'a BOOTREPLY' : 'no chaddr'}`);
    }
    count('received');
    const facts = factsFromPacket(p, iface);
    // An unrelayed packet's source is the client itself (0.0.0.0 until it has an address).
    const source = p.giaddr === ZERO && from.address !== ZERO ? from.address : undefined;
    const known: ClientFacts = facts.ip === undefined && source ? { ...facts, ip: source } : facts;
    const base = {
      message: dhcpMessageName(p.options.messageType),
      port: onProxyPort ? o.proxyPort : o.port,
      xid: p.xid,
    };
    let settled = false;
    const finish = ({ handedAt, ...r }: ExchangeResult): void => {
      if (settled) return;
      settled = true;
      if (r.outcome === 'ignored') {
        const why = [
          `${base.message} from ${p.mac}`,
          p.giaddr !== ZERO ? `via relay ${p.giaddr}` : `on ${iface ?? 'any'}`,
        ];
        drop((r.reason ?? 'error') as DhcpDropReason, [...why, r.detail].filter(Boolean).join(' '));
      }
      if (!o.onExchange) return;
      // The address just acknowledged is the client's from now on: later TFTP and HTTP requests come from it.
      const withIp = r.outcome === 'acked' && r.yiaddr && known.ip === undefined ? { ...known, ip: r.yiaddr } : known;
      try {
        o.onExchange({ facts: withIp, ...base, ...r, seconds: ((handedAt ?? performance.now()) - at) / 1000 });
      } catch (err) {
        o.warn(`DHCP: exchange handler failed: ${(err as Error).message}`);
      }
    };
    try {
      await exchange(p, facts, socket, iface, from, onProxyPort, at, finish);
    } catch (err) {
      finish({ outcome: 'ignored', reason: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /** One client packet, decoded. Calls `finish` exactly once, or hands it to the reply it queues. */
  async function exchange(
    p: DhcpPacket,
    facts: ClientFacts,
    socket: Socket,
    iface: string | undefined,
    from: { address: string; port: number },
    onProxyPort: boolean,
    at: number,
    finish: (r: ExchangeResult) => void,
  ): Promise<void> {
    const ignore = (reason: DhcpIgnoreReason, detail?: string): void =>
      finish({ outcome: 'ignored', reason, ...(detail ? { detail } : {}) });
    const serverIp = ourAddress(iface);
    if (!serverIp) {
      // Said (rate-limited, as a warning) through the drop log, not once a packet.
      return ignore('no-server-address', `no IPv4 address known for interface ${iface ?? '(any)'}; set dhcp.server_ip`);
    }
    const ctx: HandlerContext = {
      packet: p,
      facts,
      socket,
      from,
      serverIp,
      decide: (f) => o.decide(f, at),
      sender,
      finish,
      ignore,
    };
    if (o.mode === 'proxy') return answerProxy(ctx, onProxyPort);
    const pool = o.pool;
    if (!pool) return ignore('no-pool');
    // Not ours: counted, but no exchange (the boot timeline shows the server that answered, not the ones that did not).
    if (o.share && !o.share(p)) return drop('not-our-share', `${dhcpMessageName(p.options.messageType)} from ${p.mac}`);
    return answerFull(ctx, pool, now());
  }

  const intake = new Intake<Datagram>({
    ...INTAKE_BOUNDS,
    classify: classifyDhcp4,
    handle: (d: Datagram) =>
      handle(d.msg, d.socket, d.iface, d.from, d.onProxyPort, d.at).catch((err: Error) => {
        o.warn(`DHCP: request from ${d.from.address} failed: ${err.message}`);
      }),
    shed: (reason, d) => drop(reason, `from ${d.from.address}: overloaded (queue full or waited too long)`),
  });
  const listen = (list: DhcpSocket[], onProxyPort: boolean) => {
    for (const { socket, iface } of list) {
      socket.on('message', (msg, rinfo) => {
        const from = { address: rinfo.address, port: rinfo.port };
        intake.push({ msg, socket, iface, from, onProxyPort, at: performance.now() });
      });
      socket.on('error', (err) => o.warn(`DHCP: socket error: ${err.message}`));
    }
  };
  listen(sockets, false);
  listen(proxySockets, true);

  // Under overload, new DISCOVERs are held back in the kernel before they cost a read (admission.ts); the portable
  // fallback socket cannot take a filter and sheds in the intake alone.
  const filtered = sockets.filter((s) => s.filter);
  const admission = new DiscoverAdmission();
  let last = { received: 0, served: 0, shed: 0 };
  const refused = new Set<DhcpSocket>();
  const governor = filtered.length
    ? setInterval(() => {
        const now = { received: intake.discoversReceived, served: intake.discoversServed, shed: intake.discoversShed };
        const next = admission.step({
          received: now.received - last.received,
          served: now.served - last.served,
          shed: now.shed - last.shed,
          queued: intake.discoversQueued,
        });
        last = now;
        if (next === undefined) return;
        const program = next >= 1 ? [] : discoverFilter(next);
        for (const s of filtered) {
          if (s.filter?.(program) || refused.has(s)) continue;
          refused.add(s);
          o.warn(`DHCP: the kernel refused a socket filter on ${s.iface}: overload is shed after reading only`);
        }
        o.onAdmission?.(next);
      }, ADMISSION_TICK_MS)
    : undefined;
  governor?.unref();

  const sweeper = setInterval(() => {
    if (o.pool) sender.commitThenSend(o.pool.expire(now()));
  }, EXPIRY_SWEEP_MS);
  sweeper.unref();

  return {
    async close() {
      clearInterval(sweeper);
      clearInterval(governor);
      intake.close();
      await sender.close();
      for (const { socket } of [...sockets, ...proxySockets]) {
        await new Promise<void>((r) => socket.close(() => r()));
      }
    },
  };
}
