/**
 * Full mode: the server hands out addresses from the lease pool. DISCOVER gets an OFFER, REQUEST an ACK or a NAK
 * (or silence), RELEASE and DECLINE change the pool, INFORM gets an ACK with options and no address. Whatever
 * changes a lease goes through the group commit (sender.ts), so an ACK leaves only once its lease is durable.
 */
import { type HandlerContext, settleAs } from './context.ts';
import { MessageType } from './option-types.ts';
import type { LeasePool, Subnet } from './pool.ts';
import { buildAck, buildInformAck, buildNak, buildOffer, requestState } from './reply.ts';

const ZERO = '0.0.0.0';
/** Several servers on one store: how many more addresses a DISCOVER is offered when the store refuses one (another
 * server's client has it), before the client's retransmission is left to try again. */
const OFFER_RETRIES = 2;

/** One client packet in full mode, at time `t`. Calls `ctx.finish` exactly once, or hands it to the reply it queues. */
export async function answerFull(ctx: HandlerContext, pool: LeasePool, t: number): Promise<void> {
  const { packet: p, socket, from, serverIp, sender, ignore } = ctx;
  const type = p.options.messageType;
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
      const asked = {
        ...client,
        ...(p.options.requestedIpAddress ? { requestedIp: p.options.requestedIpAddress } : {}),
      };
      const first = pool.offer(subnet, asked, t);
      if (!first) return ignore('pool-exhausted', subnet.cidr);
      const decision = await ctx.decide(ctx.facts);
      const send = (offered: NonNullable<typeof first>, retries: number): void => {
        const reply = buildOffer(p, offered.lease, offered.subnet.params, decision, serverIp);
        // Refused: the pool learned the holder, so the next pick is another address.
        const again = (): void => {
          const next = pool.offer(subnet, asked, t);
          if (next) send(next, retries - 1);
          else ignore('pool-exhausted', subnet.cidr);
        };
        sender.commitThenSend(offered.changes, {
          socket,
          request: p,
          reply,
          settle: settleAs(ctx, reply, 'offered'),
          ...(retries > 0 ? { retry: again } : {}),
        });
      };
      return send(first, OFFER_RETRIES);
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
        return sender.commitThenSend(result.changes, {
          socket,
          request: p,
          reply,
          nak: true,
          settle: settleAs(ctx, reply, 'nak', { reason: result.reason, detail: result.message }),
        });
      }
      const decision = await ctx.decide(ctx.facts);
      const reply = buildAck(p, result.lease, result.subnet.params, decision, serverIp);
      return sender.commitThenSend(result.changes, {
        socket,
        request: p,
        reply,
        ...(state === 'renewing' ? { clientPort: from.port } : {}),
        settle: settleAs(ctx, reply, 'acked'),
      });
    }
    case MessageType.Release: {
      const changes = pool.release(client, p.ciaddr, t);
      if (!changes.length) return ignore('no-lease', p.ciaddr);
      sender.commitThenSend(changes);
      return ctx.finish({ outcome: 'released' });
    }
    case MessageType.Decline: {
      const ip = p.options.requestedIpAddress;
      if (!ip) return ignore('invalid-request');
      const changes = pool.decline(client, ip, t);
      if (!changes.length) return ignore('no-lease', ip);
      sender.commitThenSend(changes);
      return ctx.finish({ outcome: 'declined', detail: ip });
    }
    case MessageType.Inform: {
      const subnet = pool.subnetFor(p.giaddr !== ZERO ? p.giaddr : p.ciaddr);
      if (!subnet) return ignore('no-subnet');
      const decision = await ctx.decide(ctx.facts);
      const reply = buildInformAck(p, subnet.params, decision, serverIp);
      return sender.send({
        socket,
        request: p,
        reply,
        clientPort: from.port,
        settle: settleAs(ctx, reply, 'informed'),
      });
    }
    default:
      return ignore('unsupported-message');
  }
}
