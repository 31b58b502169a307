/**
 * Load balancing between the DHCP servers sharing one store: which of the live servers answers a client. RFC 3074
 * ("DHC Load Balancing Algorithm") hashes the client into one of 256 hash buckets; each bucket belongs to one live
 * server, chosen by rendezvous (highest-random-weight) hashing of (server id, bucket), so when a server dies or joins
 * only its own buckets move. No messages between servers: each computes the same table from the registry's live set.
 * The database arbitrates every address (Store.claimLeases), so a moment where two servers both think a client is
 * theirs costs a duplicate OFFER, never a duplicate address. Pure: no sockets, no timers.
 */
import { createHash } from 'node:crypto';
import { MessageType } from './option-types.ts';
import type { DhcpPacket } from './packet.ts';
import { requestState } from './reply.ts';

/** RFC 3074 §6: 'A "mixing table" of 256 distinct values, in pseudo-random order.' */
const LOADB_MX_TBL = Uint8Array.from([
  251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152, 58, 17, 237, 174, 70,
  160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, 180, 48, 36, 15,
  107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108,
  244, 67, 207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94,
  25, 226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105, 39,
  114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82, 163, 44, 139, 228, 236, 205, 242, 217, 11,
  187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99,
  164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19,
  171, 72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136, 208, 162, 129, 190,
  132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151,
]);

export const BUCKETS = 256;

/**
 * RFC 3074 §6 `loadb_p_hash`, Pearson's hash: `hash = len; for (i = len; i > 0;) hash = loadb_mx_tbl[hash ^
 * key[--i]];` — "the hash bucket", 0..255.
 */
export function hashBucket(key: Uint8Array): number {
  let hash = key.length & 0xff;
  for (let i = key.length; i > 0; ) hash = LOADB_MX_TBL[hash ^ key[--i]!]!;
  return hash;
}

/** What RFC 3074 hashes: the client identifier (option 61) when the client sends one, else chaddr (hlen octets). */
export function clientBucket(p: DhcpPacket): number {
  const id = p.options.clientIdentifier;
  return hashBucket(id?.length ? id : p.chaddr.subarray(0, Math.min(p.hlen, 16)));
}

/** Rendezvous weight of a server for a bucket: 48 bits of SHA-256, the same on every server. */
function weight(server: string, bucket: number): number {
  return createHash('sha256').update(`${server}\0${bucket}`).digest().readUIntBE(0, 6);
}

/** Each bucket's owner among `servers` (ids): the server of highest weight; ties (never in practice) by id. */
export function bucketOwners(servers: readonly string[]): string[] {
  const ids = [...new Set(servers)].sort();
  if (!ids.length) throw new Error('no servers to balance between');
  return Array.from({ length: BUCKETS }, (_, b) => {
    let best = ids[0]!;
    let top = weight(best, b);
    for (const id of ids.slice(1)) {
      const w = weight(id, b);
      if (w > top) [best, top] = [id, w];
    }
    return best;
  });
}

/** What setServers changed: the servers that left (their buckets moved) and how many buckets are now ours. */
export interface BalanceChange {
  changed: boolean;
  gone: string[];
  joined: string[];
  mine: number;
}

export class LoadBalance {
  private servers: string[];
  private owned: boolean[];

  /**
   * `me`: this server's registry id. `secsThreshold`: a client whose `secs` (seconds since it began trying) reached
   * this is answered whoever owns its bucket — its owner is evidently not answering (Kea's load balancing reads the
   * same field to spot a partner that stopped).
   */
  constructor(
    private readonly me: string,
    private readonly secsThreshold: number,
  ) {
    this.servers = [me];
    this.owned = new Array<boolean>(BUCKETS).fill(true);
  }

  /** The live servers (the registry's); this one is always among them. */
  setServers(live: readonly string[]): BalanceChange {
    const next = [...new Set([this.me, ...live])].sort();
    const gone = this.servers.filter((id) => !next.includes(id));
    const joined = next.filter((id) => !this.servers.includes(id));
    if (gone.length || joined.length) {
      this.servers = next;
      const owners = bucketOwners(next);
      this.owned = owners.map((id) => id === this.me);
    }
    return { changed: gone.length + joined.length > 0, gone, joined, mine: this.owned.filter(Boolean).length };
  }

  get live(): readonly string[] {
    return this.servers;
  }

  /**
   * Should this server answer `p`? Balanced: DHCPDISCOVER, and the broadcast DHCPREQUEST of INIT-REBOOT. A SELECTING
   * REQUEST names its server (option 54) and a RENEWING one is unicast to the server that granted the lease: whoever
   * receives those answers, as does everyone for RELEASE, DECLINE and INFORM.
   */
  answers(p: DhcpPacket): boolean {
    const type = p.options.messageType;
    const balanced =
      type === MessageType.Discover || (type === MessageType.Request && requestState(p) === 'init-reboot');
    if (!balanced || p.secs >= this.secsThreshold) return true;
    return this.owned[clientBucket(p)] === true;
  }
}
