/**
 * The DHCP server loop: sockets in, decoded packets to the boot policy and the lease pool, replies out of the
 * interface they came in on. Full mode hands out addresses; proxy mode (beside another DHCP server) only answers PXE
 * and HTTP-boot clients with boot information, on port 67 and on the PXE boot-server port 4011.
 *
 * Leases are durable before they are acknowledged: ACKs wait for the commit of their lease, and all leases decided
 * in the same turn of the event loop are committed together (group commit: one fsync for a burst, not one a client).
 */
import type { Socket } from 'node:dgram';
import type { DhcpDecision } from '../boot/decide.ts';
import type { ClientFacts } from '../boot/facts.ts';
import { factsFromPacket, isHttpClient, isPxeClient } from './facts.ts';
import { MessageType } from './options.ts';
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
  onPacket?(kind: 'received' | 'malformed' | 'replied' | 'dropped', detail?: string): void;
  warn(message: string): void;
  debug?(message: string): void;
  now?: () => number;
}

export interface DhcpServer {
  close(): Promise<void>;
}

interface Outgoing {
  socket: Socket;
  request: DhcpPacket;
  reply: DhcpPacket;
  nak?: boolean;
  clientPort?: number;
  sourceAddress?: string;
}

const ZERO = '0.0.0.0';
const EXPIRY_SWEEP_MS = 30_000;

export async function startDhcpServer(o: DhcpServerOptions): Promise<DhcpServer> {
  const now = o.now ?? Date.now;
  const count = (kind: 'received' | 'malformed' | 'replied' | 'dropped', detail?: string) => o.onPacket?.(kind, detail);
  const sockets = await openDhcpSockets(o.interfaces, o.port, o.warn);
  const proxySockets = o.mode === 'proxy' ? await openDhcpSockets(o.interfaces, o.proxyPort, o.warn) : [];

  const ourAddress = (iface: string | undefined): string | undefined =>
    o.serverIp ?? (iface ? interfaceAddress(iface) : undefined);

  function send(out: Outgoing): void {
    const encoded = encodePacket(out.reply, replyEncodeOptions(out.request));
    if (!encoded.ok) {
      count('dropped', `encode ${encoded.error.code}`);
      o.warn(`DHCP: could not encode a reply for ${out.request.mac}: ${encoded.error.message}`);
      return;
    }
    const dest = replyDestination(out.request, out.reply, {
      nak: out.nak ?? false,
      ...(out.clientPort ? { clientPort: out.clientPort } : {}),
    });
    // Node cannot write the ARP entry a unicast to a client without an address needs: broadcast instead, which
    // RFC 2131 allows ("the server broadcasts ... if the client cannot receive unicast" is the broadcast-bit case).
    const address = dest.unicastToChaddr ? '255.255.255.255' : (out.sourceAddress ?? dest.address);
    out.socket.send(encoded.buffer, dest.port, address, (err) => {
      if (err) o.warn(`DHCP: send to ${address}:${dest.port} failed: ${err.message}`);
      else count('replied');
    });
  }

  // Group commit: ACKs wait here until their leases are durable.
  let pendingChanges: Lease[] = [];
  let pendingSends: Outgoing[] = [];
  let flushing: Promise<void> | undefined;
  let flushQueued = false;
  function commitThenSend(changes: Lease[], out?: Outgoing): void {
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
        for (const s of sends) send(s);
      } catch (err) {
        // Not durable, so not acknowledged: the clients will retry.
        for (const _ of sends) count('dropped', 'lease commit failed');
        o.warn(`DHCP: lease commit failed, ${sends.length} replies withheld: ${(err as Error).message}`);
      }
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
      o.debug?.(`DHCP: malformed packet from ${from.address}: ${decoded.error.code}`);
      return;
    }
    const p = decoded.packet;
    if (p.op !== BOOTREQUEST || !p.mac) return;
    count('received');
    const serverIp = ourAddress(iface);
    if (!serverIp) {
      count('dropped', 'no server address');
      o.warn(`DHCP: no IPv4 address known for interface ${iface ?? '(any)'}; set dhcp.server_ip`);
      return;
    }
    const type = p.options.messageType;
    const facts = factsFromPacket(p, iface);

    if (o.mode === 'proxy') {
      // proxyDHCP answers boot clients only and never an address: the site's DHCP server does that.
      if (!isPxeClient(p) && !isHttpClient(p)) return;
      const decision = await o.decide(facts);
      if (onProxyPort) {
        if (type !== MessageType.Request && type !== MessageType.Inform) return;
        const reply = buildProxyAck4011(p, decision, serverIp);
        if (reply) send({ socket, request: p, reply, clientPort: from.port, sourceAddress: from.address });
        return;
      }
      if (type !== MessageType.Discover) return;
      const reply = buildProxyOffer(p, decision, serverIp);
      if (reply) send({ socket, request: p, reply });
      return;
    }

    const pool = o.pool;
    if (!pool) return;
    const t = now();
    const client = { mac: p.mac, ...(p.options.clientIdentifier ? { clientId: p.options.clientIdentifier } : {}) };
    const subnetOf = (): Subnet | undefined => pool.subnetFor(p.giaddr !== ZERO ? p.giaddr : serverIp);
    switch (type) {
      case MessageType.Discover: {
        const subnet = subnetOf();
        if (!subnet) return count('dropped', 'no subnet');
        const offered = pool.offer(
          subnet,
          { ...client, ...(p.options.requestedIpAddress ? { requestedIp: p.options.requestedIpAddress } : {}) },
          t,
        );
        if (!offered) {
          count('dropped', 'pool exhausted');
          o.warn(`DHCP: no free address in ${subnet.cidr} for ${p.mac}`);
          return;
        }
        const decision = await o.decide(facts);
        commitThenSend(offered.changes, {
          socket,
          request: p,
          reply: buildOffer(p, offered.lease, offered.subnet.params, decision, serverIp),
        });
        return;
      }
      case MessageType.Request: {
        const state = requestState(p);
        if (state === 'invalid') return count('dropped', 'invalid request');
        // SELECTING for another server: that server won; our offer's hold simply lapses.
        if (state === 'selecting' && p.options.serverIdentifier !== serverIp) return;
        let result: ReturnType<LeasePool['renew']>;
        if (state === 'renewing') {
          result = pool.renew(client, p.ciaddr, t);
        } else {
          const subnet = subnetOf();
          if (!subnet) return count('dropped', 'no subnet');
          result = pool.request(subnet, client, p.options.requestedIpAddress ?? ZERO, state, t);
        }
        if (result.kind === 'silent') return;
        if (result.kind === 'nak') {
          commitThenSend(result.changes, {
            socket,
            request: p,
            reply: buildNak(p, serverIp, result.message),
            nak: true,
          });
          return;
        }
        const decision = await o.decide(facts);
        const reply = buildAck(p, result.lease, result.subnet.params, decision, serverIp);
        commitThenSend(result.changes, {
          socket,
          request: p,
          reply,
          ...(state === 'renewing' ? { clientPort: from.port } : {}),
        });
        return;
      }
      case MessageType.Release:
        commitThenSend(pool.release(client, p.ciaddr, t));
        return;
      case MessageType.Decline:
        if (p.options.requestedIpAddress) commitThenSend(pool.decline(client, p.options.requestedIpAddress, t));
        return;
      case MessageType.Inform: {
        const subnet = pool.subnetFor(p.giaddr !== ZERO ? p.giaddr : p.ciaddr);
        if (!subnet) return;
        const decision = await o.decide(facts);
        send({
          socket,
          request: p,
          reply: buildInformAck(p, subnet.params, decision, serverIp),
          clientPort: from.port,
        });
        return;
      }
      default:
        return;
    }
  }

  const listen = (list: DhcpSocket[], onProxyPort: boolean) => {
    for (const { socket, iface } of list) {
      socket.on('message', (msg, rinfo) => {
        handle(msg, socket, iface, rinfo, onProxyPort).catch((err: Error) => {
          count('dropped', 'handler error');
          o.warn(`DHCP: request from ${rinfo.address} failed: ${err.message}`);
        });
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
      await flush();
      await flushing;
      for (const { socket } of [...sockets, ...proxySockets]) {
        await new Promise<void>((r) => socket.close(() => r()));
      }
    },
  };
}
