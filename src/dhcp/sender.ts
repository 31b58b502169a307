/**
 * How DHCP replies leave: encoded, addressed (replyDestination, reply.ts) and sent out of the socket the request came
 * in on, within a bound on that socket's send queue; and the group commit that holds ACKs back until their leases are
 * durable.
 *
 * Leases are durable before they are acknowledged: ACKs wait for the commit of their lease, and all leases decided
 * in the same turn of the event loop are committed together (group commit, group-commit.ts: one fsync for a burst,
 * not one a client).
 * The commit is a claim the store arbitrates (Store.claimLeases): a reply whose address another server's client holds
 * is not sent — the pool learns the holder and the handler picks again, or the client retransmits.
 */
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { encodePacket } from './encode.ts';
import { GroupCommit } from './group-commit.ts';
import type { DhcpPacket } from './packet.ts';
import type { Lease } from './pool.ts';
import { clientIdHex, sameClient } from './pool-state.ts';
import { replyDestination, replyEncodeOptions } from './reply.ts';

export type SendFailure = 'encode-failed' | 'send-failed' | 'send-queue-full' | 'commit-failed' | 'lease-conflict';

export interface Outgoing {
  socket: Socket;
  request: DhcpPacket;
  reply: DhcpPacket;
  nak?: boolean;
  clientPort?: number;
  sourceAddress?: string;
  /** Reports the exchange: once the reply left (`handedAt`: performance.now() when it was given to the socket), or
   * with why it did not. */
  settle(failure?: SendFailure, detail?: string, handedAt?: number): void;
  /** The store refused the reply's address (another client holds it; the pool knows now): pick again, instead of
   * settling as `lease-conflict`. */
  retry?(): void;
}

export interface SenderOptions {
  /** Makes lease changes durable; resolves only when they are, with the changes the store refused, as it holds them
   * (another server's client has the address). */
  commitLeases(changes: Lease[]): Promise<Lease[]>;
  /** Offers are claimed too before they leave (several servers answer from the store: an offer is a promise to a
   * client the others must see). Else an offer is a promise to nobody, never written. Asked per offer: the answer
   * changes as servers join and leave. */
  storeOffers(): boolean;
  /** The store's rows for refused changes: the pool takes them as the truth. */
  learn(holders: Lease[]): void;
  /** Once per reply the kernel took. */
  onReplied(): void;
  warn(message: string): void;
}

/** Replies waiting in one socket's send queue at most. When the kernel takes no more (its send buffer full, e.g. of
 * unicasts waiting 3 s for ARP answers that never come), Node queues every further send, each holding its request
 * and reply: bench/rss's fuzz left ~20,000 there, the real clients' broadcasts among them. Past this the reply is
 * dropped (reason send-queue-full) and the client retransmits. */
const SEND_QUEUE_MAX = 256;

export class ReplySender {
  // Group commit: ACKs wait there until their leases are durable (claimed, with several servers).
  private readonly group: GroupCommit<Lease, Outgoing, Lease[]>;

  constructor(private readonly o: SenderOptions) {
    this.group = new GroupCommit({
      // Offers, unless shared, are promises to nobody: only states that matter after a crash are written.
      commit: async (changes) => {
        const durable = o.storeOffers() ? changes : changes.filter((l) => l.state !== 'offered');
        return durable.length ? o.commitLeases(durable) : [];
      },
      release: (sends, refused) => this.release(sends, refused),
      fail: (sends, err) => {
        // Not durable, so not acknowledged: the clients will retry.
        for (const s of sends) s.settle('commit-failed');
        o.warn(`DHCP: lease commit failed, ${sends.length} replies withheld: ${err.message}`);
      },
    });
  }

  send(out: Outgoing): void {
    const encoded = encodePacket(out.reply, replyEncodeOptions(out.request));
    if (!encoded.ok) {
      this.o.warn(`DHCP: could not encode a reply for ${out.request.mac}: ${encoded.error.message}`);
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
        this.o.onReplied();
        out.settle(undefined, undefined, handedAt);
      }
    };
    // The decision ends here; the send itself is the kernel's path to the client (through a bridge, it also runs the
    // receiver's side), timed apart from it.
    const handedAt = performance.now();
    try {
      out.socket.send(encoded.buffer, dest.port, address, sent);
    } catch (err) {
      // A socket closed under a late group commit throws instead of calling back.
      sent(err as Error);
    }
  }

  /** Commits `changes`, then sends `out` (if any) once they are durable. */
  commitThenSend(changes: Lease[], out?: Outgoing): void {
    // Offers are promises to nobody and are never written (see the commit above): an OFFER or a NAK with nothing
    // durable to wait for leaves now instead of queueing behind other clients' commits.
    if (out && (this.o.storeOffers() ? !changes.length : changes.every((l) => l.state === 'offered'))) {
      this.send(out);
      return;
    }
    this.group.add(changes, out);
  }

  /** Commits and sends whatever is pending, and waits for a commit under way. */
  close(): Promise<void> {
    return this.group.close();
  }

  /** The commit is durable: replies go, except those whose address the store gave another server's client. */
  private release(sends: Outgoing[], refused: Lease[]): void {
    if (refused.length) this.o.learn(refused);
    const holders = new Map(refused.map((l) => [l.ip, l]));
    for (const s of sends) {
      const holder = holders.get(s.reply.yiaddr);
      if (!holder || ownHolding(holder, s.request)) this.send(s);
      else if (s.retry) s.retry();
      else s.settle('lease-conflict', `${s.reply.yiaddr} is held by ${holder.mac} (server ${holder.server ?? '?'})`);
    }
  }
}

/** The refused address's row is the requesting client's own (an offer over its own binding): the reply may go. */
function ownHolding(holder: Lease, request: DhcpPacket): boolean {
  if (holder.state === 'declined' || !request.mac) return false;
  const clientId = clientIdHex(request.options.clientIdentifier);
  return sameClient(holder, { mac: request.mac, ...(clientId === undefined ? {} : { clientId }) });
}
