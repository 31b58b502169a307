/**
 * Proxy mode (beside another DHCP server): boot information for PXE and HTTP-boot clients, never an address. A
 * DISCOVER on port 67 gets a proxy OFFER; a REQUEST or INFORM on the PXE boot-server port 4011 gets an ACK.
 */
import { type HandlerContext, settleAs } from './context.ts';
import { isHttpClient, isPxeClient } from './facts.ts';
import { MessageType } from './option-types.ts';
import { buildProxyAck4011, buildProxyOffer } from './reply.ts';

/** One client packet in proxy mode. Calls `ctx.finish` exactly once, or hands it to the reply it sends. */
export async function answerProxy(ctx: HandlerContext, onProxyPort: boolean): Promise<void> {
  const { packet: p, socket, from, serverIp, ignore } = ctx;
  const type = p.options.messageType;
  // proxyDHCP answers boot clients only and never an address: the site's DHCP server does that.
  if (!isPxeClient(p) && !isHttpClient(p)) return ignore('not-boot-client');
  const decision = await ctx.decide(ctx.facts);
  const policy = decision.kind === 'ignore' ? decision.reason : undefined;
  if (onProxyPort) {
    if (type !== MessageType.Request && type !== MessageType.Inform) return ignore('not-for-proxy');
    const reply = buildProxyAck4011(p, decision, serverIp);
    if (!reply) return ignore('boot-policy', policy);
    const outcome = type === MessageType.Inform ? 'informed' : 'acked';
    return ctx.sender.send({
      socket,
      request: p,
      reply,
      clientPort: from.port,
      sourceAddress: from.address,
      settle: settleAs(ctx, reply, outcome),
    });
  }
  if (type !== MessageType.Discover) return ignore('not-for-proxy');
  const reply = buildProxyOffer(p, decision, serverIp);
  if (!reply) return ignore('boot-policy', policy);
  return ctx.sender.send({ socket, request: p, reply, settle: settleAs(ctx, reply, 'offered') });
}
