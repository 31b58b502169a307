/**
 * The DHCP server loop: sockets in, decoded packets to the boot policy and the lease pool, replies out of the
 * interface they came in on. Full mode hands out addresses; proxy mode (beside another DHCP server) only answers PXE
 * and HTTP-boot clients with boot information, on port 67 and on the PXE boot-server port 4011.
 *
 * Leases are durable before they are acknowledged: ACKs wait for the commit of their lease, and all leases decided
 * in the same turn of the event loop are committed together (group commit: one fsync for a burst, not one a client).
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
import {
  type DhcpDropReason,
  type DhcpExchange,
  type DhcpIgnoreReason,
  type DhcpOutcome,
  dhcpMessageName,
  type ExchangeResult,
  replied,
} from './exchange.ts';
import { factsFromPacket, isHttpClient, isPxeClient } from './facts.ts';
import { type Datagram, Intake } from './intake.ts';
import { MessageType } from './option-types.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, encodePacket } from './packet.ts';
import type { Lease, LeasePool, Subnet } from './pool.ts';
import {
  buildAck,
  buildInformAck,
  buildNak,
  buildOffer,
  buildProxyAck4011,
  buildProxyOffer,
  replyDestination,
  replyEncodeOptions,
  requestState,
} from './reply.ts';
import { type DhcpSocket, interfaceAddress, openDhcpSockets } from './socket.ts';

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
  /** The boot policy (records the boot event and the decision metric). */
  decide(facts: ClientFacts): Promise<DhcpDecision>;
  onPacket?(kind: 'received' | 'malformed' | 'replied', detail?: string): void;
  /** Once per client packet, after its reply was sent (an ACK: after its lease was durable and it was sent). */
  onExchange?(e: DhcpExchange): void;
  /** Once per datagram that got no reply (after its exchange, if it had one). */
  onDrop?(reason: DhcpDropReason, detail: string): void;
  warn(message: string): void;
  debug?(message: string): void;
  now?: () => number;
}

export interface DhcpServer {
  close(): Promise<void>;
}

type SendFailure = 'encode-failed' | 'send-failed' | 'send-queue-full' | 'commit-failed';

interface Outgoing {
  socket: Socket;
  request: DhcpPacket;
  reply: DhcpPacket;
  nak?: boolean;
  clientPort?: number;
  sourceAddress?: string;
  /** Reports the exchange: once the reply left, or with why it did not. */
  settle(failure?: SendFailure, detail?: string): void;
}

const ZERO = '0.0.0.0';
const EXPIRY_SWEEP_MS = 30_000;
/** Queue bounds and batch size of the intake: a few hundred ms of work at most, so a shed DISCOVER is retried by
 * its client (4 s in RFC 2131 §4.1) while a queued one would still be answered in time. */
const URGENT_MAX = 4096;
const DISCOVER_MAX = 512;
const DISCOVER_MAX_WAIT_MS = 300;
const BATCH = 32;
const BATCH_BUDGET_MS = 1;
/** Replies waiting in one socket's send queue at most. When the kernel takes no more (its send buffer full, e.g. of
 * unicasts waiting 3 s for ARP answers that never come), Node queues every further send, each holding its request
 * and reply: bench/rss's fuzz left ~20,000 there, the real clients' broadcasts among them. Past this the reply is
 * dropped (reason send-queue-full) and the client retransmits. */
const SEND_QUEUE_MAX = 256;

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

  function send(out: Outgoing): void {
    const encoded = encodePacket(out.reply, replyEncodeOptions(out.request));
    if (!encoded.ok) {
      o.warn(`DHCP: could not encode a reply for ${out.request.mac}: ${encoded.error.message}`);
      out.settle('encode-failed');
      return;
    }
    const dest = replyDestination(out.request, out.reply, {
      nak: out.nak ?? false,
      ...(out.clientPort ? { clientPort: out.clientPort } : {}),
    });
    // Node cannot write the ARP entry a unicast to a client without an address needs: broadcast instead, which
    // RFC 2131 allows ("the server broadcasts ... if the client cannot receive unicast" is the broadcast-bit case).
    const address = dest.unicastToChaddr ? '255.255.255.255' : (out.sourceAddress ?? dest.address);
    if (out.socket.getSendQueueCount() >= SEND_QUEUE_MAX) {
      out.settle('send-queue-full', `to ${address}:${dest.port}, ${SEND_QUEUE_MAX} replies already waiting`);
      return;
    }
    const sent = (err: Error | null) => {
      if (err) {
        // Said through the drop log (rate-limited), not once a packet: garbage naming unreachable addresses is common.
        out.settle('send-failed', `to ${address}:${dest.port}: ${err.message}`);
      } else {
        count('replied');
        out.settle();
      }
    };
    try {
      out.socket.send(encoded.buffer, dest.port, address, sent);
    } catch (err) {
      // A socket closed under a late group commit throws instead of calling back.
      sent(err as Error);
    }
  }

  // Group commit: ACKs wait here until their leases are durable.
  let pendingChanges: Lease[] = [];
  let pendingSends: Outgoing[] = [];
  let flushing: Promise<void> | undefined;
  let flushQueued = false;
  function commitThenSend(changes: Lease[], out?: Outgoing): void {
    // Offers are promises to nobody and are never written (see flush): an OFFER or a NAK with nothing durable to
    // wait for leaves now instead of queueing behind other clients' commits.
    if (out && changes.every((l) => l.state === 'offered')) {
      send(out);
      return;
    }
    pendingChanges.push(...changes);
    if (out) pendingSends.push(out);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(() => void flush());
    }
  }
  async function flush(): Promise<void> {
    flushQueued = false;
    await flushing;
    const changes = pendingChanges;
    const sends = pendingSends;
    pendingChanges = [];
    pendingSends = [];
    if (!changes.length && !sends.length) return;
    flushing = (async () => {
      try {
        // Offers are promises to nobody: only states that matter after a crash are written.
        const durable = changes.filter((l) => l.state !== 'offered');
        if (durable.length) await o.commitLeases(durable);
      } catch (err) {
        // Not durable, so not acknowledged: the clients will retry.
        for (const s of sends) s.settle('commit-failed');
        o.warn(`DHCP: lease commit failed, ${sends.length} replies withheld: ${(err as Error).message}`);
        return;
      }
      for (const s of sends) send(s);
    })();
    await flushing;
  }

  async function handle(
    msg: Buffer,
    socket: Socket,
    iface: string | undefined,
    from: { address: string; port: number },
    onProxyPort: boolean,
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
    const finish = (r: ExchangeResult): void => {
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
        o.onExchange({ facts: withIp, ...base, ...r });
      } catch (err) {
        o.warn(`DHCP: exchange handler failed: ${(err as Error).message}`);
      }
    };
    try {
      await exchange(p, facts, socket, iface, from, onProxyPort, finish);
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
    finish: (r: ExchangeResult) => void,
  ): Promise<void> {
    const ignore = (reason: DhcpIgnoreReason, detail?: string): void =>
      finish({ outcome: 'ignored', reason, ...(detail ? { detail } : {}) });
    const settleAs =
      (reply: DhcpPacket, outcome: DhcpOutcome, extra: Partial<ExchangeResult> = {}) =>
      (failure?: SendFailure, detail?: string): void =>
        failure ? ignore(failure, detail) : finish({ ...replied(reply, outcome), ...extra });
    const serverIp = ourAddress(iface);
    if (!serverIp) {
      // Said (rate-limited, as a warning) through the drop log, not once a packet.
      return ignore('no-server-address', `no IPv4 address known for interface ${iface ?? '(any)'}; set dhcp.server_ip`);
    }
    const type = p.options.messageType;

    if (o.mode === 'proxy') {
      // proxyDHCP answers boot clients only and never an address: the site's DHCP server does that.
      if (!isPxeClient(p) && !isHttpClient(p)) return ignore('not-boot-client');
      const decision = await o.decide(facts);
      const policy = decision.kind === 'ignore' ? decision.reason : undefined;
      if (onProxyPort) {
        if (type !== MessageType.Request && type !== MessageType.Inform) return ignore('not-for-proxy');
        const reply = buildProxyAck4011(p, decision, serverIp);
        if (!reply) return ignore('boot-policy', policy);
        const outcome = type === MessageType.Inform ? 'informed' : 'acked';
        return send({
          socket,
          request: p,
          reply,
          clientPort: from.port,
          sourceAddress: from.address,
          settle: settleAs(reply, outcome),
        });
      }
      if (type !== MessageType.Discover) return ignore('not-for-proxy');
      const reply = buildProxyOffer(p, decision, serverIp);
      if (!reply) return ignore('boot-policy', policy);
      return send({ socket, request: p, reply, settle: settleAs(reply, 'offered') });
    }

    const pool = o.pool;
    if (!pool) return ignore('no-pool');
    const t = now();
    const client = { mac: p.mac!, ...(p.options.clientIdentifier ? { clientId: p.options.clientIdentifier } : {}) };
    const subnetOf = (): Subnet | undefined => pool.subnetFor(p.giaddr !== ZERO ? p.giaddr : serverIp);
    // Relayed: "the server uses the 'giaddr' to pick the subnet" (RFC 2131 §4.3.1); a relay outside every subnet
    // needs dhcp.subnets[].relay_addresses.
    const noSubnet = (): void =>
      ignore('no-subnet', p.giaddr !== ZERO ? 'no subnet contains or lists this relay' : `none contains ${serverIp}`);
    switch (type) {
      case MessageType.Discover: {
        const subnet = subnetOf();
        if (!subnet) return noSubnet();
        const offered = pool.offer(
          subnet,
          { ...client, ...(p.options.requestedIpAddress ? { requestedIp: p.options.requestedIpAddress } : {}) },
          t,
        );
        if (!offered) return ignore('pool-exhausted', subnet.cidr);
        const decision = await o.decide(facts);
        const reply = buildOffer(p, offered.lease, offered.subnet.params, decision, serverIp);
        return commitThenSend(offered.changes, { socket, request: p, reply, settle: settleAs(reply, 'offered') });
      }
      case MessageType.Request: {
        const state = requestState(p);
        if (state === 'invalid') return ignore('invalid-request');
        // SELECTING for another server: that server won; our offer's hold simply lapses.
        if (state === 'selecting' && p.options.serverIdentifier !== serverIp) {
          return ignore('other-server', p.options.serverIdentifier);
        }
        let result: ReturnType<LeasePool['renew']>;
        if (state === 'renewing') {
          result = pool.renew(client, p.ciaddr, t);
        } else {
          const subnet = subnetOf();
          if (!subnet) return noSubnet();
          result = pool.request(subnet, client, p.options.requestedIpAddress ?? ZERO, state, t);
        }
        if (result.kind === 'silent') return ignore('no-record', result.reason);
        if (result.kind === 'nak') {
          const reply = buildNak(p, serverIp, result.message);
          return commitThenSend(result.changes, {
            socket,
            request: p,
            reply,
            nak: true,
            settle: settleAs(reply, 'nak', { reason: result.reason, detail: result.message }),
          });
        }
        const decision = await o.decide(facts);
        const reply = buildAck(p, result.lease, result.subnet.params, decision, serverIp);
        return commitThenSend(result.changes, {
          socket,
          request: p,
          reply,
          ...(state === 'renewing' ? { clientPort: from.port } : {}),
          settle: settleAs(reply, 'acked'),
        });
      }
      case MessageType.Release: {
        const changes = pool.release(client, p.ciaddr, t);
        if (!changes.length) return ignore('no-lease', p.ciaddr);
        commitThenSend(changes);
        return finish({ outcome: 'released' });
      }
      case MessageType.Decline: {
        const ip = p.options.requestedIpAddress;
        if (!ip) return ignore('invalid-request');
        const changes = pool.decline(client, ip, t);
        if (!changes.length) return ignore('no-lease', ip);
        commitThenSend(changes);
        return finish({ outcome: 'declined', detail: ip });
      }
      case MessageType.Inform: {
        const subnet = pool.subnetFor(p.giaddr !== ZERO ? p.giaddr : p.ciaddr);
        if (!subnet) return ignore('no-subnet');
        const decision = await o.decide(facts);
        const reply = buildInformAck(p, subnet.params, decision, serverIp);
        return send({ socket, request: p, reply, clientPort: from.port, settle: settleAs(reply, 'informed') });
      }
      default:
        return ignore('unsupported-message');
    }
  }

  const intake = new Intake({
    urgentMax: URGENT_MAX,
    discoverMax: DISCOVER_MAX,
    discoverMaxWaitMs: DISCOVER_MAX_WAIT_MS,
    batch: BATCH,
    budgetMs: BATCH_BUDGET_MS,
    handle: (d: Datagram) =>
      handle(d.msg, d.socket, d.iface, d.from, d.onProxyPort).catch((err: Error) => {
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

  const sweeper = setInterval(() => {
    if (o.pool) commitThenSend(o.pool.expire(now()));
  }, EXPIRY_SWEEP_MS);
  sweeper.unref();

  return {
    async close() {
      clearInterval(sweeper);
      intake.close();
      await flush();
      await flushing;
      for (const { socket } of [...sockets, ...proxySockets]) {
        await new Promise<void>((r) => socket.close(() => r()));
      }
    },
  };
}
