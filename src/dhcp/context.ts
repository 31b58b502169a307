/**
 * What a DHCP message handler (full.ts, proxy.ts) is given for one decoded client packet: where it came from, our
 * address there, the boot policy, the reply sender, and the two ways the exchange ends (finish, ignore).
 */
import type { Socket } from 'node:dgram';
import type { DhcpDecision } from '../boot/decide.ts';
import type { ClientFacts } from '../model/types.ts';
import { type DhcpIgnoreReason, type DhcpOutcome, type ExchangeResult, replied } from './exchange.ts';
import type { DhcpPacket } from './packet.ts';
import type { ReplySender, SendFailure } from './sender.ts';

export interface HandlerContext {
  packet: DhcpPacket;
  /** What the boot policy is told about the client. */
  facts: ClientFacts;
  socket: Socket;
  from: { address: string; port: number };
  /** Our address on the packet's interface (or dhcp.server_ip): server identifier and next-server. */
  serverIp: string;
  /** The boot policy (records the boot event and the decision metric). */
  decide(facts: ClientFacts): Promise<DhcpDecision>;
  sender: ReplySender;
  /** Ends the exchange; only the first call counts. */
  finish(r: ExchangeResult): void;
  ignore(reason: DhcpIgnoreReason, detail?: string): void;
}

/** The settle of an Outgoing: the exchange ends as `outcome` once the reply left, or ignored with why it did not. */
export const settleAs =
  (ctx: HandlerContext, reply: DhcpPacket, outcome: DhcpOutcome, extra: Partial<ExchangeResult> = {}) =>
  (failure?: SendFailure, detail?: string, handedAt?: number): void =>
    failure
      ? ctx.ignore(failure, detail)
      : ctx.finish({ ...replied(reply, outcome), ...extra, ...(handedAt === undefined ? {} : { handedAt }) });
